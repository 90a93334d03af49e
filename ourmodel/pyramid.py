"""Pyramids of character presence: what generation 3 of ``ours`` reads on both sides.

A word's pyramid (PHOC, Almazán et al. 2014) splits it into 1, 2, ..., L equal regions per level
and marks, per region, which characters occupy at least half of their own span there (character
``i`` of ``n`` spans [i/n, (i+1)/n]). An image's pyramid is the same from the recogniser's
per-frame posteriors: each frame gets a position in [0, 1], the share of the image's non-blank
mass read before it (CTC spikes one frame per character, so this is about the character index,
whatever the handwriting's spacing), and the presence of character ``c`` in a region is the
probability that some frame of the region emits it, 1 - prod_t (1 - p_t(c)).

Nothing here is learned. As a score, the Bernoulli likelihood of a word's pyramid under an image's
reads the validator's OOD subsets at about the exact CTC likelihood, and far better than one level
(the bag of characters of issue #15); the trained tower reads both sides through one character
embedding (``ourmodel.towers.SpellingEncoder``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ourmodel.ppocr import GROUPS_BEFORE_ALPHABET, LOG_FLOOR

LEVELS = (1, 2, 3, 4)   # the shipped levels (benchmarks/pyramid.py measures each one's share)


@dataclass(frozen=True)
class Pyramid:
    """The pyramid layout: ``alphabet``'s characters (the posterior groups after blank and space)
    in ``sum(levels)`` regions."""
    alphabet: str
    levels: tuple[int, ...] = LEVELS

    @property
    def regions(self) -> list[tuple[float, float]]:
        return pyramid_regions(self.levels)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.regions), len(self.alphabet)

    def words(self, texts: Sequence[str]) -> np.ndarray:
        """(N, regions, characters) 0/1: each text's pyramid (case-folded; characters outside the
        alphabet are left out, as the recogniser cannot read them)."""
        out = np.zeros((len(texts), *self.shape), np.float32)
        for row, text in enumerate(texts):
            for k, c in self._cells(text):
                out[row, k, c] = 1.0
        return out

    def word_cells(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The same pyramids, sparse: (indptr, indices) of each text's set cells in the flattened
        (regions x characters) layout, for lexicons too large for ``words``' dense array."""
        width = len(self.alphabet)
        cells = [sorted({k * width + c for k, c in self._cells(text)}) for text in texts]
        indptr = np.zeros(len(texts) + 1, np.int64)
        indptr[1:] = np.cumsum([len(c) for c in cells])
        indices = np.fromiter((i for c in cells for i in c), np.int64, count=int(indptr[-1]))
        return indptr, indices

    def _cells(self, text: str):
        """(region, character column) of each set cell of ``text``'s pyramid."""
        column = {c: i for i, c in enumerate(self.alphabet)}
        chars = [column[c] for c in text.lower() if c in column]
        n = len(chars)
        for k, (lo, hi) in enumerate(self.regions):
            for i, c in enumerate(chars):
                if min((i + 1) / n, hi) - max(i / n, lo) >= 0.5 / n - 1e-9:
                    yield k, c

    def images(self, inputs: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """(N, regions, characters) presence from head inputs ``log(p + LOG_FLOOR)`` over the
        groups (blank, space, then the alphabet's), (N, T, groups) or N arrays (T_i, groups)."""
        out = np.zeros((len(inputs), *self.shape), np.float32)
        for row, x in enumerate(inputs):
            out[row] = self._presence(np.clip(np.exp(np.asarray(x, np.float64)) - LOG_FLOOR, 0.0, 1.0))
        return out

    def _presence(self, probs: np.ndarray) -> np.ndarray:
        position = frame_positions(probs[:, 0])
        log_absent = np.log1p(-np.clip(probs[:, len(GROUPS_BEFORE_ALPHABET):], 0.0, 1.0 - 1e-7))
        inside = region_masks(position, self.regions)                 # (T, regions)
        return (1.0 - np.exp(inside.T @ log_absent)).astype(np.float32)


def pyramid_regions(levels: Sequence[int]) -> list[tuple[float, float]]:
    """The regions of ``levels``, level by level: level n splits [0, 1] into n equal parts."""
    return [(r / n, (r + 1) / n) for n in levels for r in range(n)]


def frame_positions(blank: np.ndarray) -> np.ndarray:
    """Each frame's position in [0, 1]: the share of non-blank mass before its middle (``blank``:
    (..., T) blank probabilities). All-blank inputs put every frame at 0."""
    mass = 1.0 - blank
    return (np.cumsum(mass, -1) - 0.5 * mass) / np.maximum(mass.sum(-1, keepdims=True), 1e-6)


def region_masks(position: np.ndarray, regions: Sequence[tuple[float, float]]) -> np.ndarray:
    """(..., T, regions) 1.0 where a frame's position lies in the region ([lo, hi); the last region
    of a level also takes hi = 1)."""
    masks = [(position >= lo) & ((position < hi) | (hi >= 1.0)) for lo, hi in regions]
    return np.stack(masks, -1).astype(np.float64)


def bernoulli_log_odds(presence: np.ndarray) -> np.ndarray:
    """(N, regions * characters) log q - log(1 - q) of images' presence pyramids: a word's
    Bernoulli log-likelihood under an image is a constant of the image plus the sum of these over
    the word's set cells, so ranking words by that sum ranks them by likelihood."""
    flat = presence.reshape(len(presence), int(np.prod(presence.shape[1:])))   # (-1 fails for no images)
    q = np.clip(flat.astype(np.float64), 1e-6, 1.0 - 1e-6)
    return (np.log(q) - np.log1p(-q)).astype(np.float32)


def sparse_word_scores(log_odds: np.ndarray, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """(N, W): for each image's ``log_odds`` row, the sum over each word's cells (``word_cells``)."""
    by_cell = np.ascontiguousarray(np.asarray(log_odds, np.float32).T)    # (cells, N): a cell's images side by side
    return _sparse_word_scores(by_cell, indptr, indices)


_IMAGES_PER_PASS = 8   # images summed in one pass over the words' cells: a 50k gallery's cell list
                       # is read once per 8 images instead of once per image, the images' rows in cache


def _sparse_word_scores_py(by_cell, indptr, indices):
    n_images = by_cell.shape[1]
    out = np.zeros((n_images, len(indptr) - 1), np.float32)
    for block in _prange((n_images + _IMAGES_PER_PASS - 1) // _IMAGES_PER_PASS):   # blocks in parallel
        lo = block * _IMAGES_PER_PASS
        hi = min(lo + _IMAGES_PER_PASS, n_images)
        total = np.zeros(hi - lo)
        for w in range(len(indptr) - 1):
            total[:] = 0.0
            for j in range(indptr[w], indptr[w + 1]):
                cell = by_cell[indices[j]]
                for b in range(hi - lo):
                    total[b] += cell[lo + b]
            for b in range(hi - lo):
                out[lo + b, w] = total[b]
    return out


try:   # numba is a core dependency (the CTC trie kernel); the pure loop stays as its reference
    from numba import njit as _njit, prange as _prange

    _sparse_word_scores = _njit(cache=False, nogil=True, parallel=True)(_sparse_word_scores_py)
except ImportError:   # pragma: no cover
    _prange = range
    _sparse_word_scores = _sparse_word_scores_py
