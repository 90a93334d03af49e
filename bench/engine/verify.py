"""``bench run --verify N``: check stored results against their evidence, and the evidence against
the methods.

First, with no model: every stored result's metrics are recomputed from its own rankings sidecar
(``bench.evaluation.summary.summarise``, the same bootstrap seed and resample count) and must equal what the
result file says, so an edited headline number or a sidecar from another run is caught.

A user who runs the main job on a fresh machine finds most results up to date (reused from
``results/``). Verification recomputes, here and from nothing (a fresh, temporary cache), the
rankings of N seeded queries per subtask of every image-query protocol (in-domain, OOD,
cross-lingual) for each method, and compares them with the rankings sidecar beside the stored
result: the same top-10 gallery keys in the same order, the same ranks of the relevant items, and
scores within ``SCORE_TOLERANCE`` plus ``SCORE_RTOL`` relative (stored scores are rounded to 5
decimals; float32 kernels round differently on different CPUs). The harness makes methods batch-
and order-independent, so a deterministic method agrees; one line per method says whether it did.
A method whose outputs depend on the instruction set (``Retriever.cpu_dependent``: int8) is
compared only on the CPU model its results were made on, and otherwise says it was not verified.
"""

from __future__ import annotations

import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.api.registry import METHODS
from bench.api.retriever import RunContext
from bench.core.progress import NULL_TRACKER, Tracker
from bench.core.provenance import cpu_model
from bench.data.store import Dataset
from bench.engine.families import ops_for
from bench.engine.outputs import MethodOutputs
from bench.evaluation.protocols import PROTOCOLS, ProtocolKind
from bench.evaluation.summary import summarise
from bench.store.results import read_rankings, read_result, result_path
from bench.store.shard import select_queries

# Stored scores are rounded to 5 decimals, and float32 networks round differently with different
# SIMD widths (AVX2 vs AVX-512): between an AMD EPYC (AVX2) and an Intel Xeon (AVX-512) PP-OCRv4's
# CTC log-likelihoods move by up to ~6e-5 and PP-OCRv6's by up to ~2e-4 on a score of -5.9 (3e-5
# relative: a log-likelihood sums one rounding per frame) while every ranking stays the same.
# Rankings are compared exactly; scores within this absolute tolerance plus SCORE_RTOL relative.
SCORE_TOLERANCE = 1e-4
SCORE_RTOL = 1e-4


@dataclass
class Verdict:
    method: str
    checked: int = 0
    disagreements: list[str] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)
    skipped: str = ""                  # why nothing could be checked
    error: str = ""                    # the verification itself crashed
    results_checked: int = 0           # stored results whose metrics were recomputed from their sidecar

    @property
    def agrees(self) -> bool:
        return self.checked > 0 and not self.disagreements

    @property
    def failed(self) -> bool:
        return bool(self.disagreements or self.error)

    def line(self) -> str:
        if self.error:
            return f"FAILED        {self.method}: verification crashed: {self.error}"
        if self.disagreements:
            return (f"DISAGREE      {self.method}: {len(self.disagreements)} difference(s) among "
                    f"{self.results_checked} stored result(s) and {self.checked} sampled queries; "
                    f"first: {self.disagreements[0]}")
        metrics = f"; the metrics of {self.results_checked} stored result(s) match their rankings" \
            if self.results_checked else ""
        if self.skipped:
            return f"not verified  {self.method}: {self.skipped}{metrics}"
        where = ", ".join(self.protocols)
        return f"agree         {self.method}: {self.checked}/{self.checked} sampled queries recomputed here " \
               f"match the stored per-query results ({where}){metrics}"


def sample_queries(query_keys: list[str], n: int, seed: int, label: str) -> list[str]:
    """A fixed, seeded sample of ``n`` query keys (the same for every method)."""
    keys = sorted(query_keys)
    if len(keys) <= n:
        return keys
    rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
    return sorted(rng.choice(keys, size=n, replace=False).tolist())


def _compare(label: str, fresh: dict, stored: dict) -> list[str]:
    """Per-query differences between freshly computed and stored rankings of one subtask."""
    index = {k: i for i, k in enumerate(stored["query_keys"])}
    out = []
    for i, key in enumerate(fresh["query_keys"]):
        j = index.get(key)
        if j is None:
            out.append(f"{label} {key}: not in the stored rankings")
        elif fresh["top_keys"][i] != stored["top_keys"][j]:
            out.append(f"{label} {key}: top keys {fresh['top_keys'][i][:3]} vs stored {stored['top_keys'][j][:3]}")
        elif fresh["relevant_ranks"][i] != stored["relevant_ranks"][j]:
            out.append(f"{label} {key}: relevant rank {fresh['relevant_ranks'][i]} vs stored "
                       f"{stored['relevant_ranks'][j]}")
        elif not np.allclose(fresh["top_scores"][i], stored["top_scores"][j], rtol=SCORE_RTOL,
                             atol=SCORE_TOLERANCE):
            out.append(f"{label} {key}: scores {fresh['top_scores'][i][:3]} vs stored {stored['top_scores'][j][:3]}")
    return out


SUMMARY_FIELDS = ("aggregate", "overall", "subtasks", "by_style", "nes_basis")   # what summarise() writes


def metric_differences(path: Path, record) -> list[str]:
    """Where a stored result's metrics differ from those recomputed from its rankings sidecar."""
    stored = record.metrics or {}
    fresh = summarise(read_rankings(path), stored.get("aggregate", "pooled"), n_boot=record.config.n_bootstrap,
                      seed=record.config.seed)
    out = []
    for fld in SUMMARY_FIELDS:
        if fresh.get(fld) != stored.get(fld):
            out.append(f"{record.protocol.name} metrics: {_first_difference(fld, stored.get(fld), fresh.get(fld))}")
    return out


def _first_difference(where: str, stored, fresh) -> str:
    if isinstance(stored, dict) and isinstance(fresh, dict):
        for key in sorted(set(stored) | set(fresh), key=str):
            if stored.get(key) != fresh.get(key):
                return _first_difference(f"{where}.{key}", stored.get(key), fresh.get(key))
    return f"{where} is {stored!r} in the result file but {fresh!r} from its rankings"


def check_stored_metrics(name: str, results_dir: Path, verdict: Verdict) -> None:
    """Recompute every stored result's metrics of ``name`` from its sidecar (no model needed)."""
    for spec in PROTOCOLS.values():
        path = result_path(results_dir, name, spec.name)
        if not path.exists():
            continue
        record = read_result(path)
        if not record.ok or not record.rankings_file:
            continue
        verdict.results_checked += 1
        verdict.disagreements += metric_differences(path, record)


def verify_method(dataset: Dataset, name: str, options: dict | None, results_dir: Path, n: int, *,
                  cache_dir: Path | None, seed: int = 0, tracker: Tracker = NULL_TRACKER) -> Verdict:
    verdict = Verdict(name)
    check_stored_metrics(name, results_dir, verdict)
    method = METHODS.create(name, options)
    available = method.availability()
    if not available.ok:
        verdict.skipped = f"unavailable here ({available.reason})"
        return verdict
    outputs = MethodOutputs(method, dataset, cache_dir, tracker)
    prepared = False
    for spec in PROTOCOLS.values():
        path = result_path(results_dir, name, spec.name)
        # Gallery-axis protocols are left out: from an empty cache they would re-embed tens of
        # thousands of distractor words, and their queries are `ood` images verified there.
        if spec.kind is not ProtocolKind.RETRIEVAL or spec.axis is not None or not path.exists():
            continue
        record = read_result(path)   # readable: check_stored_metrics has read it already
        if not record.ok or not record.rankings_file or record.dataset.fingerprint != dataset.fingerprint:
            continue
        if record.method_key != method.info.cache_key():
            continue   # stored by another configuration of the method: a re-run replaces it, not this
        stored_cpu = (record.environment or {}).get("cpu")
        if method.cpu_dependent and stored_cpu != cpu_model():
            verdict.skipped = (f"its outputs depend on the CPU's instruction set and the stored results were made "
                               f"on {stored_cpu!r}, not this {cpu_model()!r}; re-run it here to compare "
                               f"(`bench run --methods {name} --results-dir DIR`)")
            return verdict
        stored = read_rankings(path)
        task = spec.task(dataset, limit=record.config.limit, seed=record.config.seed)
        keep = {st.name: set(sample_queries(list(st.query_keys), n, seed, f"{spec.name}/{st.name}"))
                for st in task.subtasks if st.query_kind == "image" and st.name in stored}
        if not keep:
            continue
        if not prepared:
            method.prepare(RunContext(dataset=dataset, seed=seed, cache_dir=cache_dir))
            prepared = True
        fresh = ops_for(method).rank(select_queries(task, keep), outputs)
        for st_name, payload in fresh.items():
            verdict.checked += len(payload["query_keys"])
            verdict.disagreements += _compare(f"{spec.name} {st_name}", payload, stored[st_name])
        verdict.protocols.append(spec.name)
    if not verdict.checked and not verdict.disagreements:
        verdict.skipped = "no stored per-query results of this configuration to compare with"
    return verdict


def verify(dataset: Dataset, methods: list[str], method_options: dict, results_dir: Path, n: int, *,
           seed: int = 0, tracker: Tracker = NULL_TRACKER, report=lambda line: None) -> list[Verdict]:
    """Every method's verdict; all of them recompute into one fresh cache, removed afterwards, so a
    pipeline's shared parts (the text encoder, an OCR engine under ``+embed``) run once here."""
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="hwr-verify-") as tmp:
        for name in methods:
            try:
                verdict = verify_method(dataset, name, method_options.get(name), results_dir, n,
                                        cache_dir=Path(tmp), seed=seed, tracker=tracker)
            except Exception as exc:   # one method's crash is its verdict, not the run's end
                verdict = Verdict(name, error=f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}")
            verdicts.append(verdict)
            report(verdict.line())
    return verdicts

