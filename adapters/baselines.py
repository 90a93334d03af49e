"""Reference baselines that need nothing: they check every protocol end to end.

* ``random``: a seeded random embedding per item, so every ranking is a random
  permutation; Acc@1 must land near 1 / |lexicon|.
* ``oracle-text``: "transcribes" each image with its ground-truth text, so
  within-language retrieval must score 1.0 (cross-lingual stays low: edit
  similarity cannot translate).
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from bench.retriever import (EmbeddingRetriever, Family, MethodInfo, RunContext,
                             TranscriptionRetriever)


def _seeded_vector(seed: int, ident: str, dim: int) -> np.ndarray:
    digest = hashlib.sha256(f"{seed}\0{ident}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return rng.standard_normal(dim).astype(np.float32)


class RandomEmbedding(EmbeddingRetriever):
    batch_size = 256

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.seed = int(self.options.get("seed", 0))
        self.dim = int(self.options.get("dim", 64))

    @property
    def info(self) -> MethodInfo:
        return MethodInfo(name="random", family=Family.EMBEDDING, group="reference", version="1",
                          description="Seeded Gaussian vector per item: a uniformly random ranking",
                          params=0, licence="Apache-2.0", preprocessing="none",
                          config={"seed": self.seed, "dim": self.dim})

    def embed_image_items(self, items) -> np.ndarray:
        return np.stack([_seeded_vector(self.seed, "image:" + it.content_hash, self.dim) for it in items])

    def embed_images(self, images) -> np.ndarray:
        return np.stack([_seeded_vector(self.seed, "image:" + hashlib.sha256(im.tobytes()).hexdigest(),
                                        self.dim) for im in images])

    def embed_texts(self, texts: Sequence[str], lang: str) -> np.ndarray:
        return np.stack([_seeded_vector(self.seed, f"text:{lang}:{t}", self.dim) for t in texts])


class OracleText(TranscriptionRetriever):
    batch_size = 1024

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._truth: dict[str, str] | None = None

    @property
    def info(self) -> MethodInfo:
        return MethodInfo(name="oracle-text", family=Family.TRANSCRIPTION, group="reference",
                          version="1", description="Returns the ground-truth transcription (upper "
                          "bound of the edit-similarity ranking)", params=0, licence="Apache-2.0",
                          preprocessing="none")

    def prepare(self, context: RunContext) -> None:
        self._truth = {s.key: s.text for s in context.dataset.samples}

    def transcribe_items(self, items, lang: str) -> list[str]:
        if self._truth is None:
            raise RuntimeError("oracle-text needs prepare() with the dataset before transcribing")
        return [self._truth[it.key] for it in items]

    def transcribe(self, images, lang: str) -> list[str]:
        raise RuntimeError("oracle-text reads ground truth by item key; call transcribe_items")
