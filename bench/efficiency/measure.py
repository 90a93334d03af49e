"""``bench efficiency``: cost of a method per query image, measured here.

For each method, in a fresh child process (so peak memory is its own): the
parameter count and weight-file size from its metadata, MACs and the
compute-in-memory estimate from its weight layers (``compute_layers``), and
latency through the method's own image API on a fixed sample of OOD images:
batch 1 (median of single-image calls after warm-up) and batched (median of
repeated calls on the whole sample, per image), with the thread count and CPU
recorded. Written atomically to ``results/<method>/efficiency.json`` (``bench.store.efficiency``).
"""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import time

from bench.api.layers import total_macs
from bench.api.registry import METHODS
from bench.core.passes import timing_only
from bench.core.provenance import cpu_model, environment, provenance
from bench.core.threads import onnx_threads
from bench.data.schema import LANGUAGES
from bench.data.store import load_dataset
from bench.efficiency.cim import PRESETS, estimate
from bench.engine.families import ops_for
from bench.store.efficiency import EFFICIENCY_SCHEMA_VERSION
from bench.store.records import Status

N_IMAGES, N_SINGLE, WARMUP, REPEATS = 48, 16, 2, 3


def sample_keys(dataset, n: int = N_IMAGES) -> list[str]:
    """Every k-th OOD image of each language: fixed, spread over styles."""
    keys = []
    for lang in LANGUAGES:
        pool = sorted(s.key for s in dataset.select(split="test_ood", lang=lang))
        take = n // len(LANGUAGES)
        step = max(1, len(pool) // max(take, 1))
        keys += pool[::step][:take]
    return keys


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(name: str, options: dict, dataset_path: str) -> dict:
    """Everything ``efficiency.json`` holds for one method (runs in the calling process)."""
    dataset = load_dataset(dataset_path)
    method = METHODS.create(name, options)
    method.fetch_weights()
    available = method.availability()
    info = method.info
    record: dict = {"schema_version": EFFICIENCY_SCHEMA_VERSION, "method": method.record(), "params": info.params,
                    "model_bytes": info.model_bytes, "environment": environment(), "provenance": provenance(),
                    "threads": onnx_threads(),
                    "cpu": cpu_model()}
    if not available.ok:
        return {**record, "status": Status.UNAVAILABLE.value, "error": {"reason": available.reason, "fix": available.fix}}
    layers = method.compute_layers()
    if layers:
        record["macs_per_image"] = total_macs(layers)
        record["weight_layers"] = sum(layer.has_weights for layer in layers)
        record["cim"] = {p: estimate(layers, p).to_json() for p in PRESETS}
    else:
        record["macs_per_image"] = None
        record["macs_note"] = "no layer description for this method (e.g. a native binary)"
    items = dataset.image_items(sample_keys(dataset))
    call = ops_for(method).exercise
    with timing_only():
        for it in items[:WARMUP]:
            call(method, dataset, [it])
        single = [_timed(lambda it=it: call(method, dataset, [it])) for it in items[:N_SINGLE]]
        batched = [_timed(lambda: call(method, dataset, items)) for _ in range(REPEATS)]
    record["latency_ms"] = {"batch1": round(1000 * statistics.median(single), 3),
                            f"batch{len(items)}": round(1000 * statistics.median(batched) / len(items), 3)}
    record["latency_images"] = {"batch1": len(single), "batched": len(items), "repeats": REPEATS}
    record["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return {**record, "status": Status.OK.value}


def _child(queue, name, options, dataset_path) -> None:
    try:
        queue.put((Status.OK.value, measure(name, options, dataset_path)))
    except Exception as exc:  # reported by the parent as this method's failure
        queue.put((Status.FAILED.value, f"{type(exc).__name__}: {exc}"))


def measure_isolated(name: str, options: dict, dataset_path: str, timeout: float = 1800) -> dict:
    """``measure`` in a fresh process; a crash or hang there is this method's failure only."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, name, options, dataset_path))
    proc.start()
    try:
        status, payload = queue.get(timeout=timeout)
    except Exception:
        proc.kill()
        return {"schema_version": EFFICIENCY_SCHEMA_VERSION, "status": Status.FAILED.value,
                "error": {"message": f"no answer within {timeout:.0f} s (exit code {proc.exitcode})"}}
    finally:
        proc.join(timeout=10)
    if status != Status.OK:
        return {"schema_version": EFFICIENCY_SCHEMA_VERSION, "status": Status.FAILED.value, "error": {"message": payload}}
    return payload
