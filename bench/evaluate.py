"""From a method and a task to per-query rankings, then to metrics with intervals.

The harness owns batching, caching and ranking; methods only embed or
transcribe. Per-query rankings are kept in a plain record (``rankings_payload``)
from which ``summarise`` recomputes every metric, so a result's numbers can be
re-derived without running the model again.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from bench.cache import TextCache, VectorCache, cache_namespace, text_item_key
from bench.data.store import Dataset
from bench.errors import MethodOutputError
from bench.metrics import (bootstrap_means, per_query_values, percentile_interval, rd_ratio)
from bench.progress import Tracker
from bench.protocols import RetrievalTask, Subtask, TopologyTask
from bench.ranking import Ranking, cosine_scorer, edit_similarity_scorer, rank_queries
from bench.retriever import (EmbeddingRetriever, Family, Retriever, ScoringRetriever,
                             TranscriptionRetriever)
from bench.schema import LANGUAGES

TOP_K_STORED = 10


@dataclass
class Timings:
    image_seconds: float = 0.0
    images_computed: int = 0
    images_cached: int = 0
    text_seconds: float = 0.0
    texts_computed: int = 0
    texts_cached: int = 0
    rank_seconds: float = 0.0

    def to_json(self) -> dict:
        out = {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}
        out["latency_ms_per_image"] = (round(1000 * self.image_seconds / self.images_computed, 3)
                                       if self.images_computed else None)
        return out


def _batches(seq: Sequence, size: int):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


class MethodOutputs:
    """A method's embeddings or transcriptions for dataset items, through the cache."""

    def __init__(self, method: Retriever, dataset: Dataset, cache_root, tracker: Tracker):
        self.method = method
        self.dataset = dataset
        self.tracker = tracker
        self.timings = Timings()
        ns = cache_namespace(method.info)
        self._cache_root, self._ns = cache_root, ns
        self._score_caches: dict[str, VectorCache] = {}
        self._translation_caches: dict[str, TextCache] = {}
        if method.family is Family.EMBEDDING:
            self._image_cache = VectorCache(cache_root, f"{ns}/image")
            self._text_cache = VectorCache(cache_root, f"{ns}/text")
        else:
            self._image_cache = TextCache(cache_root, f"{ns}/transcript")
            self._text_cache = None

    # -- images ---------------------------------------------------------------------------
    def for_images(self, keys: Sequence[str]) -> list:
        """Embedding vectors (embedding family) or transcripts (transcription family)."""
        return self._per_image(keys, self._image_cache, self._compute_images, "images")

    def _per_image(self, keys: Sequence[str], cache, compute, label: str) -> list:
        """One cached value per image: looked up by content hash, the missing ones computed by
        ``compute(items, lang)`` in batches of one script (engines may need it), timed, stored."""
        hashes = [self.dataset.sample(k).content_hash for k in keys]
        found = cache.lookup(hashes)
        missing = sorted({h: k for h, k, v in zip(hashes, keys, found) if v is None}.items())
        self.timings.images_cached += len(keys) - len(missing)
        if not missing:
            return found
        by_lang: dict[str, list[tuple[str, str]]] = {}
        for h, k in missing:
            by_lang.setdefault(self.dataset.sample(k).lang, []).append((h, k))
        batch = self.method.batch_size
        jobs = [(lang, chunk) for lang in sorted(by_lang) for chunk in _batches(by_lang[lang], batch)]
        for lang, chunk in self.tracker.track(jobs, len(missing), f"{self.method.info.name}: {label}"):
            items = self.dataset.image_items([k for _, k in chunk])
            start = time.perf_counter()
            values = compute(items, lang)
            self.timings.image_seconds += time.perf_counter() - start
            self.timings.images_computed += len(items)
            cache.store([h for h, _ in chunk], values)
        return cache.lookup(hashes)

    def _compute_images(self, items, lang) -> list:
        m = self.method
        if isinstance(m, EmbeddingRetriever):
            return list(_check_embeddings(m.embed_image_items(items), len(items), "embed_images"))
        assert isinstance(m, TranscriptionRetriever)
        return _check_transcripts(m.transcribe_items(items, lang), len(items))

    # -- translations (transcription methods that can translate) ---------------------------
    def translations(self, keys: Sequence[str], target_lang: str) -> list[str]:
        """The word in each image, rendered in ``target_lang`` by the method (cross-lingual)."""
        method = self.method
        assert isinstance(method, TranscriptionRetriever)
        cache = self._translation_caches.setdefault(
            target_lang, TextCache(self._cache_root, f"{self._ns}/translation-{target_lang}"))

        def translate(items, lang):
            return _check_transcripts(method.translate_items(items, lang, target_lang), len(items))

        return self._per_image(keys, cache, translate, "translating")

    # -- scores against whole lexicons (scoring family) -------------------------------------
    def _score_cache(self, lang: str) -> VectorCache:
        if lang not in self._score_caches:
            # Columns follow the lexicon's order, so the lexicon itself is part of the key.
            words = "\n".join(e.key + "\t" + e.text for e in self.dataset.lexicon_for(lang))
            digest = hashlib.sha256(words.encode()).hexdigest()[:16]
            self._score_caches[lang] = VectorCache(self._cache_root, f"{self._ns}/scores-{lang}-{digest}")
        return self._score_caches[lang]

    def lexicon_scores(self, needs: dict[str, set[str]]) -> dict[str, dict[str, np.ndarray]]:
        """Each image's scores against the whole lexicon of each language it needs.

        ``needs`` maps an image key to lexicon languages; the answer maps a language
        to {image key: scores in ``dataset.lexicon_for(lang)`` order}.
        """
        assert isinstance(self.method, ScoringRetriever)
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
            lexicons_by_lang = {}
            jobs = []
            for (lang, langs), by_hash in sorted(todo.items()):
                pairs = sorted(by_hash.items())
                jobs += [(lang, langs, chunk) for chunk in _batches(pairs, self.method.batch_size)]
                for lex_lang in langs:
                    lexicons_by_lang.setdefault(lex_lang, [e.text for e in ds.lexicon_for(lex_lang)])
            for lang, langs, chunk in self.tracker.track(jobs, n_todo, f"{self.method.info.name}: images"):
                items = ds.image_items([k for _, k in chunk])
                start = time.perf_counter()
                lexicons = {lex_lang: lexicons_by_lang[lex_lang] for lex_lang in langs}
                scores = _check_scores(self.method.score_text_items(items, lang, lexicons), lexicons, len(items))
                self.timings.image_seconds += time.perf_counter() - start
                self.timings.images_computed += len(items)
                for lex_lang in langs:
                    self._score_cache(lex_lang).store([h for h, _ in chunk], list(scores[lex_lang]))
        out: dict[str, dict[str, np.ndarray]] = {}
        for key, langs in needs.items():
            h = ds.sample(key).content_hash
            for lex_lang in langs:
                out.setdefault(lex_lang, {})[key] = self._score_cache(lex_lang).lookup([h])[0]
        return out

    # -- texts ----------------------------------------------------------------------------
    def embed_lexicon(self, keys: Sequence[str]) -> np.ndarray:
        assert isinstance(self.method, EmbeddingRetriever) and self._text_cache is not None
        entries = [self.dataset.lexicon_entry(k) for k in keys]
        hashes = [text_item_key(e.lang, e.text) for e in entries]
        found = self._text_cache.lookup(hashes)
        todo = [(h, e) for h, e, v in zip(hashes, entries, found) if v is None]
        todo = sorted({h: e for h, e in todo}.items())
        self.timings.texts_cached += len(keys) - len(todo)
        if todo:
            by_lang: dict[str, list] = {}
            for h, e in todo:
                by_lang.setdefault(e.lang, []).append((h, e))
            jobs = [(lang, chunk) for lang in sorted(by_lang)
                    for chunk in _batches(by_lang[lang], max(self.method.batch_size, 256))]
            for lang, chunk in self.tracker.track(jobs, len(todo), f"{self.method.info.name}: texts"):
                start = time.perf_counter()
                vecs = _check_embeddings(self.method.embed_texts([e.text for _, e in chunk], lang),
                                         len(chunk), "embed_texts")
                self.timings.text_seconds += time.perf_counter() - start
                self.timings.texts_computed += len(chunk)
                self._text_cache.store([h for h, _ in chunk], list(vecs))
            found = self._text_cache.lookup(hashes)
        return np.stack(found)


def _check_embeddings(x, n: int, where: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise MethodOutputError(f"{where} returned something that is not a float array ({exc})") from None
    if arr.ndim != 2 or arr.shape[0] != n:
        raise MethodOutputError(f"{where} returned shape {arr.shape}, expected ({n}, dim)")
    if not np.isfinite(arr).all():
        raise MethodOutputError(f"{where} returned NaN or infinite values")
    return arr


def translates(method: Retriever) -> bool:
    return isinstance(method, TranscriptionRetriever) and method.can_translate


def _check_scores(x, lexicons: dict[str, Sequence[str]], n: int) -> dict[str, np.ndarray]:
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


def _check_transcripts(x, n: int) -> list[str]:
    if not isinstance(x, (list, tuple)) or len(x) != n:
        raise MethodOutputError(f"transcribe returned {type(x).__name__} of length "
                                f"{len(x) if hasattr(x, '__len__') else '?'}, expected a list of {n} strings")
    bad = [type(t).__name__ for t in x if not isinstance(t, str)]
    if bad:
        raise MethodOutputError(f"transcribe returned non-strings ({bad[0]})")
    return list(x)


# -- retrieval ------------------------------------------------------------------------------

def rank_task(method: Retriever, task: RetrievalTask, outputs: MethodOutputs) -> dict:
    """Run every subtask; returns the per-query rankings payload (the sidecar's content)."""
    ds = outputs.dataset
    if method.family is Family.SCORING:
        return _rank_scored(task, outputs)
    image_keys = task.all_image_keys()
    image_values = dict(zip(image_keys, outputs.for_images(image_keys)))
    payload = {}
    for st in task.subtasks:
        # What stands for each query image: its transcript, or, for a method that translates,
        # its translation into the gallery's language on cross-lingual subtasks.
        query_texts = image_values
        if st.query_kind == "image" and st.gallery_lang != st.query_lang and translates(method):
            query_texts = dict(zip(st.query_keys, outputs.translations(list(st.query_keys), st.gallery_lang)))
        start = time.perf_counter()
        if method.family is Family.EMBEDDING:
            q = (np.stack([image_values[k] for k in st.query_keys]) if st.query_kind == "image"
                 else outputs.embed_lexicon(st.query_keys))
            g = (np.stack([image_values[k] for k in st.gallery_keys]) if st.gallery_kind == "image"
                 else outputs.embed_lexicon(st.gallery_keys))
            if q.shape[1] != g.shape[1]:
                raise MethodOutputError(f"image and text embeddings differ in size "
                                        f"({q.shape[1]} vs {g.shape[1]})")
            scorer = cosine_scorer(q, g)
        else:
            q_text = ([query_texts[k] for k in st.query_keys] if st.query_kind == "image"
                      else [ds.lexicon_entry(k).text for k in st.query_keys])
            g_text = ([image_values[k] for k in st.gallery_keys] if st.gallery_kind == "image"
                      else [ds.lexicon_entry(k).text for k in st.gallery_keys])
            scorer = edit_similarity_scorer(q_text, g_text)
        ranking = rank_queries(scorer, len(st.query_keys), st.query_keys, st.gallery_keys,
                               st.relevant, k=TOP_K_STORED)
        outputs.timings.rank_seconds += time.perf_counter() - start
        payload[st.name] = _subtask_payload(st, ranking, ds,
                                            transcripts=query_texts if method.family is Family.TRANSCRIPTION else None)
    return payload


def _rank_scored(task: RetrievalTask, outputs: MethodOutputs) -> dict:
    """Rankings from each image's scores against whole lexicons (scoring family)."""
    ds = outputs.dataset
    needs: dict[str, set[str]] = {}
    for st in task.subtasks:
        images, lang = ((st.query_keys, st.gallery_lang) if st.query_kind == "image"
                        else (st.gallery_keys, st.query_lang))
        for k in images:
            needs.setdefault(k, set()).add(lang)
    scores = outputs.lexicon_scores(needs)
    payload = {}
    for st in task.subtasks:
        start = time.perf_counter()
        if st.query_kind == "image":
            column = {e.key: i for i, e in enumerate(ds.lexicon_for(st.gallery_lang))}
            cols = [column[k] for k in st.gallery_keys]
            matrix = np.stack([scores[st.gallery_lang][k] for k in st.query_keys])[:, cols]
        else:
            column = {e.key: i for i, e in enumerate(ds.lexicon_for(st.query_lang))}
            cols = [column[k] for k in st.query_keys]
            matrix = np.stack([scores[st.query_lang][k] for k in st.gallery_keys])[:, cols].T
        ranking = rank_queries(lambda a, b, m=matrix: m[a:b], len(st.query_keys), st.query_keys,
                               st.gallery_keys, st.relevant, k=TOP_K_STORED)
        outputs.timings.rank_seconds += time.perf_counter() - start
        payload[st.name] = _subtask_payload(st, ranking, ds, transcripts=None)
    return payload


def _subtask_payload(st: Subtask, ranking: Ranking, ds: Dataset, transcripts) -> dict:
    out = {
        "query_lang": st.query_lang,
        "gallery_lang": st.gallery_lang,
        "gallery_size": len(st.gallery_keys),
        "query_keys": list(st.query_keys),
        "top_keys": [[st.gallery_keys[i] for i in row] for row in ranking.top_idx.tolist()],
        "top_scores": [[round(float(s), 5) for s in row] for row in ranking.top_scores],
        "relevant_ranks": [r.tolist() for r in ranking.relevant_ranks],
    }
    if st.gallery_kind == "text":
        # NES compares the top-1 lexicon text with the true text in the gallery's language.
        out["top1_text"] = [ds.lexicon_entry(row[0]).text for row in out["top_keys"]]
        out["truth_text"] = [ds.lexicon_entry(st.gallery_keys[rel[0]]).text for rel in st.relevant]
    if transcripts is not None and st.query_kind == "image":
        out["transcripts"] = [transcripts[k] for k in st.query_keys]
    return out


def summarise(payload: dict, aggregate: str, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Metrics (value and 95% bootstrap interval) per subtask and overall, from rankings alone."""
    per_subtask = {}
    columns = None
    groups = []
    for name, st in payload.items():
        ranks = st["relevant_ranks"]
        first = np.array([r[0] for r in ranks], dtype=np.int64)
        is_t2i = "top1_text" not in st
        values = per_query_values(first, st.get("top1_text"), st.get("truth_text"),
                                  ranks if is_t2i else None)
        cols = sorted(values)
        columns = columns or cols
        matrix = np.column_stack([values[c] for c in columns])
        groups.append(matrix)
        per_subtask[name] = _describe(columns, [matrix], "pooled", n_boot, seed)
    if not groups:
        return {"aggregate": aggregate, "overall": {}, "subtasks": {}}
    overall = _describe(columns, groups, aggregate, n_boot, seed)
    return {"aggregate": aggregate, "overall": overall, "subtasks": per_subtask}


def _describe(columns, groups, combine, n_boot, seed) -> dict:
    n = sum(len(g) for g in groups)
    if combine == "pooled":
        point = np.concatenate(groups).mean(0)
    else:
        point = np.mean([g.mean(0) for g in groups], axis=0)
    out: dict = {"n_queries": int(n)}
    if n_boot > 0 and n > 1:
        lo, hi = percentile_interval(bootstrap_means(groups, combine=combine, n_boot=n_boot, seed=seed))
    else:
        lo = hi = [None] * len(columns)
    for i, c in enumerate(columns):
        out[c] = {"value": round(float(point[i]), 6),
                  "ci95": None if lo[i] is None else [round(float(lo[i]), 6), round(float(hi[i]), 6)]}
    return out


# -- topology -------------------------------------------------------------------------------

def topology(task: TopologyTask, outputs: MethodOutputs) -> dict:
    ds = outputs.dataset
    images = np.stack(outputs.for_images(list(task.image_keys)))
    texts = outputs.embed_lexicon(list(task.text_keys))
    img_ids = [ds.sample(k).semantic_id for k in task.image_keys]
    img_langs = [ds.sample(k).lang for k in task.image_keys]
    txt_ids = [ds.lexicon_entry(k).semantic_id for k in task.text_keys]

    def stats(x, ids) -> dict | None:
        if len(set(ids)) < 2:
            return None
        t = rd_ratio(x, ids)
        return {"radius": round(t.radius, 6), "distance": round(t.distance, 6),
                "ratio": round(t.ratio, 6), "n_classes": t.n_classes, "n_points": t.n_points}

    image_stats = {"all": stats(images, img_ids)}
    for lang in LANGUAGES:
        sel = [i for i, l in enumerate(img_langs) if l == lang]
        if sel:
            image_stats[lang] = stats(images[sel], [img_ids[i] for i in sel])
    joint = stats(np.concatenate([images, texts]), img_ids + txt_ids)

    # Distances between the language centroids of the image embeddings (the paper's Figure 4).
    unit = images / np.linalg.norm(images, axis=1, keepdims=True).clip(min=1e-12)
    centroids = {lang: unit[[i for i, l in enumerate(img_langs) if l == lang]].mean(0)
                 for lang in LANGUAGES if lang in img_langs}
    langs = sorted(centroids)
    centroid_dist = {f"{a}-{b}": round(float(np.linalg.norm(centroids[a] - centroids[b])), 6)
                     for i, a in enumerate(langs) for b in langs[i + 1:]}
    return {"image": image_stats, "image+text": joint, "language_centroid_distances": centroid_dist}
