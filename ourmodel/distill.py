"""The CTC lexicon teacher: what the frozen recogniser itself says about every lexicon word.

A posterior backbone's inputs are ``log(p + LOG_FLOOR)`` over the groups [blank, space,
*alphabet] (``ourmodel.ppocr.PosteriorGroups``), so the exact CTC likelihood of each lexicon
word (``methodkit.ctc_lexicon``, the ``*-ctc`` methods' scorer) is a pure function of the
cached training inputs. The teacher keeps each training image's ``k`` most likely words of
its own language; ``train()`` matches ours' softmax over that language's lexicon to the
teacher's softmax at temperature ``distill_tau`` (a soft ranking: which spellings the
recogniser finds close, where our head only sees the right answer). The student still
answers with one vector search; the teacher pays per lexicon word, once, at training time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from ourmodel.ppocr import group_charset, posteriors_of


def teacher_topk(inputs: np.ndarray, langs: Sequence[str], lexicon_texts: dict[str, list[str]],
                 rows: dict[str, np.ndarray], alphabet: str, k: int, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per image, the ``k`` best words of its language: (global lexicon rows (N, k) int64,
    CTC log-likelihoods (N, k) float32, best first). ``lexicon_texts[lang]`` are the words of
    ``lang`` whose lexicon rows are ``rows[lang]``."""
    from methodkit.ctc_lexicon import compile_lexicon
    from methodkit.ctc_trie import build_trie, trie_log_likelihoods

    charset = group_charset(alphabet)
    if inputs.shape[-1] != len(charset):
        raise ValueError(f"teacher: inputs have {inputs.shape[-1]} groups, the alphabet gives {len(charset)}; "
                         "distillation needs a posterior backbone (backbone=ppocrv6)")
    compiled = {lang: build_trie(compile_lexicon(words, charset, blank=0, space=1))
                for lang, words in lexicon_texts.items()}
    langs = np.asarray(langs)
    out_rows = np.zeros((len(inputs), k), dtype=np.int64)
    out_ll = np.zeros((len(inputs), k), dtype=np.float32)
    for lang, lex in compiled.items():
        idx = np.flatnonzero(langs == lang)
        kk = min(k, len(lex.words))
        for start in range(0, len(idx), chunk):
            part = idx[start:start + chunk]
            ll = trie_log_likelihoods(posteriors_of(inputs[part]), lex)
            top = np.argpartition(-ll, kk - 1, axis=1)[:, :kk]
            order = np.argsort(-np.take_along_axis(ll, top, 1), axis=1, kind="stable")
            top = np.take_along_axis(top, order, 1)
            out_rows[part, :kk] = rows[lang][top]
            out_ll[part, :kk] = np.take_along_axis(ll, top, 1)
            if kk < k:   # a tiny lexicon: repeat the last word at an impossible score
                out_rows[part, kk:] = out_rows[part, kk - 1:kk]
                out_ll[part, kk:] = -1e6
    return out_rows, out_ll


def cached_teacher(inputs: np.ndarray, langs: Sequence[str], lexicon_texts: dict[str, list[str]],
                   rows: dict[str, np.ndarray], alphabet: str, k: int, cache_root: Path | None,
                   key: str, log=print) -> tuple[np.ndarray, np.ndarray]:
    """``teacher_topk``, stored under ``cache_root/features`` by ``key`` (what made the inputs:
    the backbone's recorded digests and the datasets' fingerprints), the lexicon and ``k``."""
    digest = hashlib.sha256(repr((key, sorted((l, tuple(w), tuple(rows[l].tolist())) for l, w in
                                              lexicon_texts.items()), alphabet, k)).encode()).hexdigest()[:20]
    path = None if cache_root is None else Path(cache_root) / "features" / f"ctc-teacher-{digest}.npz"
    if path is not None and path.is_file():
        with np.load(path) as z:
            if z["rows"].shape[0] == len(inputs):
                return z["rows"], z["loglik"]
    log(f"computing the CTC lexicon teacher for {len(inputs)} training images (top {k})")
    top_rows, top_ll = teacher_topk(inputs, langs, lexicon_texts, rows, alphabet, k)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, rows=top_rows, loglik=top_ll)
        tmp.replace(path)
    return top_rows, top_ll
