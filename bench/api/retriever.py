"""The one interface the harness calls, with its three method families.

A method is one subclass of a family base class; the family is the base class,
never declared a second time (a subclass that sets ``family`` is refused when
it is defined). Each family has exactly one items-based call for images:

* Embedding (``EmbeddingRetriever``): ``embed_images(items)`` and
  ``embed_texts(texts, lang)`` return float arrays; the harness caches them and
  ranks by cosine.
* Transcription (``TranscriptionRetriever``): ``transcribe(items, lang)``
  returns strings; the harness ranks the lexicon by normalised edit similarity.
* Scoring (``ScoringRetriever``): ``score_texts(items, lang, lexicons)`` scores
  each image against whole candidate lists (e.g. the CTC likelihood of every
  lexicon word).

``items`` are ``bench.data.schema.ImageItem`` (key, decoded image, script, content
hash); within one call they share one script, ``lang``. A method takes its
options as a frozen dataclass, ``Options``, which the registry builds and
validates from ``--option METHOD.KEY=VALUE``.

An adapter is one subclass plus one registration (the ``hwr_bench.adapters``
entry-point group, or ``bench.api.registry.METHODS.register``). Load weights lazily
(on first call), so a fully cached re-run never loads them.
"""

from __future__ import annotations

import os
from dataclasses import InitVar, asdict, dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

from bench.api.groups import GROUPS, Group
from bench.api.options import NoOptions, parse_options
from bench.core.cache import method_cache_key

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from bench.data.store import Dataset
    from bench.evaluation.protocols import Subtask
    from bench.data.schema import ImageItem


# Downloads: a method may fetch its weights from a hub (``Retriever.fetch_weights``) unless the run
# is offline. `bench run --offline` sets all three variables, so the hub libraries stay offline too.
OFFLINE_ENV = "HWR_BENCH_OFFLINE"
_OFFLINE_VARS = (OFFLINE_ENV, "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def downloads_allowed() -> bool:
    """False when ``HWR_BENCH_OFFLINE`` or ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set truthy."""
    return not any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in _OFFLINE_VARS)


def go_offline() -> None:
    """Forbid every download in this process and its children (``bench run --offline``)."""
    for var in _OFFLINE_VARS:
        os.environ[var] = "1"


class Family(str, Enum):
    EMBEDDING = "embedding"
    TRANSCRIPTION = "transcription"
    SCORING = "scoring"


@dataclass(frozen=True)
class MethodInfo:
    """Metadata recorded with every result of a method (its family comes from its class)."""

    name: str
    group: Group
    version: str
    description: str = ""
    params: int | None = None
    model_bytes: int | None = None    # size of the weight files on disk, where known
    licence: str = "unknown"
    requires: tuple[str, ...] = ()
    preprocessing: str = "greyscale"
    config: dict[str, Any] = field(default_factory=dict)
    family: InitVar[Any] = None       # refused: the family is the retriever's base class

    def __post_init__(self, family) -> None:
        if family is not None:
            raise TypeError(f"MethodInfo(name={self.name!r}): do not pass family=; it is derived from the "
                            "retriever's base class (EmbeddingRetriever, TranscriptionRetriever, ScoringRetriever)")
        try:
            object.__setattr__(self, "group", Group(self.group))
        except ValueError:
            raise ValueError(f"MethodInfo(name={self.name!r}): group {self.group!r} is not one of "
                             f"{', '.join(GROUPS)}") from None

    def to_json(self, family: Family) -> dict:
        data = asdict(self)
        out = {"name": data.pop("name"), "family": family.value}
        out.update(data)
        out["group"] = self.group.value
        out["requires"] = list(self.requires)
        out["cache_key"] = self.cache_key()
        return out

    def cache_key(self) -> str:
        return method_cache_key(self.name, self.version, self.preprocessing, self.config)


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
    cache_dir: "Path | None" = None   # the one cache root of the run (None: --no-cache)


class Retriever:
    """Base class of every method; subclass one of the three family classes below."""

    family: ClassVar[Family]
    Options: ClassVar[type] = NoOptions
    batch_size: ClassVar[int] = 32
    # Outputs that depend on the CPU's instruction set beyond float rounding (int8 kernels pick
    # different arithmetic with and without AVX-512 VNNI): `bench run --verify` compares such a
    # method only with results made on the same CPU model, and says so otherwise.
    cpu_dependent: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "family" in cls.__dict__ and not cls.__dict__.get("_family_base", False):
            raise TypeError(f"{cls.__qualname__}: do not set `family`; it comes from the base class "
                            "(EmbeddingRetriever, TranscriptionRetriever or ScoringRetriever)")
        families = {base.family for base in cls.__mro__ if base.__dict__.get("_family_base", False)}
        if len(families) > 1:
            raise TypeError(f"{cls.__qualname__}: subclasses more than one method family "
                            f"({', '.join(sorted(f.value for f in families))})")

    def __init__(self, spec: str | None = None, options: Any = None):
        self.spec = spec
        self.options = options if isinstance(options, self.Options) else self.parse_options(spec, options)

    @classmethod
    def parse_options(cls, spec: str | None, raw: Mapping[str, Any] | None):
        """This method's options from raw values (strings from the CLI); unknown keys are refused."""
        return parse_options(cls.Options, raw, owner=cls.__qualname__)

    @property
    def info(self) -> MethodInfo:
        raise NotImplementedError

    def record(self) -> dict:
        """``info`` as stored in result files, with the family this class belongs to."""
        return self.info.to_json(self.family)

    def availability(self) -> Availability:
        return Availability.yes()

    def fetch_weights(self) -> None:
        """Download what the method needs from its hub, when ``downloads_allowed()`` and it is not
        found locally. ``bench run`` and ``bench efficiency`` call it for the methods they run
        (never a listing), before ``availability`` and ``info``; a failed download is reported by
        ``availability``, with the fix. Most methods have nothing to fetch."""

    def prepare(self, context: RunContext) -> None:
        """Called once per run before any protocol; most methods need nothing."""

    @property
    def shared_pass(self) -> str | None:
        """The network pass this method's image calls read, when other methods read it too: a key
        naming the network and its preprocessing (``methodkit.network_pass.PosteriorPass.key``).
        The runner computes the methods of one key image-major, a chunk of images at a time, so
        the pass runs once per image for all of them. None (most methods): computed on its own."""
        return None

    def answers(self, subtask: "Subtask") -> bool:
        """Whether the method answers this subtask (a language, a direction). The harness leaves the
        others out of the method's results and records a protocol with none left as not
        applicable (a dictionary pivot changes only cross-lingual subtasks; an English-only
        recogniser answers only English ones). ``scope`` in ``info.config`` says why, for readers."""
        return True

    def compute_layers(self) -> list | None:
        """Weight layers (``bench.api.layers.Layer``) of one query image's forward pass,
        for MAC counts and the compute-in-memory estimate; None where unknown (e.g. a binary)."""
        return None


class EmbeddingRetriever(Retriever):
    family = Family.EMBEDDING
    _family_base = True
    batch_size = 64

    def embed_images(self, items: Sequence["ImageItem"]) -> "np.ndarray":
        """(n, dim) float array, one row per item (all of script ``items[i].lang``)."""
        raise NotImplementedError

    def embed_texts(self, texts: Sequence[str], lang: str) -> "np.ndarray":
        raise NotImplementedError


class TranscriptionRetriever(Retriever):
    family = Family.TRANSCRIPTION
    _family_base = True
    batch_size = 32

    # Methods that can also translate (VLMs) set ``can_translate`` and answer cross-lingual
    # queries with the word in the lexicon's language instead of a transcript.
    can_translate: ClassVar[bool] = False

    def transcribe(self, items: Sequence["ImageItem"], lang: str) -> list[str]:
        """Transcribe word images; ``lang`` is their script (en, zh or es)."""
        raise NotImplementedError

    def translate(self, items: Sequence["ImageItem"], lang: str, target_lang: str) -> list[str]:
        raise NotImplementedError


class ScoringRetriever(Retriever):
    family = Family.SCORING
    _family_base = True
    batch_size = 64

    def score_texts(self, items: Sequence["ImageItem"], lang: str,
                    lexicons: dict[str, Sequence[str]]) -> dict[str, "np.ndarray"]:
        """Score images (script ``lang``) against each candidate list; higher is better.

        ``lexicons`` maps a language to its words; the answer maps the same
        languages to (n_images, n_words) finite float arrays. All languages come
        in one call so a method runs its model once per image.
        """
        raise NotImplementedError
