"""Retrieval metrics as pure functions over ranks, texts and embeddings.

Definitions (the paper's eqs. 9-11 and section 4.4):

* rank: 1-based position of a gallery item in a query's ranking.
* Acc@k: fraction of queries whose first relevant item has rank <= k.
* MRR: mean over queries of 1 / (rank of the first relevant item).
* NES: 1 - Levenshtein(predicted text, true text) / max(len), after
  ``normalise_text`` (NFC, casefold, whitespace collapsed); two empty strings
  give 1. The predicted text is the method's raw output for transcription and
  generative methods (as the paper's Table 2, so NES can fall below Acc@1) and
  the top-1 lexicon word for embedding and scoring methods, which emit no text.
* AP (text->image): mean over the relevant items of precision at their rank;
  mAP is its mean over queries.
* R/D: embeddings are L2-normalised; a class centroid is the (unnormalised) mean
  of its members; the class radius is the mean Euclidean distance of members to
  their centroid; R is the mean class radius over classes, D the mean Euclidean
  distance over all unordered pairs of distinct class centroids; lower R/D means
  tighter, better separated classes. A class needs at least two members (a
  singleton has no radius; it is refused, never counted as 0). R/D depends on
  class size, so it is reported beside ``random_rd``: the same statistic for
  random Gaussian vectors with the same class sizes and dimension.
* 95% intervals: percentile bootstrap over semantic ids (cluster bootstrap).
  Queries of one concept are not independent (its renders, its six
  cross-lingual directions), so whole concepts are resampled, with the same
  draw in every subtask.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from bench.core.text import normalise_text

TOP_K = (1, 3, 5)


def hits_at_k(first_ranks: np.ndarray, k: int) -> np.ndarray:
    return (np.asarray(first_ranks) <= k).astype(np.float64)


def reciprocal_ranks(first_ranks: np.ndarray) -> np.ndarray:
    return 1.0 / np.asarray(first_ranks, dtype=np.float64)


def average_precision(relevant_ranks: Sequence[int]) -> float:
    ranks = np.sort(np.asarray(relevant_ranks, dtype=np.float64))
    if ranks.size == 0:
        raise ValueError("average precision needs at least one relevant item")
    return float(np.mean(np.arange(1, ranks.size + 1) / ranks))


def levenshtein(a: str, b: str) -> int:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(a, b)


def nes(predicted: str, truth: str) -> float:
    p, t = normalise_text(predicted), normalise_text(truth)
    longest = max(len(p), len(t))
    if longest == 0:
        return 1.0
    return 1.0 - levenshtein(p, t) / longest


def per_query_values(first_ranks: np.ndarray, top1_texts: Sequence[str] | None,
                     truth_texts: Sequence[str] | None,
                     relevant_ranks: Sequence[Sequence[int]] | None = None) -> dict[str, np.ndarray]:
    """The per-query columns whose means are the reported metrics (and what the bootstrap resamples)."""
    values = {f"acc@{k}": hits_at_k(first_ranks, k) for k in TOP_K}
    values["mrr"] = reciprocal_ranks(first_ranks)
    if top1_texts is not None and truth_texts is not None:
        values["nes"] = np.array([nes(p, t) for p, t in zip(top1_texts, truth_texts)], dtype=np.float64)
    if relevant_ranks is not None:
        values["map"] = np.array([average_precision(r) for r in relevant_ranks], dtype=np.float64)
    return values


@dataclass(frozen=True)
class Topology:
    radius: float
    distance: float
    ratio: float
    n_classes: int
    n_points: int
    class_sizes: dict[int, int]   # class size -> how many classes have it


def rd_ratio(embeddings: np.ndarray, labels: Sequence[int]) -> Topology:
    """Mean intra-class radius / mean inter-class centroid distance (see module docstring)."""
    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True).clip(min=1e-12)
    labels = np.asarray(labels)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if classes.size < 2:
        raise ValueError("R/D needs at least two classes")
    if counts.min() < 2:
        single = classes[counts < 2]
        raise ValueError(f"R/D needs at least 2 members per class; {single.size} class(es) have one "
                         f"(e.g. {', '.join(map(str, single[:5].tolist()))})")
    centroids = np.zeros((classes.size, x.shape[1]))
    np.add.at(centroids, inverse, x)
    centroids /= counts[:, None]
    member_dist = np.linalg.norm(x - centroids[inverse], axis=1)
    radii = np.bincount(inverse, weights=member_dist) / counts
    radius = float(radii.mean())
    sq = (centroids ** 2).sum(1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2 * centroids @ centroids.T, 0, None)
    iu = np.triu_indices(classes.size, k=1)
    distance = float(np.sqrt(d2[iu]).mean())
    sizes, n_with = np.unique(counts, return_counts=True)
    return Topology(radius, distance, radius / distance if distance > 0 else float("inf"),
                    int(classes.size), int(x.shape[0]), dict(zip(sizes.tolist(), n_with.tolist())))


def random_rd(labels: Sequence[int], dim: int, *, n_draws: int = 5, seed: int = 0) -> float:
    """The R/D of random Gaussian vectors with these labels and dimension (mean of ``n_draws``).

    R/D grows with fewer members per class even for structureless embeddings (about 1.0 at 3
    per class), so a method's figure is read against this reference at the same class sizes.
    """
    rng = np.random.default_rng(seed)
    n = len(labels)
    return float(np.mean([rd_ratio(rng.standard_normal((n, dim)), labels).ratio for _ in range(n_draws)]))


# --- confidence intervals -------------------------------------------------------------------

_KEPT_WEIGHTS = 4_000_000   # at most this many counts (32 MB) per kept draw; larger draws are made each time


def _boot_weights(seed: int, n: int, n_boot: int) -> np.ndarray:
    """Resampling-with-replacement counts, (n_boot, n); a matrix product then gives the means.
    A pure function of its arguments, so a small draw is kept (read-only): every method and
    protocol of a run draws the same few cluster counts, and the draws cost a second per result."""
    if n * n_boot > _KEPT_WEIGHTS:
        return _draw_weights(seed, n, n_boot)
    return _kept_weights(seed, n, n_boot)


def _draw_weights(seed: int, n: int, n_boot: int) -> np.ndarray:
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    weights.flags.writeable = False
    return weights


_kept_weights = functools.lru_cache(maxsize=16)(_draw_weights)


def bootstrap_means(groups: Sequence[np.ndarray], clusters: Sequence[np.ndarray] | None = None, *,
                    combine: str = "pooled", n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Bootstrap replicates of a mean, resampling whole clusters (semantic ids).

    ``groups`` holds one (n_i,) or (n_i, m) array of per-query values per group (subtask) and
    ``clusters`` the matching (n_i,) cluster labels; one draw of clusters, with replacement,
    weights every query of a drawn cluster, in every group alike. ``None`` makes every query
    its own cluster (the naive bootstrap). ``combine='pooled'`` is the mean over all queries,
    ``'mean'`` the mean of the group means (the paper's cross-lingual Avg).
    Returns (n_boot,) or (n_boot, m).
    """
    groups = [np.asarray(g, dtype=np.float64) for g in groups]
    if clusters is None:
        offsets = np.cumsum([0] + [g.shape[0] for g in groups])
        clusters = [np.arange(offsets[i], offsets[i + 1]) for i in range(len(groups))]
    kept = [(g, np.asarray(c)) for g, c in zip(groups, clusters) if g.shape[0]]
    if not kept:
        raise ValueError("no values to bootstrap")
    labels, inverse = np.unique(np.concatenate([c for _, c in kept]), return_inverse=True)
    weights = _boot_weights(seed, labels.size, n_boot)    # (n_boot, clusters)
    nums, dens, start = [], [], 0
    for g, c in kept:
        w = weights[:, inverse[start:start + c.size]]                             # (n_boot, n_i)
        start += c.size
        nums.append(w @ g)
        dens.append(w.sum(axis=1).reshape((n_boot,) + (1,) * (g.ndim - 1)))
    if combine == "pooled":
        return sum(nums) / np.maximum(sum(dens), 1e-12)
    # A group none of whose clusters were drawn has no mean in that replicate; it is left out.
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.stack([n / np.where(d > 0, d, np.nan) for n, d in zip(nums, dens)])
    return np.nanmean(means, axis=0)


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple:
    alpha = (1 - level) / 2
    lo, hi = np.quantile(replicates, [alpha, 1 - alpha], axis=0)
    return lo, hi


@dataclass(frozen=True)
class PairedTest:
    mean_difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n_queries: int


def paired_bootstrap(a: np.ndarray, b: np.ndarray, clusters: np.ndarray | None = None, *,
                     n_boot: int = 10000, seed: int = 0) -> PairedTest:
    """Paired bootstrap of mean(a) - mean(b) over the same queries; two-sided p-value.

    ``clusters`` (per query, e.g. semantic ids) resamples whole clusters, as the intervals do.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("paired bootstrap needs two equal-length, non-empty 1-D arrays")
    diff = a - b
    reps = bootstrap_means([diff], None if clusters is None else [np.asarray(clusters)],
                           n_boot=n_boot, seed=seed)
    lo, hi = percentile_interval(reps)
    # Share of replicates on the far side of zero, doubled; the +1 keeps p > 0 for finite n_boot.
    p = min(1.0, 2 * (min((reps <= 0).sum(), (reps >= 0).sum()) + 1) / (n_boot + 1))
    return PairedTest(float(diff.mean()), float(lo), float(hi), float(p), int(diff.size))
