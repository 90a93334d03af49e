"""Misbehaving methods used by the runner tests."""


import numpy as np

from bench.retriever import Availability, EmbeddingRetriever, Family, MethodInfo, TranscriptionRetriever


def _info(name, family=Family.EMBEDDING):
    return MethodInfo(name=name, family=family, group="end-to-end", version="1")


class Crashing(EmbeddingRetriever):
    info = property(lambda self: _info("crashing"))

    def embed_images(self, images):
        raise RuntimeError("boom")

    def embed_texts(self, texts, lang):
        return np.ones((len(texts), 4))


class NaNs(EmbeddingRetriever):
    info = property(lambda self: _info("nans"))

    def embed_images(self, images):
        return np.full((len(images), 4), np.nan)

    def embed_texts(self, texts, lang):
        return np.ones((len(texts), 4))


class WrongShape(TranscriptionRetriever):
    info = property(lambda self: _info("wrong-shape", Family.TRANSCRIPTION))

    def transcribe(self, images, lang):
        return ["x"] * (len(images) + 1)


class Missing(EmbeddingRetriever):
    info = property(lambda self: _info("missing-weights"))

    def availability(self):
        return Availability.no("weights not found at /nowhere", "set HWR_BENCH_MODELS")


class Counting(EmbeddingRetriever):
    """Embeds the mean pixel; counts calls so tests can see what the cache saved."""

    calls = {"images": 0, "texts": 0}
    info = property(lambda self: _info("counting"))

    def embed_images(self, images):
        Counting.calls["images"] += len(images)
        return np.stack([[np.asarray(im, dtype=float).mean(), 1.0, len(im.getbbox() or ())] for im in images])

    def embed_texts(self, texts, lang):
        Counting.calls["texts"] += len(texts)
        return np.stack([[len(t), 1.0, ord(t[0]) % 7] for t in texts])
