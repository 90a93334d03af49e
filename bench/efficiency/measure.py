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

import multiprocessing
import os
import statistics
import time
from pathlib import Path

EFFICIENCY_SCHEMA = 1
N_IMAGES, N_SINGLE, WARMUP, REPEATS = 48, 16, 2, 3


def sample_keys(dataset, n: int = N_IMAGES) -> list[str]:
    """Every k-th OOD image of each language: fixed, spread over styles."""
    from bench.schema import LANGUAGES

    keys = []
    for lang in LANGUAGES:
        pool = sorted(s.key for s in dataset.select(split="test_ood", lang=lang))
        take = n // len(LANGUAGES)
        step = max(1, len(pool) // max(take, 1))
        keys += pool[::step][:take]
    return keys


def _call(method, dataset, items) -> None:
    """One pass of the method's image API over ``items`` (grouped by script where it needs one)."""
    from bench.retriever import EmbeddingRetriever, ScoringRetriever

    if isinstance(method, EmbeddingRetriever):
        method.embed_image_items(items)
        return
    by_lang: dict[str, list] = {}
    for it in items:
        by_lang.setdefault(it.lang, []).append(it)
    for lang, group in by_lang.items():
        if isinstance(method, ScoringRetriever):
            method.score_text_items(group, lang, {lang: [e.text for e in dataset.lexicon_for(lang)]})
        else:
            method.transcribe_items(group, lang)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(name: str, options: dict, dataset_path: str) -> dict:
    """Everything ``efficiency.json`` holds for one method (runs in the calling process)."""
    import resource

    from bench.data.store import load_dataset
    from bench.efficiency.cim import PRESETS, estimate
    from bench.efficiency.layers import total_macs
    from bench.provenance import cpu_model, environment
    from bench.registry import create

    dataset = load_dataset(dataset_path)
    method = create(name, options)
    available = method.availability()
    info = method.info
    record: dict = {"schema": EFFICIENCY_SCHEMA, "method": info.to_json(), "params": info.params,
                    "model_bytes": info.model_bytes, "environment": environment(),
                    "threads": int(os.environ.get("HWR_BENCH_THREADS", os.cpu_count() or 1)),
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
    for it in items[:WARMUP]:
        _call(method, dataset, [it])
    single = [_timed(lambda it=it: _call(method, dataset, [it])) for it in items[:N_SINGLE]]
    batched = [_timed(lambda: _call(method, dataset, items)) for _ in range(REPEATS)]
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
        return {"schema": EFFICIENCY_SCHEMA, "status": "failed",
                "error": {"message": f"no answer within {timeout:.0f} s (exit code {proc.exitcode})"}}
    finally:
        proc.join(timeout=10)
    if status != "ok":
        return {"schema": EFFICIENCY_SCHEMA, "status": "failed", "error": {"message": payload}}
    return payload


def load_efficiency(results_dir: Path) -> dict[str, dict]:
    """The measured (status ok) efficiency records under ``results_dir``, by method name."""
    import json

    out = {}
    for path in sorted(Path(results_dir).glob("*/efficiency.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue   # a damaged file only loses its row
        if record.get("status") == "ok":
            out[record["method"]["name"]] = record
    return out


def efficiency_path(results_dir: Path, method: str) -> Path:
    from bench.results import method_dir_name

    return Path(results_dir) / method_dir_name(method) / "efficiency.json"


def write_efficiency(results_dir: Path, method: str, record: dict) -> Path:
    from bench.io import write_json_atomic

    path = efficiency_path(results_dir, method)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)
    return path
