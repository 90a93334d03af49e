"""A method's outputs for dataset items, computed once and cached.

``MethodOutputs`` owns batching, timing and the on-disk cache; what is computed
(embeddings, transcripts, lexicon scores) is decided by the method's family
(``bench.engine.families``), which hands in the compute call and the cache kind.
Images are looked up by content hash and computed in batches of one script
(engines may need it); texts by (language, text).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from bench.api.cached import method_cache
from bench.api.retriever import Retriever
from bench.core.cache import TextCache, VectorCache, text_item_key
from bench.core.progress import Tracker
from bench.data.schema import ImageItem, LexiconEntry
from bench.data.store import Dataset
from bench.store.records import Timings


def batches(seq: Sequence, size: int):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


class MethodOutputs:
    def __init__(self, method: Retriever, dataset: Dataset, cache_root, tracker: Tracker,
                 batch_size: int | None = None):
        self.method = method
        self.batch_size = batch_size or method.batch_size   # images per method call
        self.dataset = dataset
        self.tracker = tracker
        self.timings = Timings()
        self._cache_root = cache_root
        self._caches: dict[str, VectorCache | TextCache] = {}
        # Per image key, every lexicon language the run's protocols read (``families.lexicon_reads``):
        # a scoring method scores an image against all of them in its one network pass. None: only
        # what the task at hand reads.
        self.lexicon_plan: dict[str, set[str]] | None = None

    def cache(self, kind: str, cache_type: type) -> VectorCache | TextCache:
        """The cache of one kind of output (``image``, ``transcript``, ...) of this method configuration."""
        if kind not in self._caches:
            self._caches[kind] = method_cache(self._cache_root, self.method.info, kind, cache_type)
        return self._caches[kind]

    def per_image(self, keys: Sequence[str], cache, compute: Callable[[list[ImageItem], str], list],
                  label: str) -> list:
        """One cached value per image; the missing ones computed by ``compute(items, lang)``."""
        hashes = [self.dataset.sample(k).content_hash for k in keys]
        found = cache.lookup(hashes)
        missing = sorted({h: k for h, k, v in zip(hashes, keys, found) if v is None}.items())
        self.timings.images_cached += len(keys) - len(missing)
        if not missing:
            return found
        by_lang: dict[str, list[tuple[str, str]]] = {}
        for h, k in missing:
            by_lang.setdefault(self.dataset.sample(k).lang, []).append((h, k))
        jobs = [(lang, chunk) for lang in sorted(by_lang) for chunk in batches(by_lang[lang], self.batch_size)]
        for lang, chunk in self.tracker.track(jobs, len(missing), f"{self.method.info.name}: {label}"):
            items = self.dataset.image_items([k for _, k in chunk])
            start = time.perf_counter()
            values = compute(items, lang)
            self.timings.image_seconds += time.perf_counter() - start
            self.timings.images_computed += len(items)
            cache.store([h for h, _ in chunk], values)
        return cache.lookup(hashes)

    def per_text(self, keys: Sequence[str], cache, compute: Callable[[list[str], str], list]) -> list:
        """One cached value per lexicon entry; the missing ones computed by ``compute(texts, lang)``."""
        entries = [self.dataset.lexicon_entry(k) for k in keys]
        hashes = [text_item_key(e.lang, e.text) for e in entries]
        found = cache.lookup(hashes)
        todo: list[tuple[str, LexiconEntry]] = sorted({h: e for h, e, v in zip(hashes, entries, found)
                                                       if v is None}.items())
        self.timings.texts_cached += len(keys) - len(todo)
        if not todo:
            return found
        by_lang: dict[str, list[tuple[str, LexiconEntry]]] = {}
        for h, e in todo:
            by_lang.setdefault(e.lang, []).append((h, e))
        jobs = [(lang, chunk) for lang in sorted(by_lang)
                for chunk in batches(by_lang[lang], max(self.batch_size, 256))]
        for lang, chunk in self.tracker.track(jobs, len(todo), f"{self.method.info.name}: texts"):
            start = time.perf_counter()
            values = compute([e.text for _, e in chunk], lang)
            self.timings.text_seconds += time.perf_counter() - start
            self.timings.texts_computed += len(chunk)
            cache.store([h for h, _ in chunk], values)
        return cache.lookup(hashes)
