"""What the harness does with each method family: one small object per family.

Each ``FamilyOps`` owns its family's cache kinds, its compute calls and its
ranking, so the runner, efficiency measurement and plots never branch on the
family: they ask ``ops_for(method)``.

* embedding: image and text vectors (cached), ranked by cosine;
* transcription: transcripts (and translations for methods that translate),
  ranked by normalised edit similarity;
* scoring: each image's scores against whole lexicons, ranked as they are.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from bench.api.cached import TRANSCRIPTS, by_script, lexicon_scores_kind
from bench.api.retriever import EmbeddingRetriever, Family, Retriever, ScoringRetriever, TranscriptionRetriever
from bench.api.validation import check_embeddings, check_scores, check_transcripts
from bench.core.cache import TextCache, VectorCache
from bench.core.errors import MethodOutputError
from bench.core.progress import NULL_TRACKER
from bench.core.text import normalise_text
from bench.data.schema import ImageItem, LexiconEntry
from bench.data.store import Dataset
from bench.engine.outputs import MethodOutputs, batches
from bench.evaluation.protocols import RetrievalTask, Subtask
from bench.evaluation.ranking import (Ranking, cosine_scorer, edit_similarities, edit_similarity_scorer, l2_normalise,
                                      rank_queries)

TOP_K_STORED = 10


class FamilyOps:
    family: Family
    embeds = False        # whether the method yields embeddings (R/D, projections)

    def rank(self, task: RetrievalTask, outputs: MethodOutputs) -> dict:
        """Every subtask's per-query rankings: the payload of the rankings sidecar."""
        raise NotImplementedError

    def prefill(self, outputs: MethodOutputs, keys: Sequence[str]) -> None:
        """Compute and cache what ranking will read of these images (a run's shared-pass schedule)."""
        raise NotImplementedError

    def exercise(self, method: Retriever, dataset: Dataset, items: Sequence[ImageItem]) -> None:
        """One pass of the method's image call over ``items``, as a query would cost (latency)."""
        raise NotImplementedError

    def index(self, outputs: MethodOutputs, st: Subtask):
        """What an archive prepares once for a gallery before any query (vectors, normalised words)."""
        return [outputs.dataset.lexicon_entry(k).text for k in st.gallery_keys]

    def search(self, outputs: MethodOutputs, st: Subtask, items: Sequence[ImageItem], index) -> np.ndarray:
        """One uncached query pass: the model on ``items``, then the scores against the indexed gallery."""
        raise NotImplementedError

    def embeddings(self, outputs: MethodOutputs, image_keys: Sequence[str],
                   text_keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(image vectors, text vectors) of these items, cached: what R/D and projections read.
        Only a family that embeds (``embeds``) has them."""
        raise MethodOutputError(f"a {self.family.value} method yields no embeddings")

    def query_latency(self, outputs: MethodOutputs, st: Subtask, n: int) -> float:
        """Seconds per query of ``search`` over the first ``n`` queries, after one warm-up query.

        The index is built first and not timed; the warm-up query lets a method compile what it
        keeps between calls (a scoring method's lexicon), as a serving system would.
        """
        items = outputs.dataset.image_items(list(st.query_keys[:n]))
        index = self.index(outputs, st)
        self.search(outputs, st, items[:1], index)
        start = time.perf_counter()
        scores = self.search(outputs, st, items, index)
        np.argpartition(-scores, min(TOP_K_STORED, scores.shape[1] - 1), axis=1)
        return (time.perf_counter() - start) / len(items)

    def _ranked(self, st: Subtask, scorer, outputs: MethodOutputs, transcripts=None) -> dict:
        start = time.perf_counter()
        ranking = rank_queries(scorer, len(st.query_keys), st.query_keys, st.gallery_keys, st.relevant,
                               k=TOP_K_STORED)
        outputs.timings.rank_seconds += time.perf_counter() - start
        return subtask_payload(st, ranking, outputs.dataset, transcripts)


class EmbeddingOps(FamilyOps):
    family = Family.EMBEDDING
    embeds = True

    def image_vectors(self, outputs: MethodOutputs, keys: Sequence[str]) -> list[np.ndarray]:
        method = outputs.method
        assert isinstance(method, EmbeddingRetriever)
        return outputs.per_image(keys, outputs.cache("image", VectorCache),
                                 lambda items, lang: list(check_embeddings(method.embed_images(items), len(items),
                                                                           "embed_images")), "images")

    def text_vectors(self, outputs: MethodOutputs, keys: Sequence[str]) -> np.ndarray:
        method = outputs.method
        assert isinstance(method, EmbeddingRetriever)
        return np.stack(outputs.per_text(keys, outputs.cache("text", VectorCache),
                                         lambda texts, lang: list(check_embeddings(method.embed_texts(texts, lang),
                                                                                   len(texts), "embed_texts"))))

    def prefill(self, outputs, keys) -> None:
        self.image_vectors(outputs, keys)

    def embeddings(self, outputs, image_keys, text_keys) -> tuple[np.ndarray, np.ndarray]:
        return np.stack(self.image_vectors(outputs, list(image_keys))), self.text_vectors(outputs, list(text_keys))

    def rank(self, task: RetrievalTask, outputs: MethodOutputs) -> dict:
        keys = task.all_image_keys()
        vectors = dict(zip(keys, self.image_vectors(outputs, keys)))

        def side(kind: str, side_keys) -> np.ndarray:
            return (np.stack([vectors[k] for k in side_keys]) if kind == "image"
                    else self.text_vectors(outputs, side_keys))

        payload = {}
        for st in task.subtasks:
            q, g = side(st.query_kind, st.query_keys), side(st.gallery_kind, st.gallery_keys)
            if q.shape[1] != g.shape[1]:
                raise MethodOutputError(f"image and text embeddings differ in size ({q.shape[1]} vs {g.shape[1]})")
            payload[st.name] = self._ranked(st, cosine_scorer(q, g), outputs)
        return payload

    def exercise(self, method, dataset, items) -> None:
        method.embed_images(items)

    def index(self, outputs, st):
        return l2_normalise(self.text_vectors(outputs, st.gallery_keys))

    def search(self, outputs, st, items, index) -> np.ndarray:
        queries = check_embeddings(outputs.method.embed_images(items), len(items), "embed_images")
        return l2_normalise(queries) @ index.T


class TranscriptionOps(FamilyOps):
    family = Family.TRANSCRIPTION

    def transcripts(self, outputs: MethodOutputs, keys: Sequence[str]) -> list[str]:
        method = outputs.method
        assert isinstance(method, TranscriptionRetriever)
        return outputs.per_image(keys, outputs.cache(TRANSCRIPTS, TextCache),
                                 lambda items, lang: check_transcripts(method.transcribe(items, lang), len(items)),
                                 "images")

    def translations(self, outputs: MethodOutputs, keys: Sequence[str], target_lang: str) -> list[str]:
        """The word in each image, rendered in ``target_lang`` by the method (cross-lingual)."""
        method = outputs.method
        assert isinstance(method, TranscriptionRetriever)
        return outputs.per_image(keys, outputs.cache(f"translation-{target_lang}", TextCache),
                                 lambda items, lang: check_transcripts(method.translate(items, lang, target_lang),
                                                                       len(items), "translate"), "translating")

    def prefill(self, outputs, keys) -> None:
        self.transcripts(outputs, keys)

    def rank(self, task: RetrievalTask, outputs: MethodOutputs) -> dict:
        ds, method = outputs.dataset, outputs.method
        keys = task.all_image_keys()
        transcripts = dict(zip(keys, self.transcripts(outputs, keys)))
        payload = {}
        for st in task.subtasks:
            # What stands for each query image: its transcript, or, for a method that translates,
            # its translation into the gallery's language on cross-lingual subtasks.
            query_texts = transcripts
            if st.query_kind == "image" and st.gallery_lang != st.query_lang and method.can_translate:
                query_texts = dict(zip(st.query_keys, self.translations(outputs, list(st.query_keys),
                                                                        st.gallery_lang)))
            q = ([query_texts[k] for k in st.query_keys] if st.query_kind == "image"
                 else [ds.lexicon_entry(k).text for k in st.query_keys])
            g = ([transcripts[k] for k in st.gallery_keys] if st.gallery_kind == "image"
                 else [ds.lexicon_entry(k).text for k in st.gallery_keys])
            payload[st.name] = self._ranked(st, edit_similarity_scorer(q, g), outputs, transcripts=query_texts)
        return payload

    def exercise(self, method, dataset, items) -> None:
        for lang, group in by_script(items).items():
            method.transcribe(group, lang)

    def index(self, outputs, st):
        return [normalise_text(w) for w in super().index(outputs, st)]

    def search(self, outputs, st, items, index) -> np.ndarray:
        transcripts = check_transcripts(outputs.method.transcribe(items, st.query_lang), len(items))
        return edit_similarities([normalise_text(t) for t in transcripts], index)


class ScoringOps(FamilyOps):
    family = Family.SCORING

    def rank(self, task: RetrievalTask, outputs: MethodOutputs) -> dict:
        ds, method = outputs.dataset, outputs.method
        assert isinstance(method, ScoringRetriever)
        # The first time the network runs on an image it is scored against every lexicon the run's
        # protocols read of it (``outputs.lexicon_plan``), so a later protocol (cross-lingual after
        # OOD) finds its scores cached and no lexicon is scored that no protocol reads (test_id
        # images only meet their own language's). A gallery that is not a lexicon (distractors
        # added) is scored on its own, with its own cache.
        closed = [st for st in task.subtasks if _reads_whole_lexicon(ds, st)]
        needs = lexicon_reads(ds, [task])
        for key, langs in (outputs.lexicon_plan or {}).items():
            if key in needs:
                needs[key] |= langs
        scores = self.lexicon_scores(outputs, needs) if needs else {}
        payload = {}
        for st in task.subtasks:
            if st not in closed:
                entries = [ds.lexicon_entry(k) for k in st.gallery_keys]
                matrix = np.stack(self.gallery_scores(outputs, st.query_keys, st.gallery_lang, entries))
            elif st.query_kind == "image":
                column = {e.key: i for i, e in enumerate(ds.lexicon_for(st.gallery_lang))}
                cols = [column[k] for k in st.gallery_keys]
                matrix = np.stack([scores[st.gallery_lang][k] for k in st.query_keys])[:, cols]
            else:
                column = {e.key: i for i, e in enumerate(ds.lexicon_for(st.query_lang))}
                cols = [column[k] for k in st.query_keys]
                matrix = np.stack([scores[st.query_lang][k] for k in st.gallery_keys])[:, cols].T
            payload[st.name] = self._ranked(st, lambda a, b, m=matrix: m[a:b], outputs)
        return payload

    def prefill(self, outputs, keys) -> None:
        plan = outputs.lexicon_plan or {}
        needs = {k: set(plan[k]) for k in keys if k in plan}
        if needs:
            self.lexicon_scores(outputs, needs)

    # -- scores against whole word lists, cached (bench.api.cached names the caches) ---------------
    @staticmethod
    def _score_cache(outputs: MethodOutputs, lang: str, entries: Sequence[LexiconEntry] | None = None) -> VectorCache:
        entries = outputs.dataset.lexicon_for(lang) if entries is None else entries
        return outputs.cache(lexicon_scores_kind(lang, entries), VectorCache)

    def gallery_scores(self, outputs: MethodOutputs, keys: Sequence[str], lang: str,
                       entries: Sequence[LexiconEntry]) -> list:
        """Each image's scores against one word list (a gallery with distractors), in its order."""
        cache = self._score_cache(outputs, lang, entries)
        words = [e.text for e in entries]

        def compute(items, img_lang):
            lexicons = {lang: words}
            return list(check_scores(outputs.method.score_texts(items, img_lang, lexicons), lexicons, len(items))[lang])

        return outputs.per_image(keys, cache, compute, f"scoring {len(words):,} words")

    def lexicon_scores(self, outputs: MethodOutputs, needs: dict[str, set[str]]) -> dict[str, dict[str, np.ndarray]]:
        """Each image's scores against the whole lexicon of each language it needs.

        ``needs`` maps an image key to lexicon languages. The answer maps a language to {image key:
        scores in ``dataset.lexicon_for(lang)`` order}. One call per batch fills every language it misses.
        """
        ds = outputs.dataset
        # One cache object per lexicon, found once: naming it hashes the whole word list.
        caches = {lang: self._score_cache(outputs, lang) for lang in sorted(set().union(*needs.values()))}
        todo: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
        for key in sorted(needs):
            h = ds.sample(key).content_hash
            missing = tuple(sorted(lex_lang for lex_lang in needs[key] if caches[lex_lang].lookup([h])[0] is None))
            if missing:
                todo.setdefault((ds.sample(key).lang, missing), {})[h] = key
        n_todo = sum(len(v) for v in todo.values())
        outputs.timings.images_cached += len(needs) - n_todo
        if n_todo:
            self._compute_scores(outputs, todo, n_todo, caches)
        out: dict[str, dict[str, np.ndarray]] = {}
        for key, langs in needs.items():
            h = ds.sample(key).content_hash
            for lex_lang in langs:
                out.setdefault(lex_lang, {})[key] = caches[lex_lang].lookup([h])[0]
        return out

    def _compute_scores(self, outputs: MethodOutputs, todo: dict[tuple[str, tuple[str, ...]], dict[str, str]],
                        n_todo: int, caches: dict[str, VectorCache]) -> None:
        ds, score = outputs.dataset, outputs.method.score_texts
        jobs = [(lang, langs, chunk) for (lang, langs), by_hash in sorted(todo.items())
                for chunk in batches(sorted(by_hash.items()), outputs.batch_size)]
        words = {lex_lang: [e.text for e in ds.lexicon_for(lex_lang)]
                 for (_, langs) in todo for lex_lang in langs}
        for lang, langs, chunk in outputs.tracker.track(jobs, n_todo, f"{outputs.method.info.name}: images"):
            items = ds.image_items([k for _, k in chunk])
            lexicons = {lex_lang: words[lex_lang] for lex_lang in langs}
            start = time.perf_counter()
            scores = check_scores(score(items, lang, lexicons), lexicons, len(items))
            outputs.timings.image_seconds += time.perf_counter() - start
            outputs.timings.images_computed += len(items)
            for lex_lang in langs:
                caches[lex_lang].store([h for h, _ in chunk], list(scores[lex_lang]))

    def exercise(self, method, dataset, items) -> None:
        for lang, group in by_script(items).items():
            lexicons = {lang: [e.text for e in dataset.lexicon_for(lang)]}
            method.score_texts(group, lang, lexicons)

    def search(self, outputs, st, items, index) -> np.ndarray:
        lexicons = {st.gallery_lang: index}
        return check_scores(outputs.method.score_texts(items, st.query_lang, lexicons), lexicons,
                            len(items))[st.gallery_lang]


def lexicon_reads(ds: Dataset, tasks) -> dict[str, set[str]]:
    """Per image key, the languages whose whole lexicon the retrieval ``tasks`` rank it against
    (as a query, or as the gallery of a text query): what a scoring method must score it on."""
    reads: dict[str, set[str]] = {}
    for task in tasks:
        for st in getattr(task, "subtasks", ()):
            if not _reads_whole_lexicon(ds, st):
                continue
            image_query = st.query_kind == "image"
            keys, lang = (st.query_keys, st.gallery_lang) if image_query else (st.gallery_keys, st.query_lang)
            for key in keys:
                reads.setdefault(key, set()).add(lang)
    return reads


def _reads_whole_lexicon(ds: Dataset, st: Subtask) -> bool:
    """Whether a scoring method ranks this subtask from its images' scores against a whole lexicon:
    a text query (its column of the lexicon's scores; a limited query set is a subset of it) or an
    image query against exactly one language's lexicon (not a gallery with distractors)."""
    return st.query_kind != "image" or _is_lexicon(ds, st)


def _is_lexicon(ds: Dataset, st: Subtask) -> bool:
    """Whether a subtask's text side is exactly one language's lexicon (and may share its scores)."""
    keys = st.gallery_keys if st.gallery_kind == "text" else st.query_keys
    lang = st.gallery_lang if st.gallery_kind == "text" else st.query_lang
    return len(keys) == len(ds.lexicon_for(lang)) and all(ds.lexicon_entry(k).semantic_id >= 0 for k in keys)


FAMILY_OPS: dict[Family, FamilyOps] = {ops.family: ops for ops in (EmbeddingOps(), TranscriptionOps(), ScoringOps())}


def ops_for(method: Retriever) -> FamilyOps:
    return FAMILY_OPS[method.family]


def embeddings(method: Retriever, dataset: Dataset, cache_root, image_keys: Sequence[str],
               text_keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``method``'s (image vectors, text vectors) of these items, cached under ``cache_root``
    (None: no cache): what a view that draws embeddings (``bench plot``'s projections) is handed."""
    return ops_for(method).embeddings(MethodOutputs(method, dataset, cache_root, NULL_TRACKER), image_keys, text_keys)


def subtask_payload(st: Subtask, ranking: Ranking, ds: Dataset, transcripts: dict[str, str] | None) -> dict:
    out = {
        "query_lang": st.query_lang,
        "gallery_lang": st.gallery_lang,
        "gallery_size": len(st.gallery_keys),
        "query_keys": list(st.query_keys),
        # The semantic id of each query: the cluster the bootstrap resamples.
        "query_ids": [(ds.sample(k) if st.query_kind == "image" else ds.lexicon_entry(k)).semantic_id
                      for k in st.query_keys],
        "top_keys": [[st.gallery_keys[i] for i in row] for row in ranking.top_idx.tolist()],
        "top_scores": [[round(float(s), 5) for s in row] for row in ranking.top_scores],
        "relevant_ranks": [r.tolist() for r in ranking.relevant_ranks],
    }
    if st.query_kind == "image":
        out["query_styles"] = [ds.sample(k).style for k in st.query_keys]   # the per-style breakdown
    if st.gallery_kind == "text":
        # NES compares the predicted text (top-1 word here, or the raw transcript below) with the
        # true text in the gallery's language.
        out["top1_text"] = [ds.lexicon_entry(row[0]).text for row in out["top_keys"]]
        out["truth_text"] = [ds.lexicon_entry(st.gallery_keys[rel[0]]).text for rel in st.relevant]
    if transcripts is not None and st.query_kind == "image":
        out["transcripts"] = [transcripts[k] for k in st.query_keys]
    return out
