"""A method's outputs for dataset items, computed once and cached.

``MethodOutputs`` owns batching, timing and the on-disk cache; what is computed
(embeddings, transcripts, lexicon scores) is decided by the method's family
(``bench.engine.families``), which hands in the compute call and the cache kind.
Images are looked up by content hash and computed in batches of one script
(engines may need it); texts by (language, text).
"""

from __future__ import annotations

import hashlib
import time
from typing import Callable, Sequence

import numpy as np

from bench.api.cached import method_cache
from bench.core.cache import TextCache, VectorCache, text_item_key
from bench.data.store import Dataset
from bench.core.progress import Tracker
from bench.store.records import Timings
from bench.api.retriever import Retriever
from bench.data.schema import ImageItem, LexiconEntry
from bench.api.validation import check_scores


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

    # -- scores against whole lexicons (scoring family) -------------------------------------
    def _score_cache(self, lang: str, entries: Sequence[LexiconEntry] | None = None) -> VectorCache:
        # Columns follow the word list's order, so the list itself is part of the key.
        entries = self.dataset.lexicon_for(lang) if entries is None else entries
        words = "\n".join(e.key + "\t" + e.text for e in entries)
        digest = hashlib.sha256(words.encode()).hexdigest()[:16]
        return self.cache(f"scores-{lang}-{digest}", VectorCache)

    def gallery_scores(self, keys: Sequence[str], lang: str, entries: Sequence[LexiconEntry], score) -> list:
        """Each image's scores against one word list (a gallery with distractors), in its order."""
        cache = self._score_cache(lang, entries)
        words = [e.text for e in entries]

        def compute(items, img_lang):
            lexicons = {lang: words}
            return list(check_scores(score(items, img_lang, lexicons), lexicons, len(items))[lang])

        return self.per_image(keys, cache, compute, f"scoring {len(words):,} words")

    def lexicon_scores(self, needs: dict[str, set[str]], score) -> dict[str, dict[str, np.ndarray]]:
        """Each image's scores against the whole lexicon of each language it needs.

        ``needs`` maps an image key to lexicon languages; ``score(items, lang, lexicons)`` is the
        method's call. The answer maps a language to {image key: scores in
        ``dataset.lexicon_for(lang)`` order}. One call per batch fills every language it misses.
        """
        ds = self.dataset
        todo: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
        for key in sorted(needs):
            h = ds.sample(key).content_hash
            missing = tuple(sorted(lex_lang for lex_lang in needs[key]
                                   if self._score_cache(lex_lang).lookup([h])[0] is None))
            if missing:
                todo.setdefault((ds.sample(key).lang, missing), {})[h] = key
        n_todo = sum(len(v) for v in todo.values())
        self.timings.images_cached += len(needs) - n_todo
        if n_todo:
            self._compute_scores(todo, n_todo, score)
        out: dict[str, dict[str, np.ndarray]] = {}
        for key, langs in needs.items():
            h = ds.sample(key).content_hash
            for lex_lang in langs:
                out.setdefault(lex_lang, {})[key] = self._score_cache(lex_lang).lookup([h])[0]
        return out

    def _compute_scores(self, todo: dict[tuple[str, tuple[str, ...]], dict[str, str]], n_todo: int, score) -> None:
        ds = self.dataset
        jobs = [(lang, langs, chunk) for (lang, langs), by_hash in sorted(todo.items())
                for chunk in batches(sorted(by_hash.items()), self.batch_size)]
        words = {lex_lang: [e.text for e in ds.lexicon_for(lex_lang)]
                 for (_, langs) in todo for lex_lang in langs}
        for lang, langs, chunk in self.tracker.track(jobs, n_todo, f"{self.method.info.name}: images"):
            items = ds.image_items([k for _, k in chunk])
            lexicons = {lex_lang: words[lex_lang] for lex_lang in langs}
            start = time.perf_counter()
            scores = check_scores(score(items, lang, lexicons), lexicons, len(items))
            self.timings.image_seconds += time.perf_counter() - start
            self.timings.images_computed += len(items)
            for lex_lang in langs:
                self._score_cache(lex_lang).store([h for h, _ in chunk], list(scores[lex_lang]))
