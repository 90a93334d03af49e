"""The one interface the harness calls, with its two method families.

* Embedding family: ``embed_images`` and ``embed_texts`` return float arrays;
  the harness L2-normalises, batches, caches and ranks by cosine.
* Transcription family: ``transcribe`` returns strings; the harness ranks the
  lexicon by normalised edit similarity.
* Scoring family: ``score_texts`` scores each image against candidate words
  directly (e.g. the CTC likelihood of every lexicon word); the harness asks for
  each image's scores against a whole lexicon and caches them.

An adapter is one subclass plus one registration (built-in table in
``bench.registry`` or the ``hwr_bench.adapters`` entry-point group). Load
weights lazily (on first call), so a fully cached re-run never loads them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from bench.data.store import Dataset
    from bench.schema import ImageItem


class Family(str, Enum):
    EMBEDDING = "embedding"
    TRANSCRIPTION = "transcription"
    SCORING = "scoring"


# Leaderboard sections, in the paper's order; "reference" holds sanity baselines.
GROUPS: tuple[str, ...] = ("reference", "two-stage", "end-to-end", "vlm", "ours", "ablation")


@dataclass(frozen=True)
class MethodInfo:
    """Metadata recorded with every result of a method."""

    name: str
    family: Family
    group: str
    version: str
    description: str = ""
    params: int | None = None
    model_bytes: int | None = None    # size of the weight files on disk, where known
    licence: str = "unknown"
    requires: tuple[str, ...] = ()
    preprocessing: str = "greyscale"
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["family"] = self.family.value
        data["requires"] = list(self.requires)
        data["cache_key"] = self.cache_key()
        return data

    def cache_key(self) -> str:
        """Everything about the method that can change an output, hashed."""
        ident = {"name": self.name, "version": self.version, "preprocessing": self.preprocessing,
                 "config": self.config}
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""
    fix: str = ""

    @classmethod
    def yes(cls) -> "Availability":
        return cls(True)

    @classmethod
    def no(cls, reason: str, fix: str) -> "Availability":
        return cls(False, reason, fix)


@dataclass(frozen=True)
class RunContext:
    """What a method may look at before a run (e.g. to constrain decoding to the lexicon)."""

    dataset: "Dataset"
    seed: int
    cache_dir: "Path | None" = None   # where the harness caches method outputs (None: no cache)


class Retriever:
    """Base class of every method; subclass EmbeddingRetriever or TranscriptionRetriever."""

    family: Family

    def __init__(self, spec: str | None = None, options: dict[str, Any] | None = None):
        self.spec = spec
        self.options = dict(options or {})

    @property
    def info(self) -> MethodInfo:
        raise NotImplementedError

    def availability(self) -> Availability:
        return Availability.yes()

    def prepare(self, context: RunContext) -> None:
        """Called once per run before any protocol; most methods need nothing."""

    def compute_layers(self) -> list | None:
        """Weight layers (``bench.efficiency.layers.Layer``) of one query image's forward pass,
        for MAC counts and the compute-in-memory estimate; None where unknown (e.g. a binary)."""
        return None


class EmbeddingRetriever(Retriever):
    family = Family.EMBEDDING
    batch_size: int = 64

    def embed_images(self, images: Sequence["Image.Image"]) -> "np.ndarray":
        raise NotImplementedError

    def embed_texts(self, texts: Sequence[str], lang: str) -> "np.ndarray":
        raise NotImplementedError

    def embed_image_items(self, items: Sequence["ImageItem"]) -> "np.ndarray":
        """Hook for methods that need the items' identity; the default passes the images."""
        return self.embed_images([it.image for it in items])


class TranscriptionRetriever(Retriever):
    family = Family.TRANSCRIPTION
    batch_size: int = 32

    def transcribe(self, images: Sequence["Image.Image"], lang: str) -> list[str]:
        """Transcribe word images; ``lang`` is the script of the images (en, zh or es)."""
        raise NotImplementedError

    def transcribe_items(self, items: Sequence["ImageItem"], lang: str) -> list[str]:
        return self.transcribe([it.image for it in items], lang)

    # Optional: methods that can also translate (VLMs) set ``can_translate`` and answer
    # cross-lingual queries with the word in the lexicon's language instead of a transcript.
    can_translate: bool = False

    def translate_items(self, items: Sequence["ImageItem"], lang: str, target_lang: str) -> list[str]:
        raise NotImplementedError


class ScoringRetriever(Retriever):
    family = Family.SCORING
    batch_size: int = 64

    def score_texts(self, images: Sequence["Image.Image"], lang: str,
                    lexicons: dict[str, Sequence[str]]) -> dict[str, "np.ndarray"]:
        """Score images (script ``lang``) against each candidate list; higher is better.

        ``lexicons`` maps a language to its words; the answer maps the same
        languages to (n_images, n_words) finite float arrays. All languages come
        in one call so a method runs its model once per image.
        """
        raise NotImplementedError

    def score_text_items(self, items: Sequence["ImageItem"], lang: str,
                         lexicons: dict[str, Sequence[str]]) -> dict[str, "np.ndarray"]:
        return self.score_texts([it.image for it in items], lang, lexicons)
