"""Frozen-backbone features of dataset images, computed once and cached by image content."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bench.api import VectorCache


def cached_features(extract: Callable[[list], np.ndarray], namespace: str, cache_root: Path | None,
                    hashes: Sequence[str], load_image: Callable[[int], object], *, chunk: int = 256,
                    progress: Callable[[int], None] = lambda n: None) -> np.ndarray:
    """Features for items ``i`` (content hash ``hashes[i]``, image ``load_image(i)``), shape (N, ...).

    No items: ``extract([])``, an empty array of the extractor's trailing shape."""
    if not len(hashes):
        return np.asarray(extract([]))
    cache = VectorCache(cache_root, namespace)
    found = cache.lookup(list(hashes))
    todo = [i for i, v in enumerate(found) if v is None]
    shape = None
    for start in range(0, len(todo), chunk):
        idx = todo[start:start + chunk]
        feats = extract([load_image(i) for i in idx])
        shape = feats.shape[1:]
        cache.store([hashes[i] for i in idx], list(feats.reshape(len(idx), -1)))
        progress(len(idx))
    found = cache.lookup(list(hashes))
    if shape is None:
        shape = (40, found[0].size // 40) if found else (0,)
    return np.stack(found).reshape(len(hashes), *shape)
