"""Splitting a run over machines and putting it back together exactly.

``bench run --shard i/n`` keeps, in every subtask, the queries at positions
i, i+n, i+2n, ... of the protocol's (sorted) query list; the topology protocol
(R/D needs every embedding at once) runs whole in shard 0. ``bench merge``
interleaves the shards' per-query rankings back into the original order and
recomputes every metric from them with the run's seed, so the merged result is
byte-for-byte the metrics of an unsharded run, under the unsharded run key
(a later ``bench run`` sees it as up to date).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from bench.errors import HwrBenchError
from bench.protocols import RetrievalTask, TopologyTask


class ShardError(HwrBenchError):
    pass


def parse_shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise ShardError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    return int(match.group(1)), int(match.group(2))


def shard_task(task, index: int, count: int):
    """This shard's part of a task; None where the shard has nothing to do."""
    if isinstance(task, TopologyTask):
        return task if index == 0 else None
    assert isinstance(task, RetrievalTask)
    subtasks = tuple(replace(st, query_keys=st.query_keys[index::count], relevant=st.relevant[index::count])
                     for st in task.subtasks)
    return replace(task, subtasks=subtasks)


def merge_payloads(parts: list[dict], count: int) -> dict:
    """Per-subtask rankings of shards 0..count-1 interleaved back into the original query order."""
    merged = {}
    for name in parts[0]:
        pieces = [p[name] for p in parts]
        total = sum(len(p["query_keys"]) for p in pieces)
        out = {k: v for k, v in pieces[0].items() if not isinstance(v, list) or k not in _PER_QUERY}
        for field in _PER_QUERY:
            if field not in pieces[0]:
                continue
            column = [None] * total
            for shard, piece in enumerate(pieces):
                column[shard::count] = piece[field]
            out[field] = column
        merged[name] = out
    return merged


_PER_QUERY = ("query_keys", "top_keys", "top_scores", "relevant_ranks", "top1_text", "truth_text", "transcripts")


def merge(shard_dirs: list[Path], out_dir: Path) -> list[str]:
    """Merge every (method, protocol) of the shard folders into ``out_dir``; returns what was written."""
    import copy

    from bench.evaluate import summarise
    from bench.io import FolderLock
    from bench.protocols import PROTOCOLS
    from bench.results import STATUS_FAILED, STATUS_OK, iter_results, read_rankings, result_path, run_key, write_result

    by_dir = [{(r.method, r.protocol): r for r in iter_results(d)} for d in shard_dirs]
    written = []
    with FolderLock(out_dir):
        for pair in sorted(set().union(*by_dir)):
            label = f"{pair[0]}/{pair[1]}"
            present = [d[pair] for d in by_dir if pair in d]
            if any(r.data["config"].get("shard") is None for r in present):
                raise ShardError(f"{label}: not every folder holds shard results (run with --shard I/N)")
            ordered = sorted(present, key=lambda r: int(r.data["config"]["shard"].split("/")[0]))
            count = int(ordered[0].data["config"]["shard"].split("/")[1])
            whole = PROTOCOLS[pair[1]].kind == "topology" if pair[1] in PROTOCOLS else False
            if whole:   # computed entirely by shard 0
                ordered = [r for r in ordered if r.data["config"]["shard"] == f"0/{count}"]
                if not ordered:
                    raise ShardError(f"{label}: shard 0/{count}, which computes it, is missing")
            elif [r.data["config"]["shard"] for r in ordered] != [f"{i}/{count}" for i in range(count)]:
                raise ShardError(f"{label}: shards {[r.data['config']['shard'] for r in ordered]} do not cover "
                                 f"0..{count - 1} of {count}")
            if len({_identity(r.data) for r in ordered}) != 1:
                raise ShardError(f"{label}: the shards were run with different methods, data or settings")
            statuses = {r.status for r in ordered}
            if statuses != {STATUS_OK} and (len(statuses) > 1 or STATUS_FAILED in statuses):
                continue   # a failed shard: nothing whole to write
            base = copy.deepcopy(ordered[0].data)
            config = base["config"]
            del config["shard"]
            base["run_key"] = run_key(method_cache_key=base["method"]["cache_key"], protocol=pair[1],
                                      protocol_version=base["protocol"]["version"],
                                      dataset_fingerprint=base["dataset"]["fingerprint"], limit=config["limit"],
                                      seed=config["seed"], n_boot=config["n_bootstrap"],
                                      text_policy=config["text_policy"])
            rankings = None
            if not whole and statuses == {STATUS_OK}:
                rankings = merge_payloads([read_rankings(r.path) for r in ordered], count)
                dropped = base["metrics"].get("queries_without_relevant_item", 0)
                base["metrics"] = summarise(rankings, base["metrics"]["aggregate"], n_boot=config["n_bootstrap"],
                                            seed=config["seed"])
                base["metrics"]["queries_without_relevant_item"] = dropped
                timings = [r.data.get("timings") or {} for r in ordered]
                base["timings"] = {k: round(sum(t.get(k) or 0 for t in timings), 4)
                                   for k in timings[0] if k != "latency_ms_per_image"}
                computed = base["timings"].get("images_computed")
                base["timings"]["latency_ms_per_image"] = (
                    round(1000 * base["timings"]["image_seconds"] / computed, 3) if computed else None)
            base["merged_from"] = [str(r.path) for r in ordered]
            write_result(result_path(out_dir, pair[0], pair[1]), base, rankings)
            written.append(label)
    return written


def _identity(data: dict) -> str:
    """Everything that must agree between shards of one result."""
    import json

    config = {k: v for k, v in data["config"].items() if k != "shard"}
    return json.dumps([data["method"].get("cache_key"), data["protocol"]["version"], data["dataset"]["fingerprint"],
                       config], sort_keys=True)
