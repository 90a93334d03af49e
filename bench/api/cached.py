"""A method's cached outputs: where they live, and how a method built on another reads them.

Each method configuration's outputs live under ``<cache root>/<name>-<cache key>/<kind>`` (kind:
``image``, ``text``, ``transcript``, ``scores-<lang>-<digest>`` ...); ``method_cache`` is the one
place such a folder is named. The engine fills these caches while it runs a method. A method
built on another (``<engine>+embed``, ``<engine>+dict``) reads the other's through
``EngineOutputs``, the published accessor: what is cached is reused, what is missing is computed
by the engine method and cached for it too, so its network runs once per image whichever of them
asks first.
"""

from __future__ import annotations

import hashlib
import weakref
from typing import TYPE_CHECKING, Sequence

import numpy as np

from bench.api.retriever import MethodInfo, Retriever
from bench.api.validation import check_scores, check_transcripts
from bench.core.cache import TextCache, VectorCache

if TYPE_CHECKING:
    from bench.data.schema import ImageItem, LexiconEntry
    from bench.data.store import Dataset

TRANSCRIPTS = "transcript"   # the cache kind of a transcription method's transcripts


def cache_namespace(info: MethodInfo) -> str:
    """The folder of one method configuration's outputs."""
    slug = "".join(c if c.isalnum() or c in "._-" else "_" for c in info.name)
    return f"{slug}-{info.cache_key()}"


# One object per cache folder while anyone holds it: the runner's caches of an engine and a
# composite's ``EngineOutputs`` of that engine are then one object, so what either stores the other
# finds (two objects each read the folder once and missed each other's later writes).
_OPEN: "weakref.WeakValueDictionary[tuple, VectorCache | TextCache]" = weakref.WeakValueDictionary()


def method_cache(cache_root, info: MethodInfo, kind: str, cache_type: type) -> VectorCache | TextCache:
    """The cache of one kind of output of one method configuration (None root: in memory only)."""
    namespace = f"{cache_namespace(info)}/{kind}"
    if cache_root is None:
        return cache_type(None, namespace)
    key = (str(cache_root), namespace, cache_type)
    cache = _OPEN.get(key)
    if cache is None:
        cache = _OPEN[key] = cache_type(cache_root, namespace)
    return cache


def transcript_cache(cache_root, info: MethodInfo) -> TextCache:
    """A transcription method's transcripts by image content hash."""
    return method_cache(cache_root, info, TRANSCRIPTS, TextCache)


def lexicon_scores_kind(lang: str, entries: Sequence["LexiconEntry"]) -> str:
    """The cache kind of a scoring method's scores against one word list of ``lang``: columns
    follow the list's order, so the list itself is part of the key."""
    words = "\n".join(e.key + "\t" + e.text for e in entries)
    return f"scores-{lang}-{hashlib.sha256(words.encode()).hexdigest()[:16]}"


def by_script(items: Sequence["ImageItem"]) -> dict[str, list["ImageItem"]]:
    groups: dict[str, list] = {}
    for it in items:
        groups.setdefault(it.lang, []).append(it)
    return groups


class EngineOutputs:
    """Another registered method's outputs, for a method built on it: its transcripts (a
    transcription method) or its scores against a whole lexicon (a scoring method), read from the
    harness's cache of that method under ``cache_root`` (the run's, ``RunContext.cache_dir``;
    None: in memory), the missing ones computed by it and cached for it."""

    def __init__(self, method: Retriever, cache_root=None, dataset: "Dataset | None" = None):
        self.method, self.dataset, self.cache_root = method, dataset, cache_root
        self._caches: dict[str, VectorCache | TextCache] = {}

    def _cache(self, kind: str, cache_type: type):
        if kind not in self._caches:
            self._caches[kind] = method_cache(self.cache_root, self.method.info, kind, cache_type)
        return self._caches[kind]

    def transcripts(self, items: Sequence["ImageItem"]) -> list[str]:
        """The method's transcript of each image (``transcribe``, one call per script)."""
        cache = self._cache(TRANSCRIPTS, TextCache)
        found = dict(zip((it.content_hash for it in items), cache.lookup([it.content_hash for it in items])))
        missing = [it for it in items if found[it.content_hash] is None]
        for lang, group in sorted(by_script(missing).items()):
            texts = check_transcripts(self.method.transcribe(group, lang), len(group))
            cache.store([it.content_hash for it in group], texts)
            found.update(zip((it.content_hash for it in group), texts))
        return [found[it.content_hash] for it in items]

    def lexicon_scores(self, items: Sequence["ImageItem"], lang: str) -> np.ndarray:
        """The method's scores of each image against the whole ``lang`` lexicon of ``dataset``:
        (images, words) in ``dataset.lexicon_for(lang)`` order (``score_texts``, in batches of the
        method's ``batch_size``, one script per call)."""
        if self.dataset is None:
            raise ValueError("EngineOutputs.lexicon_scores needs the dataset whose lexicon it scores")
        entries = self.dataset.lexicon_for(lang)
        cache = self._cache(lexicon_scores_kind(lang, entries), VectorCache)
        hashes = [it.content_hash for it in items]
        missing = sorted({h: it for h, it, v in zip(hashes, items, cache.lookup(hashes)) if v is None}.items())
        lexicons = {lang: [e.text for e in entries]}
        for script, group in sorted(by_script([it for _, it in missing]).items()):
            size = self.method.batch_size
            for chunk in (group[i:i + size] for i in range(0, len(group), size)):
                scores = check_scores(self.method.score_texts(chunk, script, lexicons), lexicons, len(chunk))
                cache.store([it.content_hash for it in chunk], list(scores[lang]))
        return np.stack(cache.lookup(hashes))
