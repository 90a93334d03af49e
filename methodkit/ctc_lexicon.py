"""Exact CTC likelihood of every lexicon word, vectorised over words and images.

A CTC recogniser gives per-frame posteriors over its character set plus a
blank. Instead of decoding greedily and comparing strings, a lexicon word ``w``
is scored by ``log p(w | image)``: the total probability of all frame
alignments that collapse to ``w``, computed with the CTC forward recursion.

Choices that make the score fit handwritten word crops:

* an optional space before and after the word (recognisers often emit one at
  a crop's edge): the state graph has optional space states at both ends, so the
  score is p(w) + p(" w") + p("w ") + p(" w ") with no path counted twice;
* case-insensitive, like the harness's text policy: a letter's state emits the
  sum of the posteriors of its case variants. That is exactly CTC under the
  recogniser with case variants merged into one class (summing a softmax's
  classes gives the merged class's posterior), so "aA" reads as one "a";
* characters missing from the recogniser's set are mapped explicitly: to their
  accent-less base letter where that exists (ñ -> n), else to an "unknown
  character" state whose posterior is the average of the non-blank, non-space
  classes (as if the character were one more class the recogniser never
  favours; a wildcard summing them instead would let a one-character word match
  any image). ``CompiledLexicon.substitutions`` records every mapping so results
  can say what was approximated.

The forward pass runs in probability space with per-frame rescaling (Graves,
2006), over all words of one length at once.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

BLANK_GROUP, SPACE_GROUP, UNKNOWN_GROUP = 0, 1, 2
IMPOSSIBLE = -1.0e6     # a word that cannot fit in the frames (finite, so rankings stay total)
_FLOOR = 1e-30          # emission floor: keeps every reachable state > 0 in float64


@dataclass(frozen=True)
class _Bucket:
    word_index: np.ndarray   # (n_words,) positions in the lexicon
    groups: np.ndarray       # (n_words, S) emission group of each state
    skip: np.ndarray         # (n_words, S) float: 1 where the s-2 -> s transition is allowed
    start: np.ndarray        # (S,) float: 1 on allowed first states
    end: np.ndarray          # (S,) bool: allowed last states


@dataclass
class CompiledLexicon:
    words: tuple[str, ...]
    members: np.ndarray                       # (G, K) class indices per group, padded with -1
    buckets: list[_Bucket]
    substitutions: dict[str, str] = field(default_factory=dict)  # char -> base letter or "<unknown>"


def compile_lexicon(words: Sequence[str], charset: Sequence[str], blank: int = 0,
                    space: int | None = None) -> CompiledLexicon:
    """Build the state graphs of ``words`` for a recogniser whose class i is ``charset[i]``.

    ``blank`` is the blank class; ``space`` the class of " " (None if it has none).
    """
    index = {c: i for i, c in enumerate(charset) if i != blank}
    if space is None:
        space = index.get(" ")
    group_of: dict[tuple[int, ...], int] = {}
    members: list[tuple[int, ...]] = [(blank,), (space,) if space is not None else (), ()]
    substitutions: dict[str, str] = {}

    def group(char: str) -> int:
        if char == " ":
            return SPACE_GROUP if space is not None else UNKNOWN_GROUP
        classes = _case_variants(char, index)
        if not classes:
            base = unicodedata.normalize("NFD", char)[0]
            classes = _case_variants(base, index) if base != char else ()
            substitutions[char] = base if classes else "<unknown>"
        if not classes:
            return UNKNOWN_GROUP
        if classes not in group_of:
            group_of[classes] = len(members)
            members.append(classes)
        return group_of[classes]

    by_length: dict[int, list[tuple[int, list[int]]]] = {}
    for i, word in enumerate(words):
        labels = [group(c) for c in unicodedata.normalize("NFC", word)]
        if not labels:
            raise ValueError(f"lexicon word {i} is empty")
        by_length.setdefault(len(labels), []).append((i, labels))
    buckets = [_bucket(entries, n) for n, entries in sorted(by_length.items())]

    width = max(len(m) for m in members)
    table = np.full((len(members), max(width, 1)), -1, dtype=np.int64)
    for g, m in enumerate(members):
        table[g, :len(m)] = m
    return CompiledLexicon(tuple(words), table, buckets, substitutions)


def _case_variants(char: str, index: dict[str, int]) -> tuple[int, ...]:
    variants = {char, char.lower(), char.upper()}
    return tuple(sorted(index[v] for v in variants if len(v) == 1 and v in index))


def _bucket(entries: list[tuple[int, list[int]]], n: int) -> _Bucket:
    # States: blank, SPACE, blank, l1, blank, l2, ..., blank, ln, blank, SPACE, blank.
    s_len = 2 * n + 5
    groups = np.full((len(entries), s_len), BLANK_GROUP, dtype=np.int64)
    groups[:, 1] = groups[:, 2 * n + 3] = SPACE_GROUP
    for row, (_, labels) in enumerate(entries):
        groups[row, 3:2 * n + 2:2] = labels
    skip = np.zeros(groups.shape, dtype=np.float64)
    skip[:, 2:] = (groups[:, 2:] != BLANK_GROUP) & (groups[:, 2:] != groups[:, :-2])
    start = np.zeros(s_len)
    start[:4] = 1.0                               # blank, space, blank (no space), l1
    end = np.zeros(s_len, dtype=bool)
    end[2 * n + 1:] = True                        # ln, blank, space, blank
    return _Bucket(np.array([i for i, _ in entries]), groups, skip, start, end)


def group_posteriors(probs: np.ndarray, lexicon: CompiledLexicon, blank: int = 0) -> np.ndarray:
    """(B, T, C) class posteriors -> (B, T, G) emission probability of each group."""
    # Only the lexicon's columns are read and widened to float64 (a recogniser has thousands of
    # classes; converting all of them cost more than the scoring); a missing member adds 0.0 in
    # the same place of the sum as before, so the values are unchanged.
    probs = np.asarray(probs)
    members = lexicon.members
    gathered = probs[:, :, np.maximum(members, 0)].astype(np.float64)
    gathered[:, :, members < 0] = 0.0
    out = gathered.sum(axis=3)
    out[:, :, UNKNOWN_GROUP] = ((1.0 - probs[:, :, blank].astype(np.float64) - out[:, :, SPACE_GROUP])
                                / letter_classes(probs.shape[2], lexicon))
    return np.maximum(out, _FLOOR)


def letter_classes(n_classes: int, lexicon: CompiledLexicon) -> int:
    """How many of a recogniser's ``n_classes`` classes are neither blank nor space (at least 1):
    the unknown-character group's posterior is their mean."""
    return max(n_classes - 1 - int((lexicon.members[SPACE_GROUP] >= 0).any()), 1)


def ctc_log_likelihoods(probs: np.ndarray, lexicon: CompiledLexicon, blank: int = 0) -> np.ndarray:
    """log p(word | image) for every image (rows of ``probs``, (B, T, C)) and lexicon word."""
    emissions = group_posteriors(probs, lexicon, blank)
    n_images, n_frames, _ = emissions.shape
    out = np.empty((n_images, len(lexicon.words)), dtype=np.float64)
    for bucket in lexicon.buckets:
        out[:, bucket.word_index] = _forward(emissions, bucket)
    return out


def by_frame_count(posteriors: Sequence[np.ndarray]) -> list[list[int]]:
    """Indices of per-image posteriors grouped by frame count, in input order within a group:
    the recursions score the images of one frame count as one stacked array."""
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(posteriors):
        groups.setdefault(p.shape[0], []).append(i)
    return list(groups.values())


class LexiconScorer:
    """One recogniser's CTC scoring of word lists: each list compiled once against its character
    set (a serving system keeps it), images of equal frame count scored in one vectorised pass."""

    def __init__(self, charset: Sequence[str], blank: int = 0):
        self.charset, self.blank = list(charset), blank
        self._compiled: dict[tuple[str, ...], CompiledLexicon] = {}

    def compiled(self, words: Sequence[str]) -> CompiledLexicon:
        key = tuple(words)
        if key not in self._compiled:
            self._compiled[key] = self._compile(key)
        return self._compiled[key]

    def _compile(self, words: tuple[str, ...]):
        return compile_lexicon(words, self.charset, blank=self.blank)

    def _likelihoods(self, posteriors: list[np.ndarray], compiled) -> np.ndarray:
        """B (T, C) posteriors of images with T frames each -> (B, n_words) log-likelihoods."""
        return ctc_log_likelihoods(np.stack(posteriors), compiled, self.blank)

    def score(self, posteriors: Sequence[np.ndarray], lexicons: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
        """{language: (n_images, n_words) log-likelihoods} from per-image (T_i, C) posteriors."""
        out = {lang: np.empty((len(posteriors), len(words)), dtype=np.float32) for lang, words in lexicons.items()}
        for idx in by_frame_count(posteriors):
            group = [posteriors[i] for i in idx]
            for lang, words in lexicons.items():
                out[lang][idx] = self._likelihoods(group, self.compiled(words))
        return out


def _forward(emissions: np.ndarray, bucket: _Bucket) -> np.ndarray:
    n_frames = emissions.shape[1]
    alpha = bucket.start * emissions[:, 0, :][:, bucket.groups]          # (B, W, S)
    log_scale = np.zeros(alpha.shape[:2])
    for t in range(n_frames):
        if t:
            prev = alpha
            alpha = prev.copy()
            alpha[..., 1:] += prev[..., :-1]
            alpha[..., 2:] += bucket.skip[:, 2:] * prev[..., :-2]
            alpha *= emissions[:, t, :][:, bucket.groups]
        norm = alpha.sum(axis=2, keepdims=True)
        alpha /= norm
        log_scale += np.log(norm[..., 0])
    final = alpha[..., bucket.end].sum(axis=2)
    with np.errstate(divide="ignore"):
        scores = log_scale + np.log(final)
    return np.where(final > 0, scores, IMPOSSIBLE)


def greedy_decode(probs: np.ndarray, charset: Sequence[str], blank: int = 0) -> list[str]:
    """Best-path decoding (argmax per frame, merge repeats, drop blanks), stripped."""
    best = np.asarray(probs).argmax(axis=2)
    texts = []
    for row in best:
        keep = np.ones(len(row), dtype=bool)
        keep[1:] = row[1:] != row[:-1]
        texts.append("".join(charset[c] for c in row[keep] if c != blank).strip())
    return texts
