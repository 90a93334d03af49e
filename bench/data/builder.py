"""The embedded synthetic handwriting benchmark: plan, render, write.

``plan`` decides every sample (word, language, split, style, render seed) from
the lexicon, the style pool and the seed alone; ``build`` renders the plan in
worker processes and writes a dataset folder. Same seed and assets, same
fingerprint.

Sizes (per language):
* ``small`` (the default): every concept twice in ``test_id``, three times in
  ``test_ood`` and four times in ``train``, each time in a different style, so
  a word has several relevant images (text->image mAP, R/D radii, per-style
  analysis);
* ``paper``: the paper's Table 1 evaluation counts (test_id 21,900 per language;
  test_ood zh 7,200, en 5,376, es 7,304), train as in ``small``;
* ``tiny``: the first 24 concepts, as ``small`` but one train sample, for quick checks;
* ``hand``: as ``small``, written by generative writers instead of fonts (``hand.py``),
  with difficulty calibrated against published real-handwriting figures;
* ``hand-calib``: 200 words per language and side by the calibration writers, a set
  disjoint from ``hand``'s writers, for ``benchmarks/calibrate_hand.py`` only;
* ``hand-legibility``: 2,000 OOD words per language by the same calibration writers, whose
  failures that script draws for reading by eye.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core.cache import is_default_dataset_location
from bench.core.errors import DatasetError
from bench.core.progress import NULL_TRACKER, Tracker
from bench.data import hand
from bench.data.assets import SOURCES, assets_dir, load_asset
from bench.data.lexicon import lexicon_digest, load_lexicon, texts_by_lang
from bench.data.render import RENDER_VERSION, Style, encode_png, render
from bench.data.schema import LANGUAGES, LexiconEntry
from bench.data.store import SampleRecord, check_output, write_dataset
from bench.data.styles import StylePool, build_pool, lexicon_chars

SPLIT_SIDE = {"train": "id", "test_id": "id", "test_ood": "ood"}


@dataclass(frozen=True)
class SizeSpec:
    name: str
    train_per_concept: int
    test_id: dict[str, int] | None      # samples per language; None = ``renders`` per concept
    test_ood: dict[str, int] | None
    n_concepts: int | None = None       # None = the whole lexicon
    # Extra training data only: Latin words also in UPPER and Title case (labels unchanged; the
    # text policy is case-insensitive), Chinese drawn by this many in-domain stroke writers.
    case_variants: bool = False
    zh_id_writers: int | None = None
    splits: tuple[str, ...] = ("train", "test_id", "test_ood")
    renders: tuple[tuple[str, int], ...] = (("test_id", 2), ("test_ood", 3))   # per concept, distinct styles
    tier: str = "synth"                  # "synth": fonts and stroke writers; "hand": generative writers
    writers: str = "test"                # hand tier: "test" or "calib" writer seeds (hand.WRITER_SEEDS)


SIZES = {
    "small": SizeSpec("small", 4, None, None),
    "paper": SizeSpec("paper", 4, {"en": 21900, "zh": 21900, "es": 21900},
                      {"zh": 7200, "en": 5376, "es": 7304}),
    "tiny": SizeSpec("tiny", 1, None, None, n_concepts=24),
    # The paper recipe's pre-training set at the paper's scale (262k renders): train split only.
    "paper-train": SizeSpec("paper-train", 70, None, None, splits=("train",)),
    "train-aug": SizeSpec("train-aug", 4, None, None, case_variants=True, zh_id_writers=96,
                          splits=("train",)),
    "hand": SizeSpec("hand", 4, None, None, tier="hand"),
    "hand-calib": SizeSpec("hand-calib", 0, {"en": 200, "zh": 200, "es": 200},
                           {"en": 200, "zh": 200, "es": 200}, tier="hand", writers="calib",
                           splits=("test_id", "test_ood")),
    # The calibration writers' OOD side, ten times as many words: enough failures of the strongest
    # baseline to read for legibility at each calibration shape (benchmarks/calibrate_hand.py).
    "hand-legibility": SizeSpec("hand-legibility", 0, None, {"en": 2000, "zh": 2000, "es": 2000}, tier="hand",
                                writers="calib", splits=("test_ood",)),
}
CASES = ("lower", "lower", "upper", "title")


@dataclass(frozen=True)
class PlannedSample:
    key: str
    semantic_id: int
    lang: str
    text: str
    split: str
    style: str
    render_seed: tuple[int, ...]
    drawn: str = ""                      # the text as rendered (a case variant), if not ``text``


def plan(size: SizeSpec, lexicon: list[LexiconEntry], pool: StylePool, seed: int) -> list[PlannedSample]:
    out: list[PlannedSample] = []
    for li, lang in enumerate(LANGUAGES):
        entries = sorted((e for e in lexicon if e.lang == lang), key=lambda e: e.semantic_id)
        if size.n_concepts:
            entries = entries[:size.n_concepts]
        n_concepts = len(entries)
        for si, split in enumerate(("train", "test_id", "test_ood")):
            if split not in size.splits:
                continue
            styles = pool.styles[lang][SPLIT_SIDE[split]]
            if not styles:
                raise DatasetError(f"style pool ({lang})", f"no {SPLIT_SIDE[split]} style can draw {lang}; "
                                   "run `bench data assets` (needs pip, npm and apt-get)")
            if split == "train":
                count = size.train_per_concept * n_concepts
            else:
                counts = size.test_id if split == "test_id" else size.test_ood
                count = n_concepts * dict(size.renders)[split] if counts is None else counts[lang]
            rng = np.random.default_rng([seed, li, si])
            order = rng.permutation(n_concepts)
            offsets = rng.integers(0, len(styles), n_concepts)
            for j in range(count):
                c = int(order[j % n_concepts])
                rnd = j // n_concepts  # a concept's r-th sample gets the r-th style after its offset
                entry = entries[c]
                style = styles[(int(offsets[c]) + rnd) % len(styles)]
                drawn = entry.text
                if size.case_variants and lang != "zh":
                    case = CASES[int(rng.integers(len(CASES)))]
                    drawn = {"lower": drawn, "upper": drawn.upper(), "title": drawn.title()}[case]
                out.append(PlannedSample(f"{lang}-{split}-{entry.semantic_id:04d}-{rnd:02d}",
                                         entry.semantic_id, lang, entry.text, split, style.id,
                                         (seed, li, si, entry.semantic_id, rnd), drawn))
    return out


_WORKER_STYLES: dict[str, Style] = {}
_WORKER_DIFFICULTY = hand.CALIBRATED


def _init_worker(styles: dict[str, Style], difficulty: hand.Difficulty) -> None:
    global _WORKER_STYLES, _WORKER_DIFFICULTY
    _WORKER_STYLES, _WORKER_DIFFICULTY = styles, difficulty


def render_sample(text: str, style: Style, rng: np.random.Generator, difficulty: hand.Difficulty):
    if style.kind == "hand":
        return hand.render_hand(text, style.params, difficulty, rng, style.files[0])
    return render(text, style, rng)


def _render_chunk(chunk: list[PlannedSample]) -> list[tuple[str, bytes]]:
    return [(p.key, encode_png(render_sample(p.drawn or p.text, _WORKER_STYLES[p.style],
                                             np.random.default_rng(p.render_seed), _WORKER_DIFFICULTY)))
            for p in chunk]


def hand_pool(cache_root: Path, chars: dict[str, set[str]], writers: str = "test") -> StylePool:
    """The hand tier's writers: Latin writers draw en and es, Chinese writers zh; sides as ``small``."""
    record = load_asset(cache_root, "hanzi-writer")
    if record is None:
        raise DatasetError("hanzi-writer", "stroke data not fetched (run `bench data assets`)")
    folder = str(assets_dir(cache_root) / "hanzi-writer")
    styles: dict[str, dict[str, list[Style]]] = {lang: {"id": [], "ood": []} for lang in LANGUAGES}
    for side in ("id", "ood"):
        for seed in hand.WRITER_SEEDS[(writers, side)]:
            for script, langs in (("latin", ("en", "es")), ("han", ("zh",))):
                style = Style(f"hand:{script}:w{seed:04d}", f"hand-{script}", "hand", (folder,),
                              hand.make_writer(seed, side, script))
                for lang in langs:
                    styles[lang][side].append(style)
    missing = {lang: sorted(ch for ch in chars.get(lang, ()) if not hand.can_write(lang, ch, folder))
               for lang in LANGUAGES}
    for lang, chs in missing.items():
        if chs:
            raise DatasetError(f"lexicon ({lang})", f"the hand tier cannot write {''.join(chs[:8])!r}")
    return StylePool(styles, [])


def _builder_record(spec: SizeSpec, seed: int, pool: StylePool, cache_root: Path,
                    difficulty: hand.Difficulty) -> dict:
    """What the manifest records of how the dataset was made (styles, assets, versions)."""
    assets = {}
    for source in SOURCES:
        record = load_asset(cache_root, source.name)
        if record is not None:
            assets[source.name] = {"registry": source.registry, "package": source.package,
                                   "version": source.version, "archive_sha256": record["archive_sha256"],
                                   "licence": source.licence}
    builder = {
        "name": f"hwr-bench-{spec.tier}", "size": spec.name, "seed": seed, **_generator(spec, difficulty),
        "lexicon_sha256": lexicon_digest(),
        "styles": {lang: {side: [s.id for s in v] for side, v in sides.items()}
                   for lang, sides in pool.styles.items()},
        "style_pool_notes": pool.notes, "assets": assets,
        "note": "synthetic handwriting rendered from fonts and stroke data, not real handwriting",
    }
    if spec.tier == "hand":
        builder["note"] = "synthetic handwriting by generative writers (hand.py), not real handwriting"
    return builder


def _generator(spec: SizeSpec, difficulty: hand.Difficulty) -> dict:
    """Which generator made a dataset of ``spec``: what the manifest records, and what ``stale_tier``
    compares with the running code."""
    made = {"render_version": RENDER_VERSION}
    if spec.tier == "hand":
        made.update(hand_version=hand.HAND_VERSION, difficulty=difficulty.as_dict())
    return made


def stale_tier(manifest: dict, size: str) -> bool:
    """Whether a manifest is embedded tier ``size`` written by an older generator (render or hand
    version, calibrated difficulty) than this code runs. Anything else (another size, a user's own
    dataset) is not ours to judge: False."""
    made = manifest.get("builder") or {}
    if made.get("size") != size or size not in SIZES:
        return False
    return any(made.get(k) != v for k, v in _generator(SIZES[size], hand.CALIBRATED).items())


def build(out: Path, *, size: str = "small", seed: int = 0, cache_root: Path, workers: int | None = None,
          tracker: Tracker = NULL_TRACKER, replace: bool = False, difficulty: hand.Difficulty | None = None) -> dict:
    """Render and write the benchmark; returns a summary (counts, styles, timings, notes).

    An existing dataset at ``out`` is replaced only with ``replace`` or at the default location
    (``bench data build`` without ``--out``); anything else already there is refused before any
    rendering (see ``store.check_output``).
    """
    if size not in SIZES:
        raise DatasetError("--size", f"unknown size {size!r} (choose from {', '.join(SIZES)})")
    replace = replace or is_default_dataset_location(out)
    check_output(out, replace=replace)
    started = time.perf_counter()
    spec = SIZES[size]
    lexicon = list(load_lexicon())
    difficulty = difficulty or hand.CALIBRATED
    if spec.tier == "hand":
        pool = hand_pool(cache_root, {lang: lexicon_chars(t) for lang, t in texts_by_lang(lexicon).items()},
                         spec.writers)
    else:
        pool = build_pool(cache_root, texts_by_lang(lexicon), zh_id_writers=spec.zh_id_writers)
    planned = plan(spec, lexicon, pool, seed)
    styles = {s.id: s for sides in pool.styles.values() for v in sides.values() for s in v}
    chunks = [planned[i:i + 64] for i in range(0, len(planned), 64)]
    images: dict[str, bytes] = {}
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        with mp.get_context("fork").Pool(workers, initializer=_init_worker,
                                         initargs=(styles, difficulty)) as pool_:
            for rendered in tracker.track(pool_.imap(_render_chunk, chunks), len(planned), "rendering"):
                images.update(rendered)
    else:
        _init_worker(styles, difficulty)
        for chunk in tracker.track(chunks, len(planned), "rendering"):
            images.update(_render_chunk(chunk))
    render_seconds = time.perf_counter() - started

    records = [SampleRecord(p.key, images[p.key], p.text, p.semantic_id, p.lang,
                            p.style, p.split) for p in planned]
    # Every concept in scope stays in the lexicon, sampled or not: retrieval ranks the whole lexicon.
    used_ids = {e.semantic_id for lang in LANGUAGES for e in
                sorted((e for e in lexicon if e.lang == lang), key=lambda e: e.semantic_id)[:spec.n_concepts]}
    lexicon_used = [e for e in lexicon if e.semantic_id in used_ids]
    name = f"hwr-bench-synth-{size}" if spec.tier == "synth" else f"hwr-bench-{size}"
    fingerprint = write_dataset(out, name, records, lexicon_used,
                                _builder_record(spec, seed, pool, cache_root, difficulty), replace=replace)
    return {"fingerprint": fingerprint, "n_samples": len(records), "n_concepts": len(used_ids),
            "styles": pool.counts(), "notes": pool.notes, "render_seconds": round(render_seconds, 1),
            "total_seconds": round(time.perf_counter() - started, 1)}
