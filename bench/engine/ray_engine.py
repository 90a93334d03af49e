"""``bench run --engine ray``: method x shard jobs on a Ray cluster (extra ``[ray]``).

Each job is an ordinary sharded run (``bench.store.shard``) of one method into its own folder under
``RESULTS/.shards/``; the driver then merges the shards into ``RESULTS`` exactly as ``bench
merge`` does, so the results equal a serial run's. Workers read the dataset and write results
by path: on a multi-node cluster the dataset, results and cache folders must be on a shared
filesystem. ``address=None`` starts a local Ray instance.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from bench.core.errors import HwrBenchError
from bench.data.store import load_dataset
from bench.engine.runner import RunConfig, run
from bench.store.shard import merge


def _job(dataset_root: str, config_fields: dict) -> list[dict]:
    config = RunConfig(**config_fields)
    return [dataclasses.asdict(o) | {"path": str(o.path) if o.path else None}
            for o in run(load_dataset(dataset_root), config)]


def run_on_ray(dataset, config, *, shards: int = 2, address: str | None = None, num_cpus: int | None = None,
               report=lambda line: None) -> list[str]:
    """Run ``config`` as len(methods) x ``shards`` Ray tasks; returns the merged (method/protocol)s."""
    try:
        import ray
    except ImportError:
        raise HwrBenchError("--engine ray needs Ray: pip install -e '.[ray]'") from None

    shard_root = Path(config.results_dir) / ".shards"
    shutil.rmtree(shard_root, ignore_errors=True)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(_job)
        jobs = {}
        for m, method in enumerate(config.methods):
            for i in range(shards):
                # One folder per job: jobs never contend for a results-folder lock.
                fields = dataclasses.asdict(config) | {
                    "methods": [method], "shard": (i, shards),
                    "results_dir": shard_root / f"method-{m}-shard-{i}-of-{shards}"}
                jobs[(method, i)] = remote.remote(str(dataset.root), fields)
        for (method, i), ref in jobs.items():
            for o in ray.get(ref):
                report(f"{o['status']:>14} {o['method']:<24} {o['protocol']:<6} shard {i}/{shards} {o['message']}")
    finally:
        if started_here:
            ray.shutdown()
    merged = merge(sorted(p for p in shard_root.iterdir() if p.is_dir()), Path(config.results_dir))
    shutil.rmtree(shard_root, ignore_errors=True)
    return merged
