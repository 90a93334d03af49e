"""Exact CTC lexicon scores over a prefix trie: ``ctc_lexicon``'s scores, shared prefixes scored once.

``methodkit.ctc_lexicon`` scores each lexicon word by its own forward recursion over the state
graph ``blank, SPACE, blank, l1, blank, l2, ..., blank, ln, blank, SPACE, blank``. The forward
variables of the states up to ``ln``'s blank depend only on the prefix ``l1..ln``, so words that
share a prefix can share them. This module walks a trie of the words' emission-group sequences
(the groups ``compile_lexicon`` assigns, so case merging and missing-character substitutions are
the same): a node at depth k holds, over all T frames, the forward variables of its two new
states (``lk`` and the blank after it), computed from its parent's by one recursion over time.
The optional trailing space and blank of a word are one more child (label SPACE) of the word's
last node.

Two recursions, one answer:

* fast (every word): emissions divided by their per-frame maximum over the lexicon's groups (one
  scale per image and frame, shared by every node, so the recursion is two additions and two
  multiplications a frame); score = sum_t log scale_t + log(end-state mass). Values never exceed
  the number of paths, but a word ``1e-250`` times less likely than the best reading could lose
  precision to underflow, so its score is not taken from here. It walks the trie depth-first in one compiled
  (numba) kernel, so a node's variables are read by its children while they are still in cache
  and only one node per depth is held: the breadth-first numpy version of the same arithmetic
  spent its time moving (T, nodes, images) arrays through memory;
* exact (only those words, and words that cannot fit; numpy, one depth at a time, vectorised over
  the depth's nodes and the images): each node's variables in units of its
  prefix's total forward mass ``Z_k[t]`` (all states up to ``lk``'s blank, the root's included),
  carrying ``zeta_k[t] = Z_k[t] / Z_k[t-1]`` and ``rho_k[t] = Z_{k-1}[t] / Z_k[t]``; score = sum_t
  log zeta_t + log(normalised end-state mass). At a word's end Z is the old scorer's per-frame
  normaliser (the sum over all its states), and before it Z_k is at most that, so no value is
  smaller relative to its scale than in the old recursion: same ``IMPOSSIBLE`` (zero end mass).

Both use ``ctc_lexicon``'s ``group_posteriors`` (so the same ``_FLOOR``), and agree with
``ctc_log_likelihoods`` to rounding (tests/test_ctc_trie.py checks 1e-9 relative). On real PP-OCRv6
posteriors every word takes the fast path (benchmarks/ctc.py counts the ones that would not).

``shortlist=K`` (not the default, and approximate) ranks the words by a character-count vector
and scores only each image's top K exactly; see ``shortlist_log_likelihoods``.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numba
import numpy as np

from bench.api import onnx_threads
from methodkit.ctc_lexicon import (_FLOOR, BLANK_GROUP, IMPOSSIBLE, SPACE_GROUP, UNKNOWN_GROUP, CompiledLexicon,
                                  LexiconScorer, group_posteriors, letter_classes)
from methodkit.topk import top_k

_CHUNK = 32_768          # exact recursion: (node, image) pairs per vectorised step (its working set stays in cache)
_PAIRS = 32_768          # exact recursion: (node, image) pairs held per depth (bounds memory)
_FAST_IMAGES = 32        # fast kernel: images per call (a node's (T, images) rows stay in L1/L2)
_TINY = 1e-250           # fast-path end mass below this (in units of the per-frame maxima): rescore exactly
_BLOCK = 4               # frames whose zeta are multiplied before one log (each zeta is >= _FLOOR)
SHORTLIST_OFFSET = IMPOSSIBLE / 2   # words left out of a shortlist score this minus their count distance


@dataclass(frozen=True)
class _Depth:
    """The nodes at one depth d (d = 1 .. longest word + 1).

    Nodes ``[0, n_real)`` are trie nodes (prefixes of d labels); nodes ``[n_real, N)`` are the
    trailing-space states of the words of d - 1 labels, one per distinct word at depth d - 1.
    """
    parent: np.ndarray       # (N,) node index at depth d - 1 (depth 0 is the root, index 0)
    label: np.ndarray        # (N,) emission group
    source: np.ndarray       # (N,) what feeds the node from its parent: the parent's blank-after
    #                          (index parent) or, where the labels differ (the s-2 -> s transition
    #                          is allowed), blank-after plus label state (index parent + N_parent)
    n_real: int
    word_index: np.ndarray   # (n_w,) positions in the trie's ``words`` of the words of d - 1 labels
    word_end: np.ndarray     # (n_w,) their trailing-space node, counted from n_real


@dataclass(frozen=True)
class LexiconTrie:
    """A compiled lexicon's words (or those at positions ``index``) as a trie of emission groups
    (build once per lexicon and charset). Scores come in the order of ``words``."""
    lexicon: CompiledLexicon
    depths: tuple[_Depth, ...]
    index: np.ndarray | None = None

    @property
    def words(self) -> tuple[str, ...]:
        words = self.lexicon.words
        return words if self.index is None else tuple(words[i] for i in self.index)

    @property
    def n_words(self) -> int:
        return len(self.lexicon.words) if self.index is None else len(self.index)

    def positions(self, selection: np.ndarray) -> np.ndarray:
        """Lexicon positions of the trie's words at ``selection``."""
        return selection if self.index is None else self.index[selection]

    @property
    def substitutions(self) -> dict[str, str]:
        return self.lexicon.substitutions

    @property
    def n_nodes(self) -> int:
        return sum(d.n_real for d in self.depths)

    @functools.cached_property
    def preorder(self) -> "_Preorder":
        return _preorder(self)

    @functools.cached_property
    def lexicon_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """``word_labels`` of the whole compiled lexicon, kept: a shortlist's words are read from it."""
        return word_labels(self.lexicon)

    @functools.cached_property
    def word_counts(self) -> tuple[np.ndarray, np.ndarray]:
        labels, counts = _word_counts(self.lexicon)
        return (labels, counts) if self.index is None else (labels[self.index], counts[self.index])


@dataclass(frozen=True)
class _Preorder:
    """Every node of a trie (trailing-space nodes included, the root not) in depth-first preorder,
    as the fast kernel walks them: a node comes right after its parent or its parent's earlier
    subtrees, so its parent is the last node visited one depth up."""
    depth: np.ndarray        # (M,) 1 .. longest word + 1
    label: np.ndarray        # (M,) emission group
    slot: np.ndarray         # (M,) what feeds the node from its parent: 0 its blank-after state, 1 that plus its label state
    end: np.ndarray          # (M,) a trailing-space node's row in the kernel's end masses, -1 for the others
    word_end: np.ndarray     # (W,) each word's row in the end masses
    n_ends: int


def _preorder(trie: "LexiconTrie") -> _Preorder:
    """Positions by subtree sizes, one depth at a time: a node's position is its parent's plus one
    plus the sizes of its earlier siblings (children in index order)."""
    depths = trie.depths
    sizes = [np.ones(len(d.parent), dtype=np.int64) for d in depths]
    for k in range(len(depths) - 1, 0, -1):
        np.add.at(sizes[k - 1], depths[k].parent, sizes[k])
    parent_position = np.array([-1])
    positions = []
    for d, size in zip(depths, sizes):
        order = np.argsort(d.parent, kind="stable")
        before = np.cumsum(size[order]) - size[order]                    # sizes of the nodes ahead, all parents
        first = np.searchsorted(d.parent[order], d.parent[order])        # each node's first sibling, in order
        position = np.empty(len(d.parent), dtype=np.int64)
        position[order] = parent_position[d.parent[order]] + 1 + before - before[first]
        positions.append(position)
        parent_position = position
    total = sum(len(d.parent) for d in depths)
    order = np.empty(total, dtype=np.int64)
    order[np.concatenate(positions) if positions else np.empty(0, dtype=np.int64)] = np.arange(total)
    n_parents = [1] + [len(d.parent) for d in depths[:-1]]
    ends, word_end, n_ends = [], np.zeros(trie.n_words, dtype=np.int64), 0
    for d in depths:
        end = np.full(len(d.parent), -1, dtype=np.int64)
        n = len(d.parent) - d.n_real
        end[d.n_real:] = np.arange(n_ends, n_ends + n)
        word_end[d.word_index] = n_ends + d.word_end
        ends.append(end)
        n_ends += n

    def flat(arrays):
        return np.concatenate(arrays)[order] if arrays else np.empty(0, dtype=np.int64)
    return _Preorder(depth=flat([np.full(len(d.parent), k, dtype=np.int64) for k, d in enumerate(depths, 1)]),
                     label=flat([d.label for d in depths]),
                     slot=flat([(d.source >= n).astype(np.int64) for d, n in zip(depths, n_parents)]),
                     end=flat(ends), word_end=word_end, n_ends=n_ends)


def word_labels(lexicon: CompiledLexicon) -> tuple[np.ndarray, np.ndarray]:
    """(W, L) emission groups of every word, padded with -1, and (W,) lengths: compile_lexicon's own."""
    n_words = len(lexicon.words)
    longest = max((b.groups.shape[1] - 5) // 2 for b in lexicon.buckets) if lexicon.buckets else 0
    labels = np.full((n_words, longest), -1, dtype=np.int64)
    lengths = np.zeros(n_words, dtype=np.int64)
    for b in lexicon.buckets:
        n = (b.groups.shape[1] - 5) // 2
        labels[b.word_index, :n] = b.groups[:, 3:2 * n + 2:2]
        lengths[b.word_index] = n
    return labels, lengths


def build_trie(lexicon: CompiledLexicon, subset: np.ndarray | None = None) -> LexiconTrie:
    """The trie of ``lexicon``'s words (or of the words at positions ``subset``, in that order)."""
    labels, lengths = word_labels(lexicon)
    if subset is not None:
        subset = np.asarray(subset, dtype=np.int64)
        labels, lengths = labels[subset], lengths[subset]
    n_groups = len(lexicon.members)
    node = np.zeros(len(lengths), dtype=np.int64)        # each word's node at the current depth
    prev_label = np.array([SPACE_GROUP])                  # the root's last state is the optional space
    depths = []
    n_prev = 1
    longest = int(lengths.max()) if len(lengths) else 0
    for d in range(1, longest + 2):
        alive = np.flatnonzero(lengths >= d)
        step = node[alive] * n_groups + labels[alive, d - 1] if d <= longest else node[:0]
        keys, inverse = np.unique(step, return_inverse=True)
        ending = np.flatnonzero(lengths == d - 1)
        ends, word_end = np.unique(node[ending], return_inverse=True)
        parent = np.concatenate([keys // n_groups, ends])
        label = np.concatenate([keys % n_groups, np.full(len(ends), SPACE_GROUP)])
        repeat = label == prev_label[parent]
        depths.append(_Depth(parent, label, parent + n_prev * ~repeat, len(keys), ending, word_end.reshape(-1)))
        node[alive] = inverse.reshape(-1)
        prev_label, n_prev = label, len(label)
    return LexiconTrie(lexicon, tuple(depths), subset)


# -- the recursions ---------------------------------------------------------------------------------
# The exact recursion's arrays are (frames, nodes, images): a frame's row over a run of nodes is
# contiguous, and a node's parent variables are gathered as whole rows. A depth's variables: X (T,
# N, B) the label state; W (T, 2N, B) the blank-after state y in [:N] and x + y in [N:] (what
# ``source`` indexes). ``_root`` serves both recursions.

def _root(em: np.ndarray, exact: bool):
    """The states blank, SPACE, blank before every word, as depth 0's one node: X (T, 1, B) its
    space state, W (T, 2, B), and (exact) zeta (T, 1, B) = Z_0[t] / Z_0[t-1] with Z_0[-1] = 1."""
    n_frames, _, n_images = em.shape
    b, s = em[:, BLANK_GROUP], em[:, SPACE_GROUP]
    state = np.stack([b[0], s[0], b[0]])                  # all three may start
    X, W, Z = (np.empty((n_frames, k, n_images)) for k in (1, 2, 1))
    for t in range(n_frames):
        if t:
            state = np.stack([state[0] * b[t], (state[1] + state[0]) * s[t], (state[2] + state[1]) * b[t]])
        total = state.sum(axis=0)
        if exact:
            state = state / total
        Z[t, 0], X[t, 0], W[t, 0], W[t, 1] = total, state[1], state[2], state[1] + state[2]
    return X, W, Z


def _inputs(em, parent_w, depth: _Depth, lo: int, hi: int, t0: int):
    """u (frames t0 - 1 .. T - 2; what enters lk from the parent) and e (frames t0 ..; lk's emission)."""
    first = max(t0 - 1, 0)
    return (np.take(parent_w[first:em.shape[0] - 1], depth.source[lo:hi], axis=1),
            np.take(em[t0:], depth.label[lo:hi], axis=1))


@numba.njit(cache=True, nogil=True)
def _fast_end_masses(em, blank, root, depth, label, slot, end, n_ends, deepest):  # pragma: no cover - compiled
    """The fast recursion over every node in preorder -> (n_ends, B) end masses, in units of the
    per-frame maxima. em (G, T, B) scaled group emissions, blank (T, B) the blank's, root (2, T, B)
    the root's blank-after state and that plus its space state. A node at depth d holds, in
    ``held[d]``, y (its blank-after state) and v = x + y over all frames: x[t] = (x[t-1] + u[t-1]) e[t],
    y[t] = v[t-1] b[t], where u is the parent's y or v (``slot``). The same operations in the same
    order as a numpy recursion would do them (no fast-math), so the same numbers."""
    n_frames, n_images = blank.shape
    held = np.zeros((deepest + 1, 2, n_frames, n_images))   # depth 0 (the root) .. deepest
    held[0] = root
    x = np.empty(n_images)
    masses = np.empty((n_ends, n_images))
    for k in range(depth.shape[0]):
        d = depth[k]
        u, out, e = held[d - 1, slot[k]], held[d], em[label[k]]
        t0 = d - 1                          # the node's label cannot be reached before frame d - 1
        if t0 < n_frames:                   # frames before t0 stay 0: every node of this depth has the same t0
            start = t0
            if t0 == 0:                     # depth 1 at frame 0: the label is a start state
                for i in range(n_images):
                    x[i] = e[0, i]
                    out[0, 0, i] = 0.0
                    out[1, 0, i] = x[i]
                start = 1
            else:
                x[:] = 0.0
            for t in range(start, n_frames):
                for i in range(n_images):
                    xt = (x[i] + u[t - 1, i]) * e[t, i]
                    yt = out[1, t - 1, i] * blank[t, i]
                    x[i] = xt
                    out[0, t, i] = yt
                    out[1, t, i] = xt + yt
        if end[k] >= 0:                     # a trailing-space node: its word ends in it or in its parent
            for i in range(n_images):
                masses[end[k], i] = out[1, n_frames - 1, i] + held[d - 1, 1, n_frames - 1, i]
    return masses


def _score_fast(em: np.ndarray, trie: LexiconTrie) -> np.ndarray:
    """(B, W) scores of one chunk of images from em (T, G, B), NaN where a word's end mass (in
    units of the per-frame maxima) is below _TINY or zero."""
    scale = em.max(axis=1)                                # (T, B)
    em = em / scale[:, None]
    # frames added one after another, whatever the chunk's layout or size (numpy's own sum would
    # switch to pairwise summation for a chunk of one image, a last-bit difference)
    log_scale = functools.reduce(np.add, np.log(scale))   # (B,)
    _, root, _ = _root(em, exact=False)
    order = trie.preorder
    mass = _fast_end_masses(np.ascontiguousarray(em.transpose(1, 0, 2)), np.ascontiguousarray(em[:, BLANK_GROUP]),
                            np.ascontiguousarray(root.transpose(1, 0, 2)), order.depth, order.label, order.slot,
                            order.end, order.n_ends, len(trie.depths))   # the deepest node: a trailing space
    with np.errstate(divide="ignore"):
        scores = np.where(mass >= _TINY, log_scale + np.log(mass), np.nan)
    return scores[order.word_end].T


def _extend_exact(em, parents, depth: _Depth, d: int, lo: int, hi: int, out) -> None:
    """Nodes ``[lo, hi)`` of depth ``d`` into ``out`` = (X, W, zeta, rho at the last frame), in
    units of the node's prefix mass Z_k (nothing exceeds 1; the parent's variables, in units of
    Z_{k-1}, enter multiplied by rho = Z_{k-1} / Z_k). Per frame: x' = (x + u rho) e,
    y' = (x + y) b, a = zeta_{k-1} rho, zeta_k = a + x' + y', then x', y', x' + y', a / zeta_k."""
    X, W, Z, rho_out = out
    n_frames, n_nodes = X.shape[:2]
    x, y, v, z = X[:, lo:hi], W[:, lo:hi], W[:, n_nodes + lo:n_nodes + hi], Z[:, lo:hi]
    t0 = d - 1
    zp = np.take(parents[2], depth.parent[lo:hi], axis=1)
    z[:t0] = zp[:t0]
    x[:t0] = y[:t0] = v[:t0] = 0.0
    rho = rho_out[lo:hi]
    rho.fill(1.0)
    if t0 >= n_frames:
        return
    u, e = _inputs(em, parents[1], depth, lo, hi, t0)
    blank = em[:, BLANK_GROUP:BLANK_GROUP + 1]
    first = max(t0 - 1, 0)
    a, xn, yn, inv = (np.empty(rho.shape) for _ in range(4))
    for t in range(t0, n_frames):
        if t == 0:
            np.copyto(xn, e[0])
            yn.fill(0.0)
            np.copyto(a, zp[0])
        else:
            np.multiply(zp[t], rho, out=a)
            np.multiply(u[t - 1 - first], rho, out=xn)
            np.add(xn, x[t - 1], out=xn)
            np.multiply(xn, e[t - t0], out=xn)
            np.multiply(v[t - 1], blank[t], out=yn)
        np.add(xn, yn, out=v[t])
        np.add(a, v[t], out=z[t])
        np.divide(1.0, z[t], out=inv)
        np.multiply(xn, inv, out=x[t])
        np.multiply(yn, inv, out=y[t])
        np.multiply(v[t], inv, out=v[t])
        np.multiply(a, inv, out=rho)


def _log_sum_zeta(zeta: np.ndarray) -> np.ndarray:
    """sum over frames of log zeta, (T, ...) -> (...), one log per _BLOCK frames."""
    pad = -zeta.shape[0] % _BLOCK
    if pad:
        zeta = np.concatenate([zeta, np.ones((pad,) + zeta.shape[1:])])
    return np.log(zeta.reshape((-1, _BLOCK) + zeta.shape[1:]).prod(axis=1)).sum(axis=0)


def _score_exact(em: np.ndarray, trie: LexiconTrie, out: np.ndarray) -> None:
    """Exact scores of one chunk of images, em (T, G, B) group emissions -> out (B, W), one depth
    at a time (breadth-first, vectorised over the depth's nodes: it runs for few words)."""
    n_frames, _, n_images = em.shape
    parents = _root(em, exact=True)
    step = max(1, _CHUNK // n_images)
    for d, depth in enumerate(trie.depths, start=1):
        n_nodes, real = len(depth.parent), depth.n_real
        shape = (n_frames, n_nodes, n_images)
        arrays = (np.empty(shape), np.empty((n_frames, 2 * n_nodes, n_images)), np.empty(shape), np.empty(shape[1:]))
        for lo in range(0, n_nodes, step):
            _extend_exact(em, parents, depth, d, lo, min(lo + step, n_nodes), arrays)
        if len(depth.word_index):
            # the word's own end states (its last label and blank: x + y of its node) and the
            # trailing space and blank (x + y of the trailing node)
            own = np.take(parents[1][-1], depth.parent[real:] + parents[0].shape[1], axis=0)
            trailing = arrays[1][-1, n_nodes + real:]
            with np.errstate(divide="ignore"):
                mass = trailing + arrays[3][real:] * own
                scores = np.where(mass > 0, _log_sum_zeta(arrays[2][:, real:]) + np.log(mass), IMPOSSIBLE)
            out[:, depth.word_index] = scores[depth.word_end].T
        parents = arrays


def _score(em: np.ndarray, trie: LexiconTrie, exact: bool) -> np.ndarray:
    """(B, W) scores from em (T, G, B), images in chunks (that bound memory for the exact recursion)."""
    out = np.empty((em.shape[2], trie.n_words), dtype=np.float64)
    if not out.shape[1]:
        return out
    if exact:
        per_chunk = max(1, _PAIRS // max(len(d.parent) for d in trie.depths))
        for lo in range(0, em.shape[2], per_chunk):
            _score_exact(np.ascontiguousarray(em[:, :, lo:lo + per_chunk]), trie, out[lo:lo + per_chunk])
        return out
    # The kernel releases the GIL: chunks of images on onnxruntime's thread count (the cores the
    # networks use). Each image's arithmetic is its own, so the scores do not depend on the split.
    starts = range(0, em.shape[2], _FAST_IMAGES)

    def chunk(lo: int) -> None:
        out[lo:lo + _FAST_IMAGES] = _score_fast(em[:, :, lo:lo + _FAST_IMAGES], trie)
    if len(starts) <= 1 or onnx_threads() <= 1:
        for lo in starts:
            chunk(lo)
    else:
        trie.preorder                                     # built once, before the threads
        with ThreadPoolExecutor(min(onnx_threads(), len(starts))) as pool:
            list(pool.map(chunk, starts))
    return out


def _as_trie(lexicon: CompiledLexicon | LexiconTrie) -> LexiconTrie:
    return lexicon if isinstance(lexicon, LexiconTrie) else build_trie(lexicon)


def _emissions(probs, lexicon: CompiledLexicon, blank: int) -> np.ndarray:
    """(T, G, B) group emissions of a (B, T, C) array, or of a list grouped image by image."""
    if isinstance(probs, np.ndarray):
        return group_posteriors(probs, lexicon, blank).transpose(1, 2, 0)
    return np.stack([group_posteriors(np.asarray(p)[None], lexicon, blank)[0] for p in probs], axis=2)


def trie_log_likelihoods(probs: np.ndarray, lexicon: CompiledLexicon | LexiconTrie, blank: int = 0,
                         shortlist: int | None = None) -> np.ndarray:
    """log p(word | image) for every lexicon word: ``ctc_log_likelihoods``'s scores, via the trie.

    ``probs`` is (T, C) for one image (returns (W,)), or (B, T, C) or a list of B (T, C) arrays
    for images of T frames each (returns (B, W)): a list is grouped image by image and never
    stacked whole (a recogniser's thousands of classes, copied, cost more than a short list's
    scoring). Pass a ``LexiconTrie`` (``build_trie``) to reuse the trie across calls.
    ``shortlist=K`` switches to the approximate ``shortlist_log_likelihoods``.
    """
    if not isinstance(probs, (list, tuple)):
        probs = np.asarray(probs)
        if probs.ndim == 2:
            return trie_log_likelihoods(probs[None], lexicon, blank, shortlist)[0]
    trie = _as_trie(lexicon)
    if shortlist is not None:
        return shortlist_log_likelihoods(np.asarray(probs), trie, shortlist, blank)
    em = _emissions(probs, trie.lexicon, blank)                                # (T, G, B)
    out = _score(em, trie, exact=False)
    for i in np.flatnonzero(np.isnan(out).any(axis=1)):
        rescore = np.flatnonzero(np.isnan(out[i]))
        out[i, rescore] = _score(em[:, :, i:i + 1], build_trie(trie.lexicon, trie.positions(rescore)),
                                 exact=True)[0]
    return out


# -- shortlist (approximate, opt-in) ----------------------------------------------------------------

def _word_counts(lexicon: CompiledLexicon) -> tuple[np.ndarray, np.ndarray]:
    """(W, L) each word's emission groups (sorted, padding 0) and, at each group's first position,
    how often the word holds it (0 elsewhere and on padding)."""
    labels, _ = word_labels(lexicon)
    n_groups = len(lexicon.members)
    ordered = np.sort(np.where(labels >= 0, labels, n_groups), axis=1)      # padding sorts last
    flat = (np.arange(len(labels))[:, None] * (n_groups + 1) + ordered).ravel()   # sorted overall
    counts = (np.searchsorted(flat, flat, "right") - np.searchsorted(flat, flat, "left")).reshape(labels.shape)
    first = ordered < n_groups
    first[:, 1:] &= ordered[:, 1:] != ordered[:, :-1]
    return np.where(first, ordered, 0), np.where(first, counts, 0)


def count_distances(probs: np.ndarray, lexicon: CompiledLexicon | LexiconTrie, blank: int = 0) -> np.ndarray:
    """(B, W) L1 distance between each word's emission-group counts and the image's expected
    counts (per group, the sum over frames of its rises in posterior: about how many times it is
    written; the blank and the unknown-character group count 0). A cheap ranking in the spirit of Retsinas et al.'s
    character-count shortlist (ICDAR 2023), without the pyramid."""
    trie = _as_trie(lexicon)
    em = group_posteriors(np.asarray(probs), trie.lexicon, blank)             # (B, T, G)
    rises = np.maximum(np.diff(em, axis=1, prepend=0.0), 0.0).sum(axis=1)   # (B, G)
    rises[:, [BLANK_GROUP, UNKNOWN_GROUP]] = 0.0          # the unknown group is a mean of letters, not a class
    labels, counts = trie.word_counts
    expected = rises[:, labels]                                               # (B, W, L)
    used = counts > 0
    return rises.sum(axis=1)[:, None] + ((np.abs(expected - counts) - expected) * used).sum(axis=2)


def shortlist_log_likelihoods(probs: np.ndarray, lexicon: CompiledLexicon | LexiconTrie, k: int,
                              blank: int = 0) -> np.ndarray:
    """APPROXIMATE: each image's ``k`` words nearest by ``count_distances`` get their exact CTC
    score (as ``trie_log_likelihoods``); every other word gets ``SHORTLIST_OFFSET`` minus its count
    distance, below any exact finite score and above ``IMPOSSIBLE``. With ``k >= len(words)`` it
    is exact. A separately named option: the exact scorer is the default."""
    probs = np.asarray(probs)
    if probs.ndim == 2:
        return shortlist_log_likelihoods(probs[None], lexicon, k, blank)[0]
    trie = _as_trie(lexicon)
    if k >= trie.n_words:
        return trie_log_likelihoods(probs, trie, blank)
    # One image at a time: count_distances holds (W, L) temporaries per image.
    return np.stack([rescored_shortlist(probs[i:i + 1], trie, -count_distances(probs[i:i + 1], trie, blank), k,
                                        blank)[0] for i in range(probs.shape[0])])


def rescored_shortlist(probs: np.ndarray | Sequence[np.ndarray], lexicon: CompiledLexicon | LexiconTrie, prior: np.ndarray, k: int,
                       blank: int = 0, candidates: np.ndarray | None = None) -> np.ndarray:
    """APPROXIMATE: (B, W) scores where each image's ``k`` words of highest ``prior`` (B, W; any
    cheap ranking, higher better), and its ``candidates`` (B, k2) word indices from another cheap
    ranking if given, get their exact CTC log-likelihood and every other word
    ``SHORTLIST_OFFSET + prior``: below any exact finite score (a prior must stay within a few
    hundred thousand of zero) and in the prior's order. Each image's shortlist is scored word by
    word on its own posteriors (``_pair_log_likelihoods``): images of any frame counts together,
    and only the shortlist's characters are ever read."""
    trie = _as_trie(lexicon)
    parts = [top_k(np.asarray(prior), k)] if len(probs) and k > 0 else []
    out = SHORTLIST_OFFSET + np.asarray(prior, dtype=np.float64)
    if candidates is not None and np.asarray(candidates).size:
        parts.append(np.asarray(candidates, dtype=np.int64).reshape(len(probs), -1))
    if not parts:
        return out
    top = np.concatenate(parts, axis=1)   # a word in both lists is scored twice, to the same value
    positions = trie.positions(top)
    labels, lengths = trie.lexicon_labels
    members = trie.lexicon.members
    for i, p in enumerate(probs):
        p = np.asarray(p)
        out[i, top[i]] = _pair_log_likelihoods(p, members, labels, lengths, positions[i], blank,
                                               letter_classes(p.shape[1], trie.lexicon))
    return out


@numba.njit(cache=True, nogil=True)
def _pair_log_likelihoods(probs, members, labels, lengths, words, blank, n_chars):  # pragma: no cover - compiled
    """log p(word | image) of ``words`` (lexicon positions) under one image's (T, C) posteriors:
    ``ctc_lexicon._forward``'s recursion and ``group_posteriors``' emissions (floor, unknown
    character), one word at a time, reading only the word's own groups' columns."""
    n_frames = probs.shape[0]
    out = np.empty(len(words))
    for w in range(len(words)):
        n = lengths[words[w]]
        n_states = 2 * n + 5
        groups = np.full(n_states, BLANK_GROUP, np.int64)   # blank, SPACE, blank, l1, blank, ..., ln, blank, SPACE, blank
        groups[1] = SPACE_GROUP
        groups[2 * n + 3] = SPACE_GROUP
        for j in range(n):
            groups[3 + 2 * j] = labels[words[w], j]
        emission = np.empty(n_states)
        alpha = np.zeros(n_states)
        prev = np.zeros(n_states)
        log_scale = 0.0
        for t in range(n_frames):
            space = 0.0
            for m in members[SPACE_GROUP]:
                if m >= 0:
                    space += np.float64(probs[t, m])
            for s in range(n_states):
                g = groups[s]
                if g == UNKNOWN_GROUP:
                    value = (1.0 - np.float64(probs[t, blank]) - space) / n_chars
                else:
                    value = 0.0
                    for m in members[g]:
                        if m >= 0:
                            value += np.float64(probs[t, m])
                emission[s] = max(value, _FLOOR)
            if t == 0:
                for s in range(n_states):
                    alpha[s] = emission[s] if s < 4 else 0.0
            else:
                for s in range(n_states):
                    prev[s] = alpha[s]
                for s in range(n_states):
                    value = prev[s]
                    if s >= 1:
                        value += prev[s - 1]
                    if s >= 2 and groups[s] != BLANK_GROUP and groups[s] != groups[s - 2]:
                        value += prev[s - 2]
                    alpha[s] = value * emission[s]
            norm = alpha.sum()
            for s in range(n_states):
                alpha[s] /= norm
            log_scale += np.log(norm)
        final = 0.0
        for s in range(2 * n + 1, n_states):
            final += alpha[s]
        out[w] = log_scale + np.log(final) if final > 0 else IMPOSSIBLE
    return out


# -- the scorer a method holds ----------------------------------------------------------------------

class TrieLexiconScorer(LexiconScorer):
    """``LexiconScorer`` with the trie: same ``compiled()`` / ``score()``; ``compiled`` returns the
    ``LexiconTrie`` (its ``words`` and ``substitutions`` are the compiled lexicon's).
    ``shortlist=K`` makes it the approximate shortlist scorer."""

    def __init__(self, charset: Sequence[str], blank: int = 0, shortlist: int | None = None):
        super().__init__(charset, blank)
        self.shortlist = shortlist

    def _compile(self, words: tuple[str, ...]) -> LexiconTrie:
        return build_trie(super()._compile(words))

    def _likelihoods(self, posteriors: list[np.ndarray], compiled: LexiconTrie) -> np.ndarray:
        return trie_log_likelihoods(posteriors, compiled, self.blank, self.shortlist)
