"""Splitting a run over machines and putting it back together exactly.

``bench run --shard i/n`` keeps, in every subtask, the queries at positions
i, i+n, i+2n, ... of the protocol's (sorted) query list; a protocol whose kind
cannot be split (R/D needs every embedding at once) runs whole in shard 0.
``bench merge`` interleaves the shards' per-query rankings back into the
original order and recomputes every metric from them with the run's seed, so
the merged result is byte-for-byte the metrics of an unsharded run, under the
unsharded run key (a later ``bench run`` sees it as up to date).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.core.errors import HwrBenchError
from bench.core.io import FolderLock
from bench.evaluation.protocols import PROTOCOLS, RetrievalTask
from bench.evaluation.summary import summarise
from bench.store.records import ResultRecord, Status, Timings
from bench.store.results import iter_results, read_rankings, result_path, write_result


class ShardError(HwrBenchError):
    pass


def parse_shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise ShardError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    return int(match.group(1)), int(match.group(2))


def shard_label(shard: tuple[int, int] | None) -> str | None:
    return None if shard is None else f"{shard[0]}/{shard[1]}"


def _split_label(label: str) -> tuple[int, int]:
    index, count = label.split("/")
    return int(index), int(count)


def shard_task(task, index: int, count: int):
    """This shard's part of a task; None where the shard has nothing to do."""
    if not isinstance(task, RetrievalTask):   # not splittable: computed whole by shard 0
        return task if index == 0 else None
    subtasks = tuple(replace(st, query_keys=st.query_keys[index::count], relevant=st.relevant[index::count])
                     for st in task.subtasks)
    return replace(task, subtasks=subtasks)


def select_queries(task: RetrievalTask, keep: dict[str, set[str]]) -> RetrievalTask:
    """The task with, in each subtask named in ``keep``, only those queries (others dropped)."""
    subtasks = []
    for st in task.subtasks:
        if st.name not in keep:
            continue
        idx = [i for i, k in enumerate(st.query_keys) if k in keep[st.name]]
        subtasks.append(replace(st, query_keys=tuple(st.query_keys[i] for i in idx),
                                relevant=tuple(st.relevant[i] for i in idx)))
    return replace(task, subtasks=tuple(subtasks))


_PER_QUERY = ("query_keys", "query_ids", "query_styles", "top_keys", "top_scores", "relevant_ranks", "top1_text",
              "truth_text", "transcripts")


def merge_payloads(parts: list[dict], count: int) -> dict:
    """Per-subtask rankings of shards 0..count-1 interleaved back into the original query order."""
    merged = {}
    for name in parts[0]:
        pieces = [p[name] for p in parts]
        total = sum(len(p["query_keys"]) for p in pieces)
        out = {k: v for k, v in pieces[0].items() if not isinstance(v, list) or k not in _PER_QUERY}
        for column_name in _PER_QUERY:
            if column_name not in pieces[0]:
                continue
            column = [None] * total
            for shard, piece in enumerate(pieces):
                column[shard::count] = piece[column_name]
            out[column_name] = column
        merged[name] = out
    return merged


def _identity(record: ResultRecord) -> str:
    """Everything that must agree between shards of one result."""
    config = {k: v for k, v in record.config.to_json().items() if k != "shard"}
    return json.dumps([record.method_key, record.protocol.version, record.dataset.fingerprint, config],
                      sort_keys=True)


def _ordered_shards(label: str, protocol: str, present: list[ResultRecord]) -> tuple[list[ResultRecord], int, bool]:
    """The shards of one result in order, their count, and whether shard 0 computed it whole."""
    if any(r.config.shard is None for r in present):
        raise ShardError(f"{label}: not every folder holds shard results (run with --shard I/N)")
    ordered = sorted(present, key=lambda r: _split_label(r.config.shard)[0])
    count = _split_label(ordered[0].config.shard)[1]
    whole = protocol in PROTOCOLS and not PROTOCOLS[protocol].kind.shardable
    if whole:
        ordered = [r for r in ordered if r.config.shard == f"0/{count}"]
        if not ordered:
            raise ShardError(f"{label}: shard 0/{count}, which computes it, is missing")
    elif [r.config.shard for r in ordered] != [f"{i}/{count}" for i in range(count)]:
        raise ShardError(f"{label}: shards {[r.config.shard for r in ordered]} do not cover 0..{count - 1} of {count}")
    if len({_identity(r) for r in ordered}) != 1:
        raise ShardError(f"{label}: the shards were run with different methods, data or settings")
    return ordered, count, whole


def _merged_record(ordered: list[ResultRecord], count: int, whole: bool) -> tuple[ResultRecord, dict | None]:
    base = ordered[0]
    merged = replace(base, config=replace(base.config, shard=None), merged_from=[str(r.path) for r in ordered])
    rankings = None
    if not whole and base.ok:
        rankings = merge_payloads([read_rankings(r.path) for r in ordered], count)
        metrics = summarise(rankings, base.metrics["aggregate"], n_boot=base.config.n_bootstrap,
                            seed=base.config.seed)
        metrics["queries_without_relevant_item"] = base.metrics.get("queries_without_relevant_item", 0)
        if "answered_subtasks" in base.metrics:
            metrics["answered_subtasks"] = base.metrics["answered_subtasks"]
        if "gallery_size" in base.metrics:
            # Each shard timed its own share of the queries: the merged latency is their mean.
            metrics["gallery_size"] = base.metrics["gallery_size"]
            timed = [r.metrics["query_latency_ms"] for r in ordered if "query_latency_ms" in r.metrics]
            metrics["query_latency_ms"] = {"value": round(float(np.mean([t["value"] for t in timed])), 3),
                                           "n_timed": sum(t["n_timed"] for t in timed),
                                           "note": timed[0].get("note", "") + "; mean of the shards' timings"}
        merged = replace(merged, metrics=metrics,
                         timings=Timings.merge([r.timings for r in ordered if r.timings is not None]))
    return merged.with_run_key() if merged.run_key is not None else merged, rankings


def merge(shard_dirs: list[Path], out_dir: Path) -> list[str]:
    """Merge every (method, protocol) of the shard folders into ``out_dir``; returns what was written."""
    by_dir = [{(r.method_name, r.protocol.name): r for r in iter_results(d)} for d in shard_dirs]
    written = []
    with FolderLock(out_dir):
        for pair in sorted(set().union(*by_dir)):
            label = f"{pair[0]}/{pair[1]}"
            ordered, count, whole = _ordered_shards(label, pair[1], [d[pair] for d in by_dir if pair in d])
            statuses = {r.status for r in ordered}
            if statuses != {Status.OK} and (len(statuses) > 1 or Status.FAILED in statuses):
                continue   # a failed shard: nothing whole to write
            record, rankings = _merged_record(ordered, count, whole)
            write_result(result_path(out_dir, pair[0], pair[1]), record, rankings)
            written.append(label)
    return written
