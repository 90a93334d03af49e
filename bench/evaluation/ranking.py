"""Turning a score matrix into rankings, with a deterministic tie-break that favours no item.

Equal scores are common (edit similarity of short words, a transcription matching no word).
Ties are broken by a keyed hash of the gallery items' keys (``TIE_POLICY``): never by their
position, so a ranking does not depend on the order the gallery was listed in, and never by
their spelling, so no family of keys wins ties as a family (key order put every distractor
``en:-5311`` ahead of every lexicon word). Every result records the policy it was ranked under.
The full score matrix is never held: queries go through in chunks.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from bench.core.text import normalise_text

CHUNK_CELLS = 4_000_000  # scores held at once (query chunk x gallery)
TIE_POLICY = "blake2b-keyed-v1"   # what a result records: ties ordered by BLAKE2b(key, key=_TIE_SALT)
_TIE_SALT = b"hwr-bench tie policy v1"


@dataclass
class Ranking:
    """Rankings of one subtask: top-k per query and the ranks of all relevant items."""

    query_keys: list[str]
    gallery_keys: list[str]
    top_idx: np.ndarray        # (n_queries, k) gallery indices, best first
    top_scores: np.ndarray     # (n_queries, k)
    relevant_ranks: list[np.ndarray]  # per query, sorted 1-based ranks of its relevant items

    @property
    def first_ranks(self) -> np.ndarray:
        return np.array([r[0] for r in self.relevant_ranks], dtype=np.int64)


def tiebreak_order(gallery_keys: Sequence[str]) -> np.ndarray:
    """Position of each gallery item in tie order (lower wins a tie): the items sorted by a keyed
    hash of their key (``TIE_POLICY``), the key itself only where two hashes collide."""
    return _tie_positions(tuple(gallery_keys))


@functools.lru_cache(maxsize=32)   # one gallery's order serves every subtask and chunk that ranks it
def _tie_positions(keys: tuple[str, ...]) -> np.ndarray:
    digests = [hashlib.blake2b(k.encode(), digest_size=16, key=_TIE_SALT).digest() for k in keys]
    order = sorted(range(len(keys)), key=lambda i: (digests[i], keys[i]))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys))
    rank.flags.writeable = False
    return rank


def rank_queries(score_chunk: Callable[[int, int], np.ndarray], n_queries: int,
                 query_keys: Sequence[str], gallery_keys: Sequence[str],
                 relevant: Sequence[Sequence[int]], k: int = 10) -> Ranking:
    """Rank every query's gallery; ``score_chunk(start, stop)`` returns scores for those queries.

    The order is (score descending, tie-break position ascending). Nothing is fully sorted: the
    top k come from a partition, and a relevant item's rank is one plus the number of items
    ahead of it in that order, so a query costs O(gallery) and the answer equals a full sort's.
    """
    n_gallery = len(gallery_keys)
    if n_gallery == 0:
        raise ValueError("empty gallery")
    k = min(k, n_gallery)
    tie = tiebreak_order(gallery_keys)
    step = max(1, CHUNK_CELLS // n_gallery)
    top_idx = np.empty((n_queries, k), dtype=np.int64)
    top_scores = np.empty((n_queries, k), dtype=np.float32)
    rel_ranks: list[np.ndarray] = []
    for start in range(0, n_queries, step):
        stop = min(n_queries, start + step)
        scores = np.asarray(score_chunk(start, stop), dtype=np.float64)
        if scores.shape != (stop - start, n_gallery):
            raise ValueError(f"score chunk has shape {scores.shape}, expected {(stop - start, n_gallery)}")
        # The k-th best score; every item scoring at least that is a top-k candidate (ties included).
        kth = np.partition(scores, n_gallery - k, axis=1)[:, n_gallery - k]
        for i, row in enumerate(scores):
            candidates = np.flatnonzero(row >= kth[i])
            order = candidates[np.lexsort((tie[candidates], -row[candidates]))][:k]
            top_idx[start + i] = order
            top_scores[start + i] = row[order]
            rel = np.asarray(relevant[start + i], dtype=np.int64)
            s_rel, t_rel = row[rel][:, None], tie[rel][:, None]
            ahead = (row[None, :] > s_rel) | ((row[None, :] == s_rel) & (tie[None, :] < t_rel))
            rel_ranks.append(np.sort(ahead.sum(axis=1)) + 1)
    return Ranking(list(query_keys), list(gallery_keys), top_idx, top_scores, rel_ranks)


def cosine_scorer(queries: np.ndarray, gallery: np.ndarray) -> Callable[[int, int], np.ndarray]:
    q = l2_normalise(queries)
    g = l2_normalise(gallery)
    return lambda start, stop: q[start:stop] @ g.T


def edit_similarity_scorer(queries: Sequence[str], gallery: Sequence[str]) -> Callable[[int, int], np.ndarray]:
    """Normalised edit similarity (1 - Levenshtein / max len) after the text policy."""
    q = [normalise_text(t) for t in queries]
    g = [normalise_text(t) for t in gallery]
    return lambda start, stop: edit_similarities(q[start:stop], g)


def edit_similarities(queries: Sequence[str], gallery: Sequence[str]) -> np.ndarray:
    """(queries, gallery) normalised edit similarities of texts already under the text policy."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    return process.cdist(queries, gallery, scorer=Levenshtein.normalized_similarity, dtype=np.float32, workers=-1)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(min=1e-12)
