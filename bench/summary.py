"""Metrics from per-query rankings alone: values and 95% bootstrap intervals per subtask and overall.

Every number in a result file is recomputed here from the rankings sidecar, so a
result can be re-derived (or a shard merge re-summarised) without the model.
"""

from __future__ import annotations

import numpy as np

from bench.metrics import bootstrap_means, per_query_values, percentile_interval

DEFAULT_BOOTSTRAP = 1000   # resamples behind every 95% interval unless a command is told otherwise


def query_values(subtask: dict) -> dict[str, np.ndarray]:
    """Per-query metric columns of one subtask of a rankings payload (what the bootstrap resamples)."""
    ranks = subtask["relevant_ranks"]
    first = np.array([r[0] for r in ranks], dtype=np.int64)
    to_images = "top1_text" not in subtask     # a text query ranking images: every relevant rank counts (AP)
    return per_query_values(first, subtask.get("top1_text"), subtask.get("truth_text"),
                            ranks if to_images else None)


def summarise(payload: dict, aggregate: str, *, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict:
    """Metrics (value and 95% bootstrap interval) per subtask and overall, from rankings alone."""
    per_subtask = {}
    columns = None
    groups = []
    for name, st in payload.items():
        values = query_values(st)
        cols = sorted(values)
        columns = columns or cols
        matrix = np.column_stack([values[c] for c in columns])
        groups.append(matrix)
        per_subtask[name] = _describe(columns, [matrix], "pooled", n_boot, seed)
    if not groups:
        return {"aggregate": aggregate, "overall": {}, "subtasks": {}}
    overall = _describe(columns, groups, aggregate, n_boot, seed)
    return {"aggregate": aggregate, "overall": overall, "subtasks": per_subtask}


def _describe(columns, groups, combine, n_boot, seed) -> dict:
    n = sum(len(g) for g in groups)
    if combine == "pooled":
        point = np.concatenate(groups).mean(0)
    else:
        point = np.mean([g.mean(0) for g in groups], axis=0)
    out: dict = {"n_queries": int(n)}
    if n_boot > 0 and n > 1:
        lo, hi = percentile_interval(bootstrap_means(groups, combine=combine, n_boot=n_boot, seed=seed))
    else:
        lo = hi = [None] * len(columns)
    for i, c in enumerate(columns):
        out[c] = {"value": round(float(point[i]), 6),
                  "ci95": None if lo[i] is None else [round(float(lo[i]), 6), round(float(hi[i]), 6)]}
    return out


