"""Misbehaving methods used by the runner tests."""


import numpy as np

from bench.api.retriever import Availability, EmbeddingRetriever, MethodInfo, ScoringRetriever, TranscriptionRetriever


def _info(name):
    return MethodInfo(name=name, group="end-to-end", version="1")


class Crashing(EmbeddingRetriever):
    info = property(lambda self: _info("crashing"))

    def embed_images(self, items):
        raise RuntimeError("boom")

    def embed_texts(self, texts, lang):
        return np.ones((len(texts), 4))


class NaNs(EmbeddingRetriever):
    info = property(lambda self: _info("nans"))

    def embed_images(self, items):
        return np.full((len(items), 4), np.nan)

    def embed_texts(self, texts, lang):
        return np.ones((len(texts), 4))


class WrongShape(TranscriptionRetriever):
    info = property(lambda self: _info("wrong-shape"))

    def transcribe(self, items, lang):
        return ["x"] * (len(items) + 1)


class Missing(EmbeddingRetriever):
    info = property(lambda self: _info("missing-weights"))

    def availability(self):
        return Availability.no("weights not found at /nowhere", "set HWR_BENCH_MODELS")


class Counting(EmbeddingRetriever):
    """Embeds the mean pixel; counts calls so tests can see what the cache saved."""

    calls = {"images": 0, "texts": 0}
    info = property(lambda self: _info("counting"))

    def embed_images(self, items):
        Counting.calls["images"] += len(items)
        images = [it.image for it in items]
        return np.stack([[np.asarray(im, dtype=float).mean(), 1.0, len(im.getbbox() or ())] for im in images])

    def embed_texts(self, texts, lang):
        Counting.calls["texts"] += len(texts)
        return np.stack([[len(t), 1.0, ord(t[0]) % 7] for t in texts])


class TruthScorer(ScoringRetriever):
    """Scores 1 for the image's true text, 0 otherwise; counts the images it scores."""

    calls = {"images": 0}
    lexicons: list = []     # (split of the batch's images, the lexicon languages asked for), per call
    info = property(lambda self: _info("truth-scorer"))

    def prepare(self, context):
        self.truth = {s.content_hash: s.text for s in context.dataset.samples}
        self.split = {s.content_hash: s.split for s in context.dataset.samples}

    def score_texts(self, items, lang, lexicons):
        TruthScorer.calls["images"] += len(items)
        for split in {self.split[it.content_hash] for it in items}:
            TruthScorer.lexicons.append((split, tuple(sorted(lexicons))))
        return {lex_lang: np.array([[float(w == self.truth[it.content_hash]) for w in words] for it in items])
                for lex_lang, words in lexicons.items()}


class InfiniteScorer(ScoringRetriever):
    info = property(lambda self: _info("infinite-scorer"))

    def score_texts(self, items, lang, lexicons):
        return {lex_lang: np.full((len(items), len(words)), np.inf) for lex_lang, words in lexicons.items()}


class Hanging(EmbeddingRetriever):
    info = property(lambda self: _info("hanging"))

    def embed_images(self, items):
        import time

        time.sleep(60)
        return np.ones((len(items), 4))

    def embed_texts(self, texts, lang):
        return np.ones((len(texts), 4))


class TruthReader(TranscriptionRetriever):
    """Transcribes every image correctly, in its own language; counts the images it reads."""

    calls = {"images": 0}
    info = property(lambda self: _info("truth-reader"))

    def prepare(self, context):
        self.truth = {s.content_hash: s.text for s in context.dataset.samples}

    def transcribe(self, items, lang):
        TruthReader.calls["images"] += len(items)
        return [self.truth[it.content_hash] for it in items]


class EnglishTruthReader(TruthReader):
    """A perfect reader that, like an English-only recogniser, answers English subtasks only."""

    info = property(lambda self: _info("english-reader"))

    def answers(self, subtask):
        return subtask.query_lang == "en" and subtask.gallery_lang == "en"


class CpuDependentRandom(EmbeddingRetriever):
    """Deterministic pseudo-random vectors, declared to depend on the CPU's instruction set."""

    cpu_dependent = True
    info = property(lambda self: _info("cpu-dependent"))

    def embed_images(self, items):
        return np.stack([np.random.default_rng(int(it.content_hash[:8], 16)).normal(size=8) for it in items])

    def embed_texts(self, texts, lang):
        return np.stack([np.random.default_rng(sum(map(ord, t))).normal(size=8) for t in texts])


class SloppyReader(TruthReader):
    """Reads two images in three right and the rest as gibberish: a method with real failures."""

    info = property(lambda self: _info("sloppy-reader"))

    def transcribe(self, items, lang):
        return [self.truth[it.content_hash] if int(it.content_hash[:8], 16) % 3 else "qxqxq" for it in items]
