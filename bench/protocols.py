"""Evaluation protocols: each a versioned, tested function from a dataset to a task.

A retrieval task is a list of subtasks (one per language or direction); each
subtask names its queries, its gallery and, per query, the gallery indices that
count as hits. Bump a protocol's version whenever its definition changes, so
results made under the old definition show as stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from bench.data.store import Dataset
from bench.errors import UnknownProtocolError
from bench.schema import LANGUAGES, XLING_DIRECTIONS, lexicon_key


@dataclass(frozen=True)
class Subtask:
    name: str
    query_kind: str                  # "image" (sample keys) or "text" (lexicon keys)
    query_keys: tuple[str, ...]
    query_lang: str
    gallery_kind: str                # "text" (lexicon keys) or "image" (sample keys)
    gallery_keys: tuple[str, ...]
    gallery_lang: str
    relevant: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class RetrievalTask:
    protocol: str
    version: str
    subtasks: tuple[Subtask, ...]
    aggregate: str                   # "pooled" over all queries, or "mean" of subtasks
    n_dropped: int = 0               # queries without any relevant gallery item

    def all_image_keys(self) -> list[str]:
        return sorted({k for st in self.subtasks
                       for k in (st.query_keys if st.query_kind == "image" else st.gallery_keys)})


@dataclass(frozen=True)
class TopologyTask:
    """The R/D analysis: embeddings of these images and lexicon entries, grouped by semantic id."""

    protocol: str
    version: str
    image_keys: tuple[str, ...]
    text_keys: tuple[str, ...]

    def all_image_keys(self) -> list[str]:
        return list(self.image_keys)


@dataclass(frozen=True)
class ProtocolSpec:
    name: str
    version: str
    kind: str                        # "retrieval" or "topology"
    description: str
    build: Callable[..., object]


def _limit(keys: list[str], limit: int | None, seed: int, salt: str) -> list[str]:
    keys = sorted(keys)
    if limit is None or len(keys) <= limit:
        return keys
    rng = np.random.default_rng([seed, sum(map(ord, salt))])
    return sorted(rng.choice(keys, size=limit, replace=False).tolist())


def _image_to_lexicon(ds: Dataset, split: str, pairs, limit, seed) -> tuple[list[Subtask], int]:
    subtasks, dropped = [], 0
    for src, dst in pairs:
        samples = ds.select(split=split, lang=src)
        if not samples:
            continue
        lexicon = ds.lexicon_for(dst)
        gallery_keys = tuple(e.key for e in lexicon)
        index = {e.semantic_id: i for i, e in enumerate(lexicon)}
        usable = [s.key for s in samples if s.semantic_id in index]
        dropped += len(samples) - len(usable)
        name = src if src == dst else f"{src}→{dst}"
        keys = _limit(usable, limit, seed, name)
        relevant = tuple((index[ds.sample(k).semantic_id],) for k in keys)
        subtasks.append(Subtask(name, "image", tuple(keys), src, "text", gallery_keys, dst, relevant))
    return subtasks, dropped


def build_within(split: str):
    def build(ds: Dataset, limit: int | None = None, seed: int = 0) -> RetrievalTask:
        spec = PROTOCOLS["id" if split == "test_id" else "ood"]
        subtasks, dropped = _image_to_lexicon(ds, split, [(l, l) for l in LANGUAGES], limit, seed)
        return RetrievalTask(spec.name, spec.version, tuple(subtasks), "pooled", dropped)
    return build


def build_xling(ds: Dataset, limit: int | None = None, seed: int = 0) -> RetrievalTask:
    subtasks, dropped = _image_to_lexicon(ds, "test_ood", XLING_DIRECTIONS, limit, seed)
    spec = PROTOCOLS["xling"]
    return RetrievalTask(spec.name, spec.version, tuple(subtasks), "mean", dropped)


def build_t2i(ds: Dataset, limit: int | None = None, seed: int = 0) -> RetrievalTask:
    subtasks = []
    for lang in LANGUAGES:
        images = sorted(ds.select(split="test_ood", lang=lang), key=lambda s: s.key)
        if not images:
            continue
        by_id: dict[int, list[int]] = {}
        for i, s in enumerate(images):
            by_id.setdefault(s.semantic_id, []).append(i)
        keys = _limit([lexicon_key(lang, sid) for sid in by_id], limit, seed, f"t2i-{lang}")
        relevant = tuple(tuple(by_id[ds.lexicon_entry(k).semantic_id]) for k in keys)
        subtasks.append(Subtask(lang, "text", tuple(keys), lang, "image",
                                tuple(s.key for s in images), lang, relevant))
    spec = PROTOCOLS["t2i"]
    return RetrievalTask(spec.name, spec.version, tuple(subtasks), "pooled")


def build_rd(ds: Dataset, limit: int | None = None, seed: int = 0) -> TopologyTask:
    image_keys: list[str] = []
    for lang in LANGUAGES:
        image_keys += _limit([s.key for s in ds.select(split="test_ood", lang=lang)], limit, seed,
                             f"rd-{lang}")
    ids = {ds.sample(k).semantic_id for k in image_keys}
    text_keys = sorted(e.key for e in ds.lexicon if e.semantic_id in ids)
    spec = PROTOCOLS["rd"]
    return TopologyTask(spec.name, spec.version, tuple(image_keys), tuple(text_keys))


PROTOCOLS: dict[str, ProtocolSpec] = {
    "id": ProtocolSpec("id", "1", "retrieval",
                       "In-domain: test_id images (styles seen in training) against the lexicon "
                       "of their own language", build_within("test_id")),
    "ood": ProtocolSpec("ood", "1", "retrieval",
                        "Out-of-domain: test_ood images (styles never seen in training) against "
                        "the lexicon of their own language", build_within("test_ood")),
    "xling": ProtocolSpec("xling", "1", "retrieval",
                          "Cross-lingual: test_ood images in one language against the lexicon of "
                          "another (six directions); a hit is the same semantic id; Avg is the "
                          "mean over directions", build_xling),
    "t2i": ProtocolSpec("t2i", "1", "retrieval",
                        "Text to image: each lexicon word ranks the test_ood images of its "
                        "language; all images of the same semantic id are relevant (mAP)",
                        build_t2i),
    "rd": ProtocolSpec("rd", "1", "topology",
                       "Topology of the test_ood image (and lexicon text) embeddings grouped by "
                       "semantic id: mean intra-class radius / mean inter-class distance",
                       build_rd),
}


def get_protocol(name: str) -> ProtocolSpec:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UnknownProtocolError(f"unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})") from None
