"""Runs every method on every protocol and writes one result file per pair.

A method that is unavailable is reported and skipped; a method that crashes
is recorded as failed and the others go on; a result whose run key (method
config, protocol version, dataset fingerprint, limit, seed) matches the stored
one is not recomputed. Results are written atomically, so an interrupted run
leaves only whole files and resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from bench import RESULT_SCHEMA_VERSION
from bench.data.store import Dataset
from bench.errors import HwrBenchError
from bench.evaluate import MethodOutputs, rank_task, summarise, topology
from bench.progress import NULL_TRACKER, Tracker
from bench.protocols import RetrievalTask, get_protocol
from bench.provenance import environment, provenance
from bench.registry import create
from bench.results import (STATUS_FAILED, STATUS_NOT_APPLICABLE, STATUS_OK, STATUS_UNAVAILABLE,
                           ResultFileError, read_result, result_path, run_key, write_result)
from bench.retriever import Family, MethodInfo, RunContext
from bench.text import TEXT_POLICY

OVERWRITE_MODES = ("never", "only-stale", "always")


@dataclass
class RunConfig:
    methods: Sequence[str]
    protocols: Sequence[str]
    results_dir: Path
    cache_dir: Path | None
    limit: int | None = None
    seed: int = 0
    overwrite: str = "only-stale"
    n_boot: int = 1000
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    method_timeout: float | None = None   # seconds per method and protocol (main thread only)
    shard: tuple[int, int] | None = None  # (i, n): this run's slice of the queries (bench.shard)
    lock_wait: float = 0.0                # seconds to wait for another run's lock on results_dir


@dataclass(frozen=True)
class Outcome:
    method: str
    protocol: str
    status: str          # ok, failed, unavailable, not_applicable, skipped
    message: str = ""
    path: Path | None = None


class MethodTimeout(Exception):
    """A method ran past --method-timeout (recorded as that method's failure)."""


@contextmanager
def _deadline(seconds: float | None):
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise MethodTimeout(f"exceeded the per-method timeout of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(dataset: Dataset, config: RunConfig, *, tracker: Tracker = NULL_TRACKER,
        report: Callable[[Outcome], None] = lambda o: None) -> list[Outcome]:
    """Run every method on every protocol, holding the results folder's lock throughout."""
    from bench.errors import ResultsBusyError
    from bench.io import FolderLock, LockBusy

    try:
        with FolderLock(config.results_dir, wait=config.lock_wait):
            return _run(dataset, config, tracker, report)
    except LockBusy as busy:
        raise ResultsBusyError(f"{config.results_dir}: another bench run is writing results here ({busy}); "
                               "wait for it, pass --lock-wait SECONDS, or use another --results-dir") from None


def _run(dataset: Dataset, config: RunConfig, tracker: Tracker, report: Callable[[Outcome], None]) -> list[Outcome]:
    if config.overwrite not in OVERWRITE_MODES:
        raise ValueError(f"overwrite must be one of {OVERWRITE_MODES}")
    specs = [get_protocol(p) for p in config.protocols]  # unknown names fail before any work
    tasks = {spec.name: spec.build(dataset, limit=config.limit, seed=config.seed) for spec in specs}
    if config.shard is not None:
        from bench.shard import shard_task

        tasks = {name: shard_task(task, *config.shard) for name, task in tasks.items()}
        specs = [spec for spec in specs if tasks[spec.name] is not None]
        tasks = {name: task for name, task in tasks.items() if task is not None}
    decoded = False

    def decode_all() -> None:
        # Every image is decoded before the first computation: a corrupt file is the dataset's
        # fault, reported as such, never as a method failure. A run with nothing to compute
        # (everything up to date) skips it.
        nonlocal decoded
        if decoded:
            return
        needed = sorted({k for task in tasks.values() for k in task.all_image_keys()})
        for chunk in tracker.track([needed[i:i + 512] for i in range(0, len(needed), 512)],
                                   len(needed), "decoding images"):
            dataset.image_items(chunk)
        decoded = True

    outcomes: list[Outcome] = []

    def emit(o: Outcome) -> None:
        outcomes.append(o)
        report(o)

    for name in config.methods:
        try:
            method = create(name, config.method_options.get(name))
            info = method.info
            available = method.availability()
        except Exception as exc:  # a broken adapter must not stop the others
            for spec in specs:
                emit(Outcome(name, spec.name, STATUS_FAILED, f"could not load: {_one_line(exc)}"))
            continue
        if not available.ok:
            for spec in specs:
                path = result_path(config.results_dir, info.name, spec.name)
                msg = f"{available.reason} (fix: {available.fix})" if available.fix else available.reason
                if not _has_ok_result(path):
                    write_result(path, _record(info, spec, dataset, config, STATUS_UNAVAILABLE,
                                               error={"reason": available.reason, "fix": available.fix}),
                                 None)
                emit(Outcome(info.name, spec.name, STATUS_UNAVAILABLE, msg, path))
            continue

        prepared = False
        outputs = MethodOutputs(method, dataset, config.cache_dir, tracker)
        for spec in specs:
            path = result_path(config.results_dir, info.name, spec.name)
            key = run_key(method_cache_key=info.cache_key(), protocol=spec.name,
                          protocol_version=spec.version, dataset_fingerprint=dataset.fingerprint,
                          limit=config.limit, seed=config.seed, n_boot=config.n_boot,
                          text_policy=TEXT_POLICY, shard=_shard_label(config))
            if _should_skip(path, key, config.overwrite):
                emit(Outcome(info.name, spec.name, "skipped", "up to date", path))
                continue
            if spec.kind == "topology" and method.family is not Family.EMBEDDING:
                write_result(path, _record(info, spec, dataset, config, STATUS_NOT_APPLICABLE,
                                           run_key_=key, error={"reason": "R/D needs embeddings; this "
                                                                f"method is {method.family.value}-based"}), None)
                emit(Outcome(info.name, spec.name, STATUS_NOT_APPLICABLE, "needs embeddings", path))
                continue
            task = tasks[spec.name]
            decode_all()
            outputs.timings = type(outputs.timings)()
            started = time.perf_counter()
            try:
                with _deadline(config.method_timeout):
                    if not prepared:
                        method.prepare(RunContext(dataset=dataset, seed=config.seed, cache_dir=config.cache_dir))
                        prepared = True
                    if isinstance(task, RetrievalTask):
                        rankings = rank_task(method, task, outputs)
                    else:
                        rankings, metrics = None, topology(task, outputs)
                if rankings is not None:
                    metrics = summarise(rankings, task.aggregate, n_boot=config.n_boot, seed=config.seed)
                    metrics["queries_without_relevant_item"] = task.n_dropped
            except (KeyboardInterrupt, HwrBenchError):
                raise
            except Exception as exc:
                error = {"type": type(exc).__name__, "message": str(exc),
                         "traceback": traceback.format_exc(limit=8)}
                if not _has_ok_result(path):
                    write_result(path, _record(info, spec, dataset, config, STATUS_FAILED,
                                               run_key_=key, error=error), None)
                emit(Outcome(info.name, spec.name, STATUS_FAILED, _one_line(exc), path))
                continue
            timings = outputs.timings.to_json()
            timings["total_seconds"] = round(time.perf_counter() - started, 4)
            write_result(path, _record(info, spec, dataset, config, STATUS_OK, run_key_=key,
                                       metrics=metrics, timings=timings,
                                       rankings_file=path.stem + ".rankings.json.gz" if rankings else None),
                         rankings)
            emit(Outcome(info.name, spec.name, STATUS_OK, _headline(metrics), path))
    return outcomes


def _record(info: MethodInfo, spec, dataset: Dataset, config: RunConfig, status: str, *,
            run_key_: str | None = None, metrics=None, timings=None, rankings_file=None,
            error=None) -> dict:
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "status": status,
        "run_key": run_key_,
        "method": info.to_json(),
        "protocol": {"name": spec.name, "version": spec.version, "description": spec.description},
        "dataset": {"name": dataset.name, "fingerprint": dataset.fingerprint,
                    "n_samples": len(dataset), "note": dataset.manifest.get("builder", {}).get("note")},
        "config": {"limit": config.limit, "seed": config.seed, "n_bootstrap": config.n_boot,
                   "text_policy": TEXT_POLICY,
                   **({"shard": _shard_label(config)} if config.shard is not None else {})},
        "provenance": {**provenance(), "created_at": dt.datetime.now(dt.timezone.utc)
                       .isoformat(timespec="seconds")},
        "environment": environment(),
        "timings": timings,
        "metrics": metrics,
        "rankings_file": rankings_file,
        "error": error,
    }


def _shard_label(config: RunConfig) -> str | None:
    return None if config.shard is None else f"{config.shard[0]}/{config.shard[1]}"


def _existing(path: Path):
    if not path.exists():
        return None
    try:
        return read_result(path)
    except ResultFileError:
        return None  # unreadable or from an unknown schema: recompute


def _has_ok_result(path: Path) -> bool:
    existing = _existing(path)
    return existing is not None and existing.status == STATUS_OK


def _should_skip(path: Path, key: str, overwrite: str) -> bool:
    if overwrite == "always":
        return False
    existing = _existing(path)
    if existing is None:
        return False
    if overwrite == "never":
        return True
    return existing.status in (STATUS_OK, STATUS_NOT_APPLICABLE) and existing.data.get("run_key") == key


def _headline(metrics: dict) -> str:
    overall = metrics.get("overall")
    if overall:
        parts = [f"{m}={overall[m]['value']:.4f}" for m in ("acc@1", "mrr", "map") if m in overall]
        return " ".join(parts)
    ratio = ((metrics.get("image") or {}).get("all") or {}).get("ratio")
    return f"R/D={ratio:.4f}" if ratio is not None else ""


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text else type(exc).__name__
