"""Evaluation protocols: each a versioned, tested function from a dataset to a task.

A protocol is one ``ProtocolSpec``: its name and version, its kind (what the
runner does with its task), the function that builds the task from a dataset,
and how the leaderboard shows it (a title and columns, each with its direction).
The runner, the CLI's default list, shard merging and the leaderboard all read
the spec, so a new protocol is one ``register_protocol`` call.

A retrieval task is a list of subtasks (one per language or direction); each
subtask names its queries, its gallery and, per query, the gallery indices that
count as hits. Bump a protocol's version whenever its definition changes, so
results made under the old definition show as stale.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from enum import Enum
from typing import Callable

import numpy as np

from bench.core.errors import ProtocolNotApplicable, UnknownProtocolError, did_you_mean
from bench.data.distractors import WORDFREQ_VERSION, distractors
from bench.data.schema import LANGUAGES, XLING_DIRECTIONS, lexicon_key
from bench.data.store import Dataset


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
    timed_queries: int = 0           # per subtask, queries timed uncached for a search latency (0: none)
    reads: str = ""                  # what its queries are, for a "not applicable" reason

    def all_image_keys(self) -> list[str]:
        return sorted({k for st in self.subtasks
                       for k in (st.query_keys if st.query_kind == "image" else st.gallery_keys)})


def restrict(task: RetrievalTask, keep: Callable[[Subtask], bool]) -> RetrievalTask | None:
    """The task with only the subtasks ``keep`` accepts (a method's ``answers``); None if none."""
    subtasks = tuple(st for st in task.subtasks if keep(st))
    if len(subtasks) == len(task.subtasks):
        return task
    return replace(task, subtasks=subtasks) if subtasks else None


@dataclass(frozen=True)
class TopologyTask:
    """The R/D analysis: embeddings of these images and lexicon entries, grouped by semantic id."""

    protocol: str
    version: str
    image_keys: tuple[str, ...]
    text_keys: tuple[str, ...]

    def all_image_keys(self) -> list[str]:
        return list(self.image_keys)


class ProtocolKind(str, Enum):
    RETRIEVAL = "retrieval"          # ranked subtasks -> per-query rankings -> metrics
    TOPOLOGY = "topology"            # embeddings grouped by semantic id -> R/D

    @property
    def needs_embeddings(self) -> bool:
        return self is ProtocolKind.TOPOLOGY

    @property
    def shardable(self) -> bool:
        """Whether queries can be split over shards (R/D needs every embedding at once)."""
        return self is ProtocolKind.RETRIEVAL


@dataclass(frozen=True)
class Column:
    """One leaderboard column: a value found at ``path`` in a result's metrics.

    ``higher_is_better`` is None for descriptive values (never bold); ``ci_path``
    points at a [low, high] interval printed beside the value.
    """

    title: str
    path: tuple[str, ...]
    higher_is_better: bool | None = True
    ci_path: tuple[str, ...] | None = None
    digits: int = 4

    def value(self, metrics: dict | None):
        return _walk(metrics, self.path)

    def interval(self, metrics: dict | None):
        return None if self.ci_path is None else _walk(metrics, self.ci_path)


def _walk(block, path: tuple[str, ...]):
    for step in path:
        if not isinstance(block, dict) or step not in block:
            return None
        block = block[step]
    return block


def overall(metric: str, title: str | None = None, ci: bool = False) -> Column:
    return Column(title or metric, ("overall", metric, "value"),
                  ci_path=("overall", metric, "ci95") if ci else None)


def per_subtask(subtask: str, metric: str, title: str) -> Column:
    return Column(title, ("subtasks", subtask, metric, "value"))


@dataclass(frozen=True)
class ProtocolSpec:
    name: str
    version: str
    kind: ProtocolKind
    description: str
    build: Callable[..., object]     # (spec, dataset, limit=None, seed=0) -> RetrievalTask | TopologyTask
    title: str = ""                  # the leaderboard's heading
    columns: tuple[Column, ...] = ()
    default: bool = True             # part of `bench run` with no --protocols
    # Protocols that are points on one axis (e.g. gallery size) share a leaderboard table:
    # (axis title, this protocol's position on it).
    axis: tuple[str, int] | None = None

    def task(self, ds: Dataset, limit: int | None = None, seed: int = 0):
        """The task on ``ds``; ``ProtocolNotApplicable`` where the dataset cannot support it."""
        task = self.build(self, ds, limit=limit, seed=seed)
        if isinstance(task, RetrievalTask) and not task.subtasks:
            raise ProtocolNotApplicable(f"the dataset has no queries for it (it reads {task.reads})")
        if isinstance(task, TopologyTask) and not task.image_keys:
            raise ProtocolNotApplicable("the dataset has no test_ood images")
        return task


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


def build_within(split: str, spec: "ProtocolSpec", ds: Dataset, limit: int | None, seed: int) -> RetrievalTask:
    """Within-language retrieval of ``split``'s images (bound to a split with functools.partial)."""
    subtasks, dropped = _image_to_lexicon(ds, split, [(l, l) for l in LANGUAGES], limit, seed)
    return RetrievalTask(spec.name, spec.version, tuple(subtasks), "pooled", dropped,
                         reads=f"{split} images with a lexicon word")


def build_xling(spec: "ProtocolSpec", ds: Dataset, limit: int | None, seed: int) -> RetrievalTask:
    subtasks, dropped = _image_to_lexicon(ds, "test_ood", XLING_DIRECTIONS, limit, seed)
    return RetrievalTask(spec.name, spec.version, tuple(subtasks), "mean", dropped,
                         reads="test_ood images with a lexicon word in another language")


def build_t2i(spec: "ProtocolSpec", ds: Dataset, limit: int | None, seed: int) -> RetrievalTask:
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
    return RetrievalTask(spec.name, spec.version, tuple(subtasks), "pooled", reads="test_ood images")


def _by_concept(ds: Dataset, split: str, limit: int | None, seed: int) -> list[int]:
    """The semantic ids with test images in ``split`` (``limit`` of them, seeded, if given)."""
    ids = sorted({s.semantic_id for s in ds.select(split=split)})
    if limit is None or len(ids) <= limit:
        return ids
    return sorted(np.random.default_rng([seed, 7]).choice(ids, size=limit, replace=False).tolist())


def build_rd(spec: "ProtocolSpec", ds: Dataset, limit: int | None, seed: int) -> TopologyTask:
    # A limit keeps whole classes (every render of ``limit`` concepts): a subsample of images
    # would leave singletons, whose radius is undefined.
    ids = set(_by_concept(ds, "test_ood", limit, seed))
    image_keys: list[str] = []
    for lang in LANGUAGES:
        samples = [s for s in ds.select(split="test_ood", lang=lang) if s.semantic_id in ids]
        per_class: dict[int, int] = {}
        for s in samples:
            per_class[s.semantic_id] = per_class.get(s.semantic_id, 0) + 1
        single = sorted(sid for sid, n in per_class.items() if n < 2)
        if single:
            raise ProtocolNotApplicable(f"R/D needs at least 2 test_ood images per word; {len(single)} {lang} "
                                        f"word(s) have one (e.g. semantic id {single[0]})")
        image_keys += sorted(s.key for s in samples)
    text_keys = sorted(e.key for e in ds.lexicon if e.semantic_id in ids)
    return TopologyTask(spec.name, spec.version, tuple(image_keys), tuple(text_keys))


# -- the gallery-size axis -----------------------------------------------------------------------

GALLERY_AXIS = "gallery size"
GALLERY_QUERIES = 100        # test_ood images per language, seeded, the same at every gallery size
TIMED_QUERIES = 10           # of them, per language, timed end to end (model + search) with no cache


def build_gallery(size: int | None, spec: "ProtocolSpec", ds: Dataset, limit: int | None,
                  seed: int) -> RetrievalTask:
    """Within-language OOD retrieval against the lexicon plus distractor words, ``size`` in all
    (bound to a size with functools.partial).

    ``None`` is the lexicon alone. The queries are one fixed seeded subset for every size, so
    only the gallery grows; the hits are unchanged (distractors are never relevant).
    """
    subtasks, dropped = [], 0
    for lang in LANGUAGES:
        samples = ds.select(split="test_ood", lang=lang)
        lexicon = ds.lexicon_for(lang)
        if not samples or not lexicon:
            continue
        extra = distractors(lang, [e.text for e in lexicon], max(0, (size or 0) - len(lexicon)))
        ds.add_distractors(extra)
        gallery = lexicon + extra
        index = {e.semantic_id: i for i, e in enumerate(lexicon)}
        usable = [s.key for s in samples if s.semantic_id in index]
        dropped += len(samples) - len(usable)
        n = GALLERY_QUERIES if limit is None else min(limit, GALLERY_QUERIES)
        keys = _limit(usable, n, seed, f"gallery-{lang}")
        relevant = tuple((index[ds.sample(k).semantic_id],) for k in keys)
        subtasks.append(Subtask(lang, "image", tuple(keys), lang, "text", tuple(e.key for e in gallery),
                                lang, relevant))
    return RetrievalTask(spec.name, spec.version, tuple(subtasks), "pooled", dropped, timed_queries=TIMED_QUERIES,
                         reads="test_ood images with a lexicon word")


# -- the leaderboard's columns ------------------------------------------------------------------

# Declarations, read by the leaderboard (tests/test_leaderboard_current.py renders them all).
WITHIN_COLUMNS = (overall("acc@1", "Acc@1 (95% CI)", ci=True), overall("acc@3", "Acc@3"), overall("acc@5", "Acc@5"),
                  overall("mrr", "MRR"), overall("nes", "NES"),
                  *(per_subtask(lang, "acc@1", f"Acc@1 {lang}") for lang in LANGUAGES))
XLING_COLUMNS = (*(per_subtask(f"{a}→{b}", "acc@1", f"{a}→{b}") for a, b in XLING_DIRECTIONS),
                 overall("acc@1", "Avg (95% CI)", ci=True))
T2I_COLUMNS = (overall("map", "mAP (95% CI)", ci=True), overall("acc@1", "Acc@1"), overall("mrr", "MRR"),
               *(per_subtask(lang, "map", f"mAP {lang}") for lang in LANGUAGES))
RD_COLUMNS = (Column("Radius r̄", ("image", "pooled", "radius"), higher_is_better=None),
              Column("Distance d̄", ("image", "pooled", "distance"), higher_is_better=None),
              Column("R/D pooled ↓", ("image", "pooled", "ratio"), higher_is_better=False),
              Column("random", ("image", "pooled", "random_rd"), higher_is_better=None),
              *(Column(f"R/D {lang} ↓", ("image", lang, "ratio"), higher_is_better=False) for lang in LANGUAGES),
              Column(f"random ({'/'.join(LANGUAGES)})", ("image", LANGUAGES[0], "random_rd"), higher_is_better=None),
              Column("R/D images+texts ↓", ("image+text", "ratio"), higher_is_better=False))
GALLERY_COLUMNS = (overall("acc@1", "Acc@1 (95% CI)", ci=True), overall("mrr", "MRR"),
                   Column("Search latency (ms/query)", ("query_latency_ms", "value"), higher_is_better=False, digits=2))


# -- the registry --------------------------------------------------------------------------------

PROTOCOLS: dict[str, ProtocolSpec] = {}


def register_protocol(spec: ProtocolSpec) -> ProtocolSpec:
    """Add a protocol; a name already taken is refused."""
    if spec.name in PROTOCOLS:
        raise ValueError(f"protocol {spec.name!r} is already registered")
    PROTOCOLS[spec.name] = spec
    return spec


def unregister_protocol(name: str) -> None:
    PROTOCOLS.pop(name, None)


def get_protocol(name: str) -> ProtocolSpec:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UnknownProtocolError(f"unknown protocol {name!r}{did_you_mean(name, PROTOCOLS)} "
                                   f"(known: {', '.join(PROTOCOLS)})") from None


def axis_specs(axis: str) -> list[ProtocolSpec]:
    """The protocols on one axis, in axis order."""
    return sorted((s for s in PROTOCOLS.values() if s.axis and s.axis[0] == axis), key=lambda s: s.axis[1])


def gallery_size_of(metrics: dict) -> int:
    """The largest per-language gallery a gallery-axis result ranked against (0 if none recorded)."""
    return max((metrics.get("gallery_size") or {}).values(), default=0)


def default_protocols() -> tuple[str, ...]:
    return tuple(name for name, spec in PROTOCOLS.items() if spec.default)


for _spec in (
    ProtocolSpec("id", "2", ProtocolKind.RETRIEVAL,
                 "In-domain: test_id images (styles seen in training) against the lexicon of their own language",
                 partial(build_within, "test_id"), "Within-language retrieval, in-domain styles (`id`)", WITHIN_COLUMNS),
    ProtocolSpec("ood", "2", ProtocolKind.RETRIEVAL,
                 "Out-of-domain: test_ood images (styles never seen in training) against the lexicon of their "
                 "own language", partial(build_within, "test_ood"),
                 "Within-language retrieval, out-of-domain styles (`ood`)", WITHIN_COLUMNS),
    ProtocolSpec("xling", "2", ProtocolKind.RETRIEVAL,
                 "Cross-lingual: test_ood images in one language against the lexicon of another (six "
                 "directions); a hit is the same semantic id; Avg is the mean over directions", build_xling,
                 "Cross-lingual retrieval, Acc@1 (`xling`, image language → lexicon language)", XLING_COLUMNS),
    ProtocolSpec("t2i", "2", ProtocolKind.RETRIEVAL,
                 "Text to image: each lexicon word ranks the test_ood images of its language; all images of the "
                 "same semantic id are relevant (mAP)", build_t2i, "Text → image retrieval (`t2i`)", T2I_COLUMNS),
    ProtocolSpec("rd", "2", ProtocolKind.TOPOLOGY,
                 "Topology of the test_ood image (and lexicon text) embeddings grouped by semantic id: mean "
                 "intra-class radius / mean inter-class distance, per language (a class is one word's renders) and "
                 "pooled (a concept's renders in every language), each beside the R/D of random vectors with the "
                 "same class sizes", build_rd, "Embedding topology on the OOD set (`rd`)", RD_COLUMNS),
    *(ProtocolSpec(f"gallery-{label}", f"1-wordfreq{WORDFREQ_VERSION}", ProtocolKind.RETRIEVAL,
                   f"Gallery size: {GALLERY_QUERIES} seeded test_ood images per language against their language's "
                   f"lexicon{'' if size is None else f' plus distractor words (wordfreq), {size:,} words in all'}",
                   partial(build_gallery, size), "Gallery size: Acc@1 and search latency as the gallery grows "
                   "(`gallery-*`)", GALLERY_COLUMNS, axis=(GALLERY_AXIS, size or 0))
      for label, size in (("lexicon", None), ("10k", 10_000), ("50k", 50_000))),
):
    register_protocol(_spec)
