"""The hand tier: generative writers, their regions, the levers and the calibration record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.data import hand
from bench.data.builder import SIZES, hand_pool, plan, render_sample
from bench.data.lexicon import load_lexicon, texts_by_lang
from bench.data.render import encode_png
from bench.data.styles import lexicon_chars

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cache_root(asset_cache):
    return asset_cache


@pytest.fixture(scope="module")
def pool(cache_root):
    lexicon = list(load_lexicon())
    return hand_pool(cache_root, {lang: lexicon_chars(t) for lang, t in texts_by_lang(lexicon).items()})


def _pixels(style, text, d=hand.CALIBRATED, seed=3):
    return np.asarray(render_sample(text, style, np.random.default_rng(seed), d))


def test_writers_are_pure_functions_of_seed_and_side():
    a, b = hand.make_writer(5, "id", "latin"), hand.make_writer(5, "id", "latin")
    assert a == b
    assert hand.make_writer(6, "id", "latin") != a
    assert hand.make_writer(5, "ood", "latin") != a


def test_id_and_ood_writer_regions_are_disjoint():
    ids = [hand.make_writer(s, "id", sc) for s in hand.WRITER_SEEDS[("test", "id")] for sc in ("latin", "han")]
    oods = [hand.make_writer(s, "ood", sc) for s in hand.WRITER_SEEDS[("test", "ood")] for sc in ("latin", "han")]
    for lever in ("slant", "joins", "running", "pen"):
        inside = [getattr(w, lever) for w in ids]
        outside = [getattr(w, lever) for w in oods]
        # No OOD writer falls inside the span of in-domain writers on any of these levers.
        assert not any(min(inside) <= v <= max(inside) for v in outside), lever
    # OOD hands prefer the cursive allograph, in-domain hands print or script.
    assert np.mean([w.allograph_bias[2] for w in oods]) > 2 * np.mean([w.allograph_bias[2] for w in ids])


def test_calibration_writers_are_not_test_writers():
    test = {s for (kind, _), seeds in hand.WRITER_SEEDS.items() if kind == "test" for s in seeds}
    calib = {s for (kind, _), seeds in hand.WRITER_SEEDS.items() if kind == "calib" for s in seeds}
    assert test and calib and not test & calib


def test_render_is_seeded_and_every_lever_changes_the_image(pool):
    latin = pool.styles["es"]["ood"][0]
    han = pool.styles["zh"]["ood"][0]
    assert encode_png(render_sample("niño", latin, np.random.default_rng(1), hand.CALIBRATED)) == \
        encode_png(render_sample("niño", latin, np.random.default_rng(1), hand.CALIBRATED))
    for lever in hand.LEVERS:
        style, text = (han, "苹果") if lever in ("stroke_deform", "running_hand", "radicals") else (latin, "jardinería")
        base, off = _pixels(style, text), _pixels(style, text, hand.without(hand.CALIBRATED, lever))
        assert base.shape != off.shape or np.abs(base.astype(int) - off.astype(int)).mean() > 0.5, lever
    with pytest.raises(ValueError, match="unknown lever"):
        hand.without(hand.CALIBRATED, "fonts")


def test_a_lever_switched_off_leaves_every_other_random_draw_alone(pool):
    # Where the lever has nothing to act on, switching it off must give the very same image: it
    # still draws its random numbers, so the per-lever ablation compares like with like.
    latin, han = pool.styles["en"]["ood"][1], pool.styles["zh"]["ood"][1]
    for style, text, lever in ((latin, "turn", "letter_forms"), (latin, "now", "proportions"),
                               (latin, "sun", "stroke_deform"), (han, "苹果", "joins"),
                               (han, "苹果", "allographs")):
        assert np.array_equal(_pixels(style, text), _pixels(style, text, hand.without(hand.CALIBRATED, lever))), lever


def test_every_allograph_family_writes_lowercase_in_one_band():
    for family in (*hand.ALLOGRAPHS, "greek"):
        strokes, _ = hand.letter(family, "o")
        ys = np.concatenate([st[:, 1] for st in strokes])
        assert ys.min() == pytest.approx(hand.X_TOP) and ys.max() == pytest.approx(hand.BASE), family
        i_strokes, _ = hand.letter(family, "i") if family != "greek" else (None, None)
        if i_strokes:
            assert hand._is_dot(i_strokes[-1]) and not any(hand._is_dot(st) for st in i_strokes[:-1])


def test_long_phrases_keep_their_proportions(pool):
    style = pool.styles["en"]["id"][0]
    image = render_sample("articulated lorry and a wheelbarrow", style, np.random.default_rng(0), hand.CALIBRATED)
    assert image.height == 64 and image.width <= 768
    ink_rows = np.where((np.asarray(image) < 128).any(1))[0]
    # Shrunk onto a wider strip rather than squeezed: the ink does not fill the full height.
    assert ink_rows.max() - ink_rows.min() < 60


def test_hand_plan_uses_hand_writers_and_calib_keeps_the_whole_lexicon(pool, cache_root, tmp_path):
    lexicon = list(load_lexicon())
    planned = plan(SIZES["hand"], lexicon, pool, 0)
    assert {p.style.split(":")[0] for p in planned} == {"hand"}
    by_split = {}
    for p in planned:
        by_split.setdefault(p.split, set()).add(p.style)
    assert not by_split["test_ood"] & (by_split["train"] | by_split["test_id"])
    calib = plan(SIZES["hand-calib"], lexicon, hand_pool(cache_root, {}, "calib"), 0)
    assert {p.split for p in calib} == {"test_id", "test_ood"}
    assert len(calib) == 2 * 3 * 200
    assert not {p.style for p in calib} & {p.style for p in planned}


def test_calibrated_difficulty_is_what_the_calibration_fitted():
    record = json.loads((ROOT / "benchmarks" / "results" / "hand_calibration.json").read_text())
    fitted = record["fitted"]
    assert (hand.CALIBRATED.shape_id, hand.CALIBRATED.shape_ood, hand.CALIBRATED.imaging) == \
        (fitted["shape_id"], fitted["shape_ood"], fitted["imaging"])
    for side in ("id", "ood"):
        assert record["within_0.05"][side] == (abs(record["hit"][side]["acc@1"] - record["references"]["rapidocr"][side])
                                              <= 0.05)


def test_dataset_hand_names_the_tier_unless_a_folder_of_that_name_exists(tmp_path, monkeypatch):
    from bench.api import commands

    built, loaded = [], []
    monkeypatch.setenv("HWR_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(commands, "build_dataset", lambda path, size, seed, workers, quiet: built.append((path, size)))
    monkeypatch.setattr(commands, "load_dataset", lambda path: loaded.append(path) or path)
    monkeypatch.chdir(tmp_path)
    commands.load_or_build_dataset(Path("hand"), quiet=True)
    assert built == [(tmp_path / "cache" / "datasets" / "synth-hand-seed0", commands.DatasetSize.HAND)]
    (tmp_path / "hand").mkdir()                       # a folder called hand is the user's dataset
    commands.load_or_build_dataset(Path("hand"), quiet=True)
    assert loaded[-1] == Path("hand") and len(built) == 1
    commands.load_or_build_dataset(Path("elsewhere"), quiet=True)   # any other name is a path
    assert loaded[-1] == Path("elsewhere") and len(built) == 1


def test_a_tier_named_by_dataset_keeps_its_results_in_its_own_folder(tmp_path, monkeypatch):
    from bench.api.commands import tier_results_dir

    monkeypatch.chdir(tmp_path)
    assert tier_results_dir(Path("hand"), Path("results")) == Path("results/hand")
    assert tier_results_dir(Path("hand"), Path("mine")) == Path("mine")          # a folder given is kept
    assert tier_results_dir(None, Path("results")) == Path("results")
    assert tier_results_dir(Path("small"), Path("results")) == Path("results")
    repo = tmp_path / "clone" / "results"              # a repository's results/ named by its path: still nested
    assert tier_results_dir(Path("hand"), repo) == repo / "hand"
    (tmp_path / "hand").mkdir()                                                 # a dataset folder named hand
    assert tier_results_dir(Path("hand"), Path("results")) == Path("results")


def test_an_embedded_tier_built_by_an_older_generator_is_rebuilt_and_nothing_else_is(tmp_path, monkeypatch):
    from bench.api import commands
    from bench.data.builder import stale_tier
    from bench.data.render import RENDER_VERSION

    current = {"builder": {"size": "hand", "render_version": RENDER_VERSION, "hand_version": hand.HAND_VERSION,
                           "difficulty": hand.CALIBRATED.as_dict()}}
    assert not stale_tier(current, "hand")
    older = {"builder": {**current["builder"], "difficulty": {**hand.CALIBRATED.as_dict(), "shape_ood": 9.0}}}
    assert stale_tier(older, "hand")
    assert stale_tier({"builder": {**current["builder"], "hand_version": "0"}}, "hand")
    assert stale_tier({"builder": {"size": "small", "render_version": "0"}}, "small")
    # A toy or a user's dataset where the default tier is looked for is not ours to rebuild.
    assert not stale_tier({"builder": {"size": "toy", "render_version": "0"}}, "small")
    assert not stale_tier({}, "small")

    built = []
    monkeypatch.setenv("HWR_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(commands, "build_dataset", lambda path, size, seed, workers, quiet: built.append(path))
    monkeypatch.setattr(commands, "load_dataset", lambda path: path)
    folder = tmp_path / "cache" / "datasets" / "synth-hand-seed0"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(current))
    commands.load_or_build_dataset(Path("hand"), quiet=True)
    assert built == []
    (folder / "manifest.json").write_text(json.dumps(older))
    commands.load_or_build_dataset(Path("hand"), quiet=True)
    assert built == [folder]
