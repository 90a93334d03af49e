"""Each row's k largest entries, compiled: a re-ranker's shortlists over a large gallery.

``np.argpartition(-scores, k - 1)`` negates and partitions a copy of every row, which at a 50,000-word
gallery costs more than scoring the shortlist it selects. One pass per row that keeps the k best
seen so far reads each score once; rows run in parallel (each row's answer is its own, whatever the
thread count).
"""

from __future__ import annotations

import numba
import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(B, k) column indices of each row's ``k`` largest ``scores`` (B, W), in no particular order;
    among equal scores the earlier column is kept. ``k`` is clipped to W."""
    scores = np.ascontiguousarray(scores)
    k = min(k, scores.shape[1])
    if k <= 0:
        return np.zeros((len(scores), 0), np.int64)
    if k == scores.shape[1]:
        return np.argsort(-scores, axis=1, kind="stable")
    if k > _SCAN_MAX:    # each replacement rescans the k kept; a partition is cheaper for long lists
        return _with_earlier_ties(scores, np.argpartition(-scores, k - 1, axis=1)[:, :k])
    return _top_k(scores, k)


_SCAN_MAX = 64


def _with_earlier_ties(scores: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """``kept`` with the columns that tie the weakest kept score chosen by column order, as the scan
    chooses them (a partition takes any of them)."""
    rows = np.arange(len(scores))[:, None]
    weakest = scores[rows, kept].min(axis=1, keepdims=True)
    out = kept.copy()
    for b in np.flatnonzero((scores == weakest).sum(axis=1) > (scores[rows, kept] == weakest).sum(axis=1)):
        above = np.flatnonzero(scores[b] > weakest[b])
        tied = np.flatnonzero(scores[b] == weakest[b])[:kept.shape[1] - len(above)]
        out[b] = np.concatenate([above, tied])
    return out


@numba.njit(cache=True, parallel=True, nogil=True)
def _top_k(scores, k):  # pragma: no cover - compiled
    out = np.empty((scores.shape[0], k), np.int64)
    for b in numba.prange(scores.shape[0]):
        row = scores[b]
        best = np.empty(k, row.dtype)
        for j in range(k):
            best[j] = row[j]
            out[b, j] = j
        low = _weakest(best, out[b])
        for j in range(k, row.shape[0]):
            if row[j] > best[low]:
                best[low] = row[j]
                out[b, low] = j
                low = _weakest(best, out[b])
    return out


@numba.njit(cache=True, nogil=True)
def _weakest(best, columns):  # pragma: no cover - compiled
    """The slot to give up: the lowest score, and among equal ones the latest column (so the
    earlier column of a tie stays, as a stable sort keeps it)."""
    low = 0
    for j in range(1, len(best)):
        if best[j] < best[low] or (best[j] == best[low] and columns[j] > columns[low]):
            low = j
    return low
