"""Metrics from per-query rankings alone: values and 95% bootstrap intervals per subtask and overall.

Every number in a result file is recomputed here from the rankings sidecar, so a
result can be re-derived (or a shard merge re-summarised) without the model.
"""

from __future__ import annotations

import numpy as np

from bench.evaluation.metrics import bootstrap_means, hits_at_k, per_query_values, percentile_interval

DEFAULT_BOOTSTRAP = 1000   # resamples behind every 95% interval unless a command is told otherwise


def nes_basis(subtask: dict) -> str | None:
    """What NES compares with the truth: the method's raw output, or its top-1 lexicon word."""
    if "truth_text" not in subtask:
        return None
    return "raw output" if "transcripts" in subtask else "top-1 word"


def query_values(subtask: dict) -> dict[str, np.ndarray]:
    """Per-query metric columns of one subtask of a rankings payload (what the bootstrap resamples)."""
    ranks = subtask["relevant_ranks"]
    first = np.array([r[0] for r in ranks], dtype=np.int64)
    to_images = "top1_text" not in subtask     # a text query ranking images: every relevant rank counts (AP)
    # Transcription methods are scored on what they wrote (the paper's NES), others on their top-1 word.
    predicted = subtask.get("transcripts") if nes_basis(subtask) == "raw output" else subtask.get("top1_text")
    return per_query_values(first, predicted, subtask.get("truth_text"), ranks if to_images else None)


def query_clusters(subtask: dict) -> np.ndarray:
    """The semantic id of each query: the unit the bootstrap resamples."""
    if "query_ids" not in subtask:
        raise ValueError("rankings payload has no query_ids (made before cluster bootstrap; re-run `bench run`)")
    return np.asarray(subtask["query_ids"], dtype=np.int64)


def summarise(payload: dict, aggregate: str, *, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> dict:
    """Metrics (value and 95% cluster-bootstrap interval) per subtask and overall, from rankings alone."""
    per_subtask = {}
    columns = None
    groups, clusters = [], []
    for name, st in payload.items():
        values = query_values(st)
        cols = sorted(values)
        columns = columns or cols
        matrix = np.column_stack([values[c] for c in columns])
        groups.append(matrix)
        clusters.append(query_clusters(st))
        per_subtask[name] = _describe(columns, [matrix], [clusters[-1]], "pooled", n_boot, seed)
    if not groups:
        return {"aggregate": aggregate, "overall": {}, "subtasks": {}}
    overall = _describe(columns, groups, clusters, aggregate, n_boot, seed)
    out = {"aggregate": aggregate, "overall": overall, "subtasks": per_subtask,
           "interval": "95% percentile cluster bootstrap over semantic ids"}
    styles = by_style(payload)
    if styles:
        out["by_style"] = styles
    bases = sorted({b for b in (nes_basis(st) for st in payload.values()) if b})
    if bases:
        out["nes_basis"] = " / ".join(bases)
    return out


def by_style(payload: dict) -> dict:
    """Acc@1 of the image queries of each handwriting style, pooled over subtasks: which styles are hard."""
    hits: dict[str, list[float]] = {}
    for st in payload.values():
        if "query_styles" not in st:
            continue
        top1 = hits_at_k([r[0] for r in st["relevant_ranks"]], 1)
        for style, hit in zip(st["query_styles"], top1):
            hits.setdefault(style, []).append(float(hit))
    return {style: {"acc@1": round(float(np.mean(v)), 6), "n_queries": len(v)} for style, v in sorted(hits.items())}


def _describe(columns, groups, clusters, combine, n_boot, seed) -> dict:
    n = sum(len(g) for g in groups)
    if combine == "pooled":
        point = np.concatenate(groups).mean(0)
    else:
        point = np.mean([g.mean(0) for g in groups], axis=0)
    out: dict = {"n_queries": int(n), "n_clusters": int(np.unique(np.concatenate(clusters)).size)}
    if n_boot > 0 and n > 1:
        lo, hi = percentile_interval(bootstrap_means(groups, clusters, combine=combine, n_boot=n_boot, seed=seed))
    else:
        lo = hi = [None] * len(columns)
    for i, c in enumerate(columns):
        out[c] = {"value": round(float(point[i]), 6),
                  "ci95": None if lo[i] is None else [round(float(lo[i]), 6), round(float(hi[i]), 6)]}
    return out
