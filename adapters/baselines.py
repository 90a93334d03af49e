"""Reference baselines that need nothing: they check every protocol end to end.

* ``random``: a seeded random embedding per item, so every ranking is a random
  permutation; Acc@1 must land near 1 / |lexicon|.
* ``oracle-text``: "transcribes" each image with its ground-truth text, so
  within-language retrieval must score 1.0 (cross-lingual stays low: edit
  similarity cannot translate).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from bench.api import EmbeddingRetriever, MethodInfo, RunContext, TranscriptionRetriever


def _seeded_vector(seed: int, ident: str, dim: int) -> np.ndarray:
    digest = hashlib.sha256(f"{seed}\0{ident}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return rng.standard_normal(dim).astype(np.float32)


@dataclass(frozen=True)
class RandomOptions:
    seed: int = 0
    dim: int = 64

    def __post_init__(self):
        if self.dim < 1:
            raise ValueError(f"option dim must be at least 1, not {self.dim}")


class RandomEmbedding(EmbeddingRetriever):
    Options = RandomOptions
    batch_size = 256

    @property
    def info(self) -> MethodInfo:
        return MethodInfo(name="random", group="reference", version="1",
                          description="Seeded Gaussian vector per item: a uniformly random ranking",
                          params=0, licence="Apache-2.0", preprocessing="none",
                          config={"seed": self.options.seed, "dim": self.options.dim})

    def embed_images(self, items) -> np.ndarray:
        return np.stack([_seeded_vector(self.options.seed, "image:" + it.content_hash, self.options.dim)
                         for it in items])

    def embed_texts(self, texts: Sequence[str], lang: str) -> np.ndarray:
        return np.stack([_seeded_vector(self.options.seed, f"text:{lang}:{t}", self.options.dim) for t in texts])


class OracleText(TranscriptionRetriever):
    batch_size = 1024

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._truth: dict[str, str] | None = None

    @property
    def info(self) -> MethodInfo:
        return MethodInfo(name="oracle-text", group="reference", version="1",
                          description="Returns the ground-truth transcription (upper bound of the "
                          "edit-similarity ranking)", params=0, licence="Apache-2.0", preprocessing="none")

    def prepare(self, context: RunContext) -> None:
        self._truth = {s.key: s.text for s in context.dataset.samples}

    def transcribe(self, items, lang: str) -> list[str]:
        if self._truth is None:
            raise RuntimeError("oracle-text needs prepare() with the dataset before transcribing")
        return [self._truth[it.key] for it in items]
