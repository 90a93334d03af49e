"""``bench efficiency``: cost of a method per query image, measured here.

For each method, in a fresh child process (so peak memory is its own): the
parameter count and weight-file size from its metadata, MACs and the
compute-in-memory estimate from its weight layers (``compute_layers``), and
latency through the method's own image API on a fixed sample of OOD images:
batch 1 (median of single-image calls after warm-up) and batched (median of
repeated calls on the whole sample, per image), with the thread count and CPU
recorded. Written atomically to ``results/<method>/efficiency.json``.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import statistics
import time
from pathlib import Path

from bench.data.store import load_dataset
from bench.efficiency.cim import PRESETS, estimate
from methodkit.layers import total_macs
from bench.engine.families import ops_for
from bench.core.io import write_json_atomic
from bench.core.provenance import cpu_model, environment, provenance
from bench.api.registry import METHODS
from bench.store.results import EFFICIENCY_FILE, method_dir_name
from bench.data.schema import LANGUAGES
from methodkit.wheel_model import onnx_threads

EFFICIENCY_SCHEMA_VERSION = 1
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
        return {**record, "status": "unavailable", "error": {"reason": available.reason, "fix": available.fix}}
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
    for it in items[:WARMUP]:
        call(method, dataset, [it])
    single = [_timed(lambda it=it: call(method, dataset, [it])) for it in items[:N_SINGLE]]
    batched = [_timed(lambda: call(method, dataset, items)) for _ in range(REPEATS)]
    record["latency_ms"] = {"batch1": round(1000 * statistics.median(single), 3),
                            f"batch{len(items)}": round(1000 * statistics.median(batched) / len(items), 3)}
    record["latency_images"] = {"batch1": len(single), "batched": len(items), "repeats": REPEATS}
    record["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return {**record, "status": "ok"}


def _child(queue, name, options, dataset_path) -> None:
    try:
        queue.put(("ok", measure(name, options, dataset_path)))
    except Exception as exc:  # reported by the parent as this method's failure
        queue.put(("failed", f"{type(exc).__name__}: {exc}"))


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
        return {"schema_version": EFFICIENCY_SCHEMA_VERSION, "status": "failed",
                "error": {"message": f"no answer within {timeout:.0f} s (exit code {proc.exitcode})"}}
    finally:
        proc.join(timeout=10)
    if status != "ok":
        return {"schema_version": EFFICIENCY_SCHEMA_VERSION, "status": "failed", "error": {"message": payload}}
    return payload


def upgrade_efficiency(record: dict) -> dict:
    """Files written before the field was named like the result files' say ``schema``."""
    if "schema_version" not in record and "schema" in record:
        record = {("schema_version" if k == "schema" else k): v for k, v in record.items()}
    return record


def load_efficiency(results_dir: Path) -> dict[str, dict]:
    """The measured (status ok) efficiency records under ``results_dir``, by method name."""
    out = {}
    for path in sorted(Path(results_dir).glob(f"*/{EFFICIENCY_FILE}")):
        try:
            record = upgrade_efficiency(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue   # a damaged file only loses its row
        if record.get("status") == "ok" and record.get("schema_version") == EFFICIENCY_SCHEMA_VERSION:
            out[record["method"]["name"]] = record
    return out


def quantised_pairs(by_name: dict[str, dict]) -> list[tuple[str, str]]:
    """(quantised method, its fp32 original) for every measured method that names a measured original."""
    return [(n, r["method"]["config"]["quantized_from"]) for n, r in sorted(by_name.items())
            if (r["method"].get("config") or {}).get("quantized_from") in by_name]


def efficiency_path(results_dir: Path, method: str) -> Path:
    return Path(results_dir) / method_dir_name(method) / EFFICIENCY_FILE


def write_efficiency(results_dir: Path, method: str, record: dict) -> Path:
    path = efficiency_path(results_dir, method)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)
    return path
