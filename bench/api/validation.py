"""Checks on what a method returns: the method's fault is a ``MethodOutputError``, recorded as that
method's failure, never a crash of the run."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from bench.core.errors import MethodOutputError


def check_embeddings(x, n: int, where: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise MethodOutputError(f"{where} returned something that is not a float array ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] != n:
        raise MethodOutputError(f"{where} returned shape {arr.shape}, expected ({n}, dim)")
    if not np.isfinite(arr).all():
        raise MethodOutputError(f"{where} returned NaN or infinite values")
    return arr


def check_scores(x, lexicons: dict[str, Sequence[str]], n: int) -> dict[str, np.ndarray]:
    if not isinstance(x, dict) or set(x) != set(lexicons):
        raise MethodOutputError(f"score_texts must return a dict keyed by {sorted(lexicons)}")
    out = {}
    for lang, words in lexicons.items():
        arr = np.asarray(x[lang], dtype=np.float32)
        if arr.shape != (n, len(words)):
            raise MethodOutputError(f"score_texts returned shape {arr.shape} for {lang}, "
                                    f"expected {(n, len(words))}")
        if not np.isfinite(arr).all():
            raise MethodOutputError(f"score_texts returned NaN or infinite values for {lang}")
        out[lang] = arr
    return out


def check_transcripts(x, n: int, where: str = "transcribe") -> list[str]:
    if not isinstance(x, (list, tuple)) or len(x) != n:
        raise MethodOutputError(f"{where} returned {type(x).__name__} of length "
                                f"{len(x) if hasattr(x, '__len__') else '?'}, expected a list of {n} strings")
    bad = [type(t).__name__ for t in x if not isinstance(t, str)]
    if bad:
        raise MethodOutputError(f"{where} returned non-strings ({bad[0]})")
    return list(x)
