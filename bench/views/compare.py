"""Paired comparison of two methods from their stored per-query rankings (clustered by semantic id)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.core.errors import HwrBenchError
from bench.evaluation.metrics import PairedTest, paired_bootstrap
from bench.evaluation.summary import DEFAULT_BOOTSTRAP, query_clusters, query_values
from bench.store.results import read_rankings, read_result, result_path


def per_query(results_dir: Path, method: str, protocol: str, metric: str) -> dict[tuple[str, str], tuple[float, int]]:
    """(subtask, query key) -> (the metric's per-query value, the query's semantic id)."""
    path = result_path(results_dir, method, protocol)
    if not path.exists():
        raise HwrBenchError(f"{path}: no result for {method!r} on {protocol!r} (run `bench run` first)")
    result = read_result(path)
    if not result.ok or not result.rankings_file:
        raise HwrBenchError(f"{path}: status {result.status!r} has no per-query rankings")
    out = {}
    for name, st in read_rankings(path, validate=True).items():
        values = query_values(st)
        if metric not in values:
            raise HwrBenchError(f"{path}: metric {metric!r} not available (have {', '.join(sorted(values))})")
        out.update({(name, k): (float(v), int(c))
                    for k, v, c in zip(st["query_keys"], values[metric], query_clusters(st))})
    return out


def compare_methods(results_dir: Path, a: str, b: str, protocol: str, metric: str,
                    n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> tuple[PairedTest, int]:
    va, vb = per_query(results_dir, a, protocol, metric), per_query(results_dir, b, protocol, metric)
    common = sorted(set(va) & set(vb))
    if not common:
        raise HwrBenchError(f"{a!r} and {b!r} share no queries on {protocol!r}")
    test = paired_bootstrap(np.array([va[q][0] for q in common]), np.array([vb[q][0] for q in common]),
                            np.array([va[q][1] for q in common]), n_boot=n_boot, seed=seed)
    return test, len(common)
