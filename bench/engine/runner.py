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
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bench.api.registry import METHODS, check_name
from bench.api.retriever import Availability, Retriever, RunContext
from bench.core.errors import HwrBenchError, ProtocolNotApplicable, ResultsBusyError
from bench.core.io import FolderLock, LockBusy
from bench.core.passes import sharing_passes, timing_only
from bench.core.progress import NULL_TRACKER, Tracker
from bench.core.provenance import check_committed_code, environment, provenance
from bench.core.text import TEXT_POLICY
from bench.data.store import Dataset
from bench.engine.families import lexicon_reads, ops_for
from bench.engine.outputs import MethodOutputs, batches
from bench.evaluation.protocols import ProtocolKind, ProtocolSpec, RetrievalTask, get_protocol, restrict
from bench.evaluation.ranking import TIE_POLICY
from bench.evaluation.summary import DEFAULT_BOOTSTRAP, summarise
from bench.evaluation.topology import topology
from bench.store.records import (ConfigRecord, DatasetRecord, ProtocolRecord, ResultRecord, SkipReason, Status,
                                 Timings)
from bench.store.results import (ResultFileError, pair_is_whole, read_result, result_path, sweep_temp_files,
                                 write_result)
from bench.store.shard import shard_label, shard_task


class Overwrite(str, Enum):
    NEVER = "never"
    ONLY_STALE = "only-stale"
    ALWAYS = "always"


DECODE_BATCH = 512   # images decoded per progress step before a run's first computation
# Images per step of a shared pass (``Retriever.shared_pass``): every method of the pass computes
# its outputs of one chunk before the next, so the pass's raw outputs of at most one chunk are held
# in memory (``bench.core.passes``: 128 PP-OCRv6 images, ~0.4 GB).
SHARED_PASS_CHUNK = 128


@dataclass
class RunConfig:
    methods: Sequence[str]
    protocols: Sequence[str]
    results_dir: Path
    cache_dir: Path | None
    limit: int | None = None
    seed: int = 0
    overwrite: Overwrite = Overwrite.ONLY_STALE
    n_boot: int = DEFAULT_BOOTSTRAP
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    method_timeout: float | None = None   # seconds per method and protocol (main thread only)
    shard: tuple[int, int] | None = None  # (i, n): this run's slice of the queries (bench.store.shard)
    lock_wait: float = 0.0                # seconds to wait for another run's lock on results_dir
    batch_size: int | None = None         # images per method call (None: the method's own)
    allow_dirty: bool = False             # write into the repository's results/ from uncommitted code

    def __post_init__(self) -> None:
        self.overwrite = Overwrite(self.overwrite)   # "always" from code is as good as Overwrite.ALWAYS


@dataclass(frozen=True)
class Outcome:
    method: str
    protocol: str
    status: Status
    message: str = ""
    path: Path | None = None
    skip: SkipReason | None = field(default=None, compare=False)   # why, when skipped (the message says it in words)


@dataclass
class _Loaded:
    """A method of the run, loaded once: its outputs and caches serve every protocol (and the
    shared-pass schedule that may fill them first)."""

    method: Retriever | None
    error: Exception | None = None          # it could not be loaded
    availability: Availability | None = None
    outputs: MethodOutputs | None = None    # when available
    prepared: bool = False
    carried: Timings | None = None          # what a shared pass computed for it, charged to its first protocol


@dataclass
class _Plan:
    """What a (method, protocol) pair needs: nothing (``skip``), a not-applicable record, or ``task``."""

    path: Path
    pending: ResultRecord
    task: Any = None
    skip: Outcome | None = None
    not_applicable: tuple[str, str] | None = None   # (reason, short)


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
    check_committed_code(config.results_dir, config.allow_dirty)
    session = _Session(dataset, config, tracker, report)   # bad protocol names fail before the lock
    try:
        with FolderLock(config.results_dir, wait=config.lock_wait):
            sweep_temp_files(config.results_dir)   # what an interrupted write left; under the lock
            session.share_passes()
            for name in config.methods:
                session.run_method(name)
    except LockBusy as busy:
        raise ResultsBusyError(f"{config.results_dir}: another bench run is writing results here ({busy}); "
                               "wait for it, pass --lock-wait SECONDS, or use another --results-dir") from None
    return session.outcomes


def evaluate_retrieval(task, outputs: MethodOutputs, config: RunConfig) -> tuple[dict, dict]:
    rankings = ops_for(outputs.method).rank(task, outputs)
    metrics = summarise(rankings, task.aggregate, n_boot=config.n_boot, seed=config.seed)
    metrics["queries_without_relevant_item"] = task.n_dropped
    if task.timed_queries:
        metrics["gallery_size"] = {st.name: len(st.gallery_keys) for st in task.subtasks}
        metrics["query_latency_ms"] = query_latency(task, outputs)
    return rankings, metrics


def query_latency(task, outputs: MethodOutputs) -> dict:
    """Milliseconds per query, model and search, timed on a few queries per subtask with no cache."""
    ops = ops_for(outputs.method)
    with timing_only():
        per_subtask = {st.name: 1000 * ops.query_latency(outputs, st, task.timed_queries) for st in task.subtasks}
    return {"value": round(float(np.mean(list(per_subtask.values()))), 3),
            "subtasks": {k: round(v, 3) for k, v in per_subtask.items()},
            "n_timed": task.timed_queries * len(task.subtasks),
            "note": "one query at a time after the gallery is indexed (text vectors, compiled lexicon); machine-dependent"}


def evaluate_topology(task, outputs: MethodOutputs, config: RunConfig) -> tuple[None, dict]:
    images, texts = ops_for(outputs.method).embeddings(outputs, task.image_keys, task.text_keys)
    return None, topology(task, outputs.dataset, images, texts)


# What the runner does with a task of each protocol kind: (rankings or None, metrics).
EVALUATORS: dict[ProtocolKind, Callable] = {ProtocolKind.RETRIEVAL: evaluate_retrieval,
                                            ProtocolKind.TOPOLOGY: evaluate_topology}


class _Session:
    """One ``bench run``: the tasks, the images decoded once, and the outcomes so far."""

    def __init__(self, dataset: Dataset, config: RunConfig, tracker: Tracker, report: Callable[[Outcome], None]):
        self.dataset, self.config, self.tracker, self._report = dataset, config, tracker, report
        self.outcomes: list[Outcome] = []
        specs = [get_protocol(p) for p in config.protocols]  # unknown names fail before any work
        # A protocol the dataset cannot support is recorded not applicable, with its reason, for
        # every method; the others run.
        self.inapplicable: dict[str, str] = {}
        tasks = {}
        for spec in specs:
            try:
                tasks[spec.name] = spec.task(dataset, limit=config.limit, seed=config.seed)
            except ProtocolNotApplicable as exc:
                self.inapplicable[spec.name] = str(exc)
        if config.shard is not None:
            tasks = {name: shard_task(task, *config.shard) for name, task in tasks.items()}
        self.tasks = {name: task for name, task in tasks.items() if task is not None}
        self.specs: list[ProtocolSpec] = [spec for spec in specs
                                          if spec.name in self.tasks or spec.name in self.inapplicable]
        self._decoded = False
        self._loaded: dict[str, _Loaded] = {}

    def emit(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self._report(outcome)

    def decode_all(self) -> None:
        # Every image is decoded before the first computation: a corrupt file is the dataset's
        # fault, reported as such, never as a method failure. A run with nothing to compute
        # (everything up to date) skips it.
        if self._decoded:
            return
        needed = sorted({k for task in self.tasks.values() for k in task.all_image_keys()})
        for chunk in self.tracker.track(list(batches(needed, DECODE_BATCH)), len(needed), "decoding images"):
            self.dataset.image_items(chunk)
        self._decoded = True

    # -- one method ---------------------------------------------------------------------------
    def _load(self, name: str) -> _Loaded:
        if name not in self._loaded:
            try:
                method = METHODS.create(name, self.config.method_options.get(name))
                method.fetch_weights()
                check_name(name, method.info.name)
                loaded = _Loaded(method, availability=method.availability())
            except Exception as exc:  # a broken adapter must not stop the others
                loaded = _Loaded(None, error=exc)
            if loaded.availability is not None and loaded.availability.ok:
                loaded.outputs = MethodOutputs(loaded.method, self.dataset, self.config.cache_dir, self.tracker,
                                               self.config.batch_size)
                loaded.outputs.lexicon_plan = self._lexicon_plan(loaded.method)
            self._loaded[name] = loaded
        return self._loaded[name]

    def _lexicon_plan(self, method: Retriever) -> dict[str, set[str]]:
        """Per image, the lexicons the run's protocols read of it for ``method``: the subtasks it
        answers only (a ``+dict`` row never reads an in-domain image's lexicon)."""
        tasks = [restrict(t, method.answers) if isinstance(t, RetrievalTask) else t for t in self.tasks.values()]
        return lexicon_reads(self.dataset, [t for t in tasks if t is not None])

    def run_method(self, name: str) -> None:
        loaded = self._load(name)
        if loaded.method is None:
            for spec in self.specs:
                self.emit(Outcome(name, spec.name, Status.FAILED, f"could not load: {_one_line(loaded.error)}"))
        elif not loaded.availability.ok:
            self._unavailable(loaded.method, loaded.availability)
        else:
            for spec in self.specs:
                self._run_protocol(loaded, spec)
        del self._loaded[name]   # its models and caches go with it

    def _unavailable(self, method: Retriever, available) -> None:
        # Reported, never written: why a method cannot run is a fact about this machine (a missing
        # package, a path), not a result, and must not land in committed files.
        msg = f"{available.reason} (fix: {available.fix})" if available.fix else available.reason
        for spec in self.specs:
            self.emit(Outcome(method.info.name, spec.name, Status.UNAVAILABLE, msg))

    def _prepare(self, loaded: _Loaded) -> None:
        if not loaded.prepared:
            loaded.method.prepare(RunContext(dataset=self.dataset, seed=self.config.seed,
                                             cache_dir=self.config.cache_dir))
            loaded.prepared = True

    # -- methods that read one network pass ----------------------------------------------------
    def share_passes(self) -> None:
        """Compute the methods that read one network pass (``Retriever.shared_pass``) image-major:
        for each chunk of images, every such method caches its outputs of the chunk before the
        next, so the first computes the pass and the others read it from memory. The protocols
        then find those outputs cached. A method that fails here is left to its own run, which
        records the failure."""
        groups: dict[str, list[tuple[_Loaded, set[str]]]] = {}
        for name in self.config.methods:
            loaded = self._load(name)
            if loaded.outputs is None:
                continue
            try:
                key = loaded.method.shared_pass
                keys = {k for spec in self.specs if (task := self._plan(loaded.method, spec).task) is not None
                        for k in task.all_image_keys()}
            except Exception:  # reported when the method runs
                continue
            if key and keys:
                groups.setdefault(key, []).append((loaded, keys))
        for members in groups.values():
            if len(members) > 1:
                self.decode_all()
                with sharing_passes():
                    self._compute_together(members)

    def _compute_together(self, members: list[tuple[_Loaded, set[str]]]) -> None:
        union = sorted(set().union(*(keys for _, keys in members)))
        names = ", ".join(loaded.method.info.name for loaded, _ in members)
        spent = {id(loaded): 0.0 for loaded, _ in members}
        for chunk in self.tracker.track(list(batches(union, SHARED_PASS_CHUNK)), len(union), f"one pass for {names}"):
            for loaded, keys in list(members):
                start = time.perf_counter()
                outputs, own_tracker = loaded.outputs, loaded.outputs.tracker
                outputs.tracker = NULL_TRACKER   # this loop's progress line stands for all of them
                try:
                    self._prepare(loaded)
                    ops_for(loaded.method).prefill(outputs, [k for k in chunk if k in keys])
                except (KeyboardInterrupt, HwrBenchError):
                    raise
                except Exception:
                    members.remove((loaded, keys))
                finally:
                    outputs.tracker = own_tracker
                spent[id(loaded)] += time.perf_counter() - start
        for loaded, _ in members:
            loaded.carried, loaded.outputs.timings = loaded.outputs.timings, Timings()
            loaded.carried.total_seconds = spent[id(loaded)]

    # -- one method on one protocol -------------------------------------------------------------
    def _plan(self, method: Retriever, spec: ProtocolSpec) -> _Plan:
        name = method.info.name
        path = result_path(self.config.results_dir, name, spec.name)
        plan = _Plan(path, self._record(method, spec, Status.OK).with_run_key())
        if _should_skip(path, plan.pending.run_key, self.config.overwrite):
            plan.skip = Outcome(name, spec.name, Status.SKIPPED, "up to date", path, SkipReason.UP_TO_DATE)
            return plan
        if self.config.limit is not None and _has_full_result(path):
            plan.skip = Outcome(name, spec.name, Status.SKIPPED, "kept the full result: a --limit run never "
                                "replaces it (use another --results-dir for a quick look)", path,
                                SkipReason.KEPT_FULL_RESULT)
            return plan
        task = self.tasks.get(spec.name)
        if task is None:
            reason = f"not applicable to this dataset: {self.inapplicable[spec.name]}"
            plan.not_applicable = (reason, reason)
        elif spec.kind.needs_embeddings and not ops_for(method).embeds:
            plan.not_applicable = (f"{spec.name} needs embeddings; this method is {method.family.value}-based",
                                   "needs embeddings")
        elif isinstance(task, RetrievalTask) and (task := restrict(task, method.answers)) is None:
            scope = method.info.config.get("scope")
            plan.not_applicable = (f"{name} answers none of {spec.name}'s subtasks" + (f" ({scope})" if scope else ""),
                                   "answers none of its subtasks")
        else:
            plan.task = task
        return plan

    def _run_protocol(self, loaded: _Loaded, spec: ProtocolSpec) -> None:
        method, outputs = loaded.method, loaded.outputs
        name = method.info.name
        plan = self._plan(method, spec)
        path, pending, task = plan.path, plan.pending, plan.task
        if plan.skip is not None:
            self.emit(plan.skip)
            return
        if plan.not_applicable is not None:
            reason, short = plan.not_applicable
            write_result(path, replace(pending, status=Status.NOT_APPLICABLE, error={"reason": reason}), None)
            self.emit(Outcome(name, spec.name, Status.NOT_APPLICABLE, short, path))
            return
        self.decode_all()
        # The first protocol computed carries what a shared pass computed for the method beforehand.
        outputs.timings, loaded.carried = loaded.carried or Timings(), None
        started = time.perf_counter() - (outputs.timings.total_seconds or 0.0)
        try:
            with _deadline(self.config.method_timeout):
                self._prepare(loaded)
                rankings, metrics = EVALUATORS[spec.kind](task, outputs, self.config)
            if task is not self.tasks[spec.name]:
                # Only some subtasks answered (``Retriever.answers``): the row says which.
                metrics["answered_subtasks"] = [st.name for st in task.subtasks]
        except (KeyboardInterrupt, HwrBenchError):
            raise
        except Exception as exc:
            if not _has_ok_result(path):
                error = {"type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc(limit=8)}
                write_result(path, replace(pending, status=Status.FAILED, error=error), None)
            self.emit(Outcome(name, spec.name, Status.FAILED, _one_line(exc), path))
            return
        outputs.timings.total_seconds = time.perf_counter() - started
        record = replace(pending, metrics=metrics, timings=outputs.timings, provenance=_provenance(),
                         rankings_file=path.stem + ".rankings.json.gz" if rankings else None)
        write_result(path, record, rankings)
        self.emit(Outcome(name, spec.name, Status.OK, _headline(metrics), path))

    def _record(self, method: Retriever, spec: ProtocolSpec, status: str) -> ResultRecord:
        ds, config = self.dataset, self.config
        return ResultRecord(
            status=status, method=method.record(),
            protocol=ProtocolRecord(spec.name, spec.version, spec.description),
            dataset=DatasetRecord(ds.name, ds.fingerprint, len(ds), ds.manifest.get("builder", {}).get("note")),
            config=ConfigRecord(config.limit, config.seed, config.n_boot, TEXT_POLICY, shard_label(config.shard),
                                TIE_POLICY),
            provenance=_provenance(), environment=environment())


def _provenance() -> dict:
    return {**provenance(), "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _existing(path: Path) -> ResultRecord | None:
    if not path.exists():
        return None
    try:
        return read_result(path)
    except ResultFileError:
        return None  # unreadable or from an unknown schema: recompute


def _has_ok_result(path: Path) -> bool:
    existing = _existing(path)
    return existing is not None and existing.ok


def _has_full_result(path: Path) -> bool:
    existing = _existing(path)
    return existing is not None and existing.ok and existing.config.limit is None


def _should_skip(path: Path, key: str, overwrite: Overwrite) -> bool:
    if overwrite is Overwrite.ALWAYS:
        return False
    existing = _existing(path)
    if existing is None:
        return False
    if overwrite is Overwrite.NEVER:
        return True
    return (existing.status in (Status.OK, Status.NOT_APPLICABLE) and existing.run_key == key
            and pair_is_whole(existing))


def _headline(metrics: dict) -> str:
    overall = metrics.get("overall")
    if overall:
        parts = [f"{m}={overall[m]['value']:.4f}" for m in ("acc@1", "mrr", "map") if m in overall]
        return " ".join(parts)
    ratio = ((metrics.get("image") or {}).get("pooled") or {}).get("ratio")
    return f"R/D={ratio:.4f}" if ratio is not None else ""


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
