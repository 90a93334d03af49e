"""The synthetic benchmark builder. Rendering tests use the real pinned assets, fetched
from the package registries into the cache once (as `bench data assets` does)."""

from collections import Counter, defaultdict

import numpy as np
import pytest

from bench.data import assets as assets_mod
from bench.data.builder import SIZES, build, plan
from bench.data.lexicon import load_lexicon, texts_by_lang
from bench.data.render import Style, can_draw, render, style_params
from bench.data.store import load_dataset
from bench.data.styles import (HERSHEY_FAMILIES, ID_WRITER_SEEDS, MIN_STYLES, OOD_FAMILIES, OOD_WRITER_SEEDS,
                               StylePool, build_pool, hanzi_writer, hershey_writer)


def _fake_pool(n_id=16, n_ood=8) -> StylePool:
    def style(i, side):
        sid = f"font:{side}{i}"
        return Style(sid, f"{side}{i}", "font", ("x.ttf",), style_params(sid, "font"))
    sides = {"id": [style(i, "id") for i in range(n_id)], "ood": [style(i, "ood") for i in range(n_ood)]}
    return StylePool({lang: sides for lang in ("en", "zh", "es")}, [])


def test_paper_size_plan_has_table_1_counts():
    planned = plan(SIZES["paper"], list(load_lexicon()), _fake_pool(), seed=0)
    counts = Counter((p.split, p.lang) for p in planned)
    assert counts[("test_id", "en")] == counts[("test_id", "zh")] == counts[("test_id", "es")] == 21900
    assert (counts[("test_ood", "zh")], counts[("test_ood", "en")], counts[("test_ood", "es")]) == (7200, 5376, 7304)
    assert sum(v for (split, _), v in counts.items() if split != "train") == 65700 + 19880
    assert len({p.key for p in planned}) == len(planned)


def test_small_plan_covers_every_concept_with_disjoint_styles():
    lexicon = list(load_lexicon())
    n = len({e.semantic_id for e in lexicon})
    planned = plan(SIZES["small"], lexicon, _fake_pool(), seed=3)
    counts = Counter((p.split, p.lang) for p in planned)
    for lang in ("en", "zh", "es"):
        assert counts[("test_id", lang)] == 2 * n and counts[("test_ood", lang)] == 3 * n
        assert counts[("train", lang)] == 4 * n
    # Several renders of every word in the test splits, each by a different hand.
    renders = defaultdict(list)
    for p in planned:
        if p.split != "train":
            renders[(p.split, p.lang, p.semantic_id)].append(p.style)
    assert {len(v) for k, v in renders.items() if k[0] == "test_ood"} == {3}
    assert {len(v) for k, v in renders.items() if k[0] == "test_id"} == {2}
    assert all(len(set(v)) == len(v) for v in renders.values())
    train_styles = defaultdict(list)
    for p in planned:
        if p.split == "train":
            train_styles[(p.lang, p.semantic_id)].append(p.style)
    assert all(len(set(v)) == 4 for v in train_styles.values())  # four different hands per word
    id_styles = {p.style for p in planned if p.split != "test_ood"}
    ood_styles = {p.style for p in planned if p.split == "test_ood"}
    assert not id_styles & ood_styles
    assert plan(SIZES["small"], lexicon, _fake_pool(), seed=3) == planned
    assert plan(SIZES["small"], lexicon, _fake_pool(), seed=4) != planned


@pytest.fixture(scope="session")
def cache_root(asset_cache):
    return asset_cache


@pytest.fixture(scope="session")
def pool(cache_root):
    return build_pool(cache_root, texts_by_lang(load_lexicon()))


def test_style_pool_meets_minimums_and_families_never_cross(pool):
    for lang, sides in pool.styles.items():
        assert len(sides["id"]) >= MIN_STYLES["id"] and len(sides["ood"]) >= MIN_STYLES["ood"], lang
        id_families = {s.family for s in sides["id"]}
        ood_families = {s.family for s in sides["ood"]}
        assert not id_families & ood_families
        ood_writers = {f"hershey-{font}" for font in HERSHEY_FAMILIES["ood"]}
        assert all(f in OOD_FAMILIES or f.startswith("hanzi-writer/w1") or f in ood_writers for f in ood_families)
        if lang != "zh":  # Latin stroke writers are part of the default pool, on both sides
            assert any(s.kind == "hershey" for s in sides["id"]) and any(s.kind == "hershey" for s in sides["ood"])


def test_coverage_is_checked_by_rendering(pool, cache_root):
    latin = pool.styles["en"]["id"][0]
    assert can_draw(latin, "ñ") and can_draw(latin, "á")
    assert not can_draw(latin, "水")  # a Latin font has no Chinese glyph
    writer = next(s for s in pool.styles["zh"]["id"] if s.kind == "strokes")
    assert can_draw(writer, "水") and not can_draw(writer, "ñ")
    # A character no Latin font draws removes every Latin font from that language, with a note.
    narrow = build_pool(cache_root, {"en": ["ʬʭ"], "zh": ["水"], "es": ["agua"]})
    assert narrow.styles["en"]["id"] == [] and narrow.styles["es"]["id"]
    assert any("cannot draw" in n and "left out of en" in n for n in narrow.notes)


def test_render_is_seeded_and_draws_ink(pool):
    style = pool.styles["es"]["ood"][0]
    a = np.asarray(render("pingüino", style, np.random.default_rng(7)))
    b = np.asarray(render("pingüino", style, np.random.default_rng(7)))
    c = np.asarray(render("pingüino", style, np.random.default_rng(8)))
    assert a.shape[0] == 64 and np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() < 120 and np.median(a) > 180  # dark ink on light paper


def test_tiny_build_is_deterministic_and_valid(tmp_path, cache_root):
    first = build(tmp_path / "a", size="tiny", seed=0, cache_root=cache_root, workers=2)
    again = build(tmp_path / "b", size="tiny", seed=0, cache_root=cache_root, workers=1)
    other = build(tmp_path / "c", size="tiny", seed=1, cache_root=cache_root, workers=2)
    assert first["fingerprint"] == again["fingerprint"] != other["fingerprint"]
    ds = load_dataset(tmp_path / "a")
    assert ds.counts()["test_ood"] == {"en": 72, "zh": 72, "es": 72}
    assert ds.counts()["test_id"] == {"en": 48, "zh": 48, "es": 48}
    assert ds.manifest["builder"]["styles"]["zh"]["ood"]
    item = ds.image_item(ds.select(split="test_ood", lang="zh")[0].key)
    assert item.image.mode == "L" and item.image.height == 64


def test_contact_sheet(tmp_path, toy_dataset):
    from PIL import Image

    from bench.data.show import contact_sheet

    out = contact_sheet(toy_dataset, tmp_path / "sheet.png", per_row=3)
    with Image.open(out) as im:
        assert im.size == (110 + 3 * 300, 9 * 70)
        assert np.asarray(im).min() < 100


def test_tampered_or_repinned_assets_are_refused(tmp_path, monkeypatch):
    source = assets_mod.SOURCES_BY_NAME["caveat"]
    folder = tmp_path / "assets" / "caveat"
    folder.mkdir(parents=True)
    (folder / "Caveat.ttf").write_bytes(b"font bytes")
    record = {"name": "caveat", "package": source.package, "version": source.version, "kind": "font",
              "script": "latin", "archive_sha256": "a" * 64,
              "files": {"Caveat.ttf": assets_mod.file_sha256(folder / "Caveat.ttf")}}
    (folder / "asset.json").write_text(__import__("json").dumps(record))
    assert assets_mod.load_asset(tmp_path, "caveat", {"caveat": "a" * 64}) == record
    assert assets_mod.verify_files(tmp_path, record)
    assert assets_mod.load_asset(tmp_path, "caveat", {"caveat": "b" * 64}) is None  # pinned hash differs
    (folder / "Caveat.ttf").write_bytes(b"other bytes")
    assert not assets_mod.verify_files(tmp_path, record)


def test_missing_registry_client_shrinks_instead_of_crashing(tmp_path, monkeypatch):
    monkeypatch.setattr(assets_mod.shutil, "which", lambda name: None)
    lines = []
    got = assets_mod.fetch_all(tmp_path, ["patrick-hand", "kristi"], report=lines.append)
    assert got == {}
    assert any("npm is not installed" in l for l in lines) and any("apt-get is not available" in l for l in lines)


def test_bench_run_builds_the_default_benchmark_when_absent(tmp_path, monkeypatch, cache_root):
    from typer.testing import CliRunner

    import bench.cli as cli
    import bench.api.commands as cli_support

    monkeypatch.setattr(cli_support, "DEFAULT_SIZE", "tiny")  # the same path as "small", in seconds
    monkeypatch.setenv("HWR_BENCH_DATA", str(tmp_path / "default"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.app, ["run", "--methods", "oracle-text", "--protocols", "ood", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Building the tiny benchmark" in result.output
    assert load_dataset(tmp_path / "default").name == "hwr-bench-synth-tiny"
    assert (tmp_path / "results" / "oracle-text" / "ood.json").is_file()


def test_train_aug_plan_varies_case_of_latin_training_words_only():
    lexicon = list(load_lexicon())
    planned = plan(SIZES["train-aug"], lexicon, _fake_pool(), seed=1)
    assert {p.split for p in planned} == {"train"}
    latin = [p for p in planned if p.lang != "zh"]
    assert all(p.drawn.casefold() == p.text.casefold() for p in latin)
    assert any(p.drawn == p.text.upper() != p.text for p in latin)
    assert any(p.drawn == p.text.title() != p.text for p in latin)
    assert all(p.drawn == p.text for p in planned if p.lang == "zh")
    # The default benchmark draws every word as it is written in the lexicon.
    assert all(p.drawn == p.text for p in plan(SIZES["small"], lexicon, _fake_pool(), seed=1))


def test_train_aug_pool_uses_more_in_domain_writers(cache_root):
    narrow = {"en": ["agua"], "zh": ["水"], "es": ["agua"]}
    wide = build_pool(cache_root, narrow, zh_id_writers=96)
    ids = {s.family for s in wide.styles["zh"]["id"]}
    assert len(wide.styles["zh"]["id"]) == 96
    assert not ids & {s.family for s in wide.styles["zh"]["ood"]}
    assert all(int(f.split("/w")[1]) < 100 for f in ids if f.startswith("hanzi-writer"))


def test_latin_stroke_writers_exist_in_numbers_with_ood_in_a_disjoint_region():
    from bench.data.render import WRITER_REGIONS

    id_writers = [hershey_writer(s) for s in ID_WRITER_SEEDS]
    ood_writers = [hershey_writer(s) for s in OOD_WRITER_SEEDS]
    assert len({w.id for w in id_writers}) >= 100 and len({w.id for w in ood_writers}) >= 100
    assert not {w.family for w in id_writers} & {w.family for w in ood_writers}
    assert len({w.params for w in id_writers}) == len(id_writers)          # every seed its own hand

    def inside(value, ranges):
        return any(lo <= value <= hi for lo, hi in ranges)

    # Chinese and Latin writers alike: OOD hands lie outside the in-domain ranges of slant, pen
    # and joins (not just another seed over the same ranges).
    for writers, side in ((id_writers, "id"), (ood_writers, "ood")):
        for w in writers + [hanzi_writer("unused", int(latin.id[-3:])) for latin in writers]:
            for name in ("slant", "pen", "joins"):
                value = getattr(w.params, name)
                assert inside(value, WRITER_REGIONS[side][name]), (w.id, name, value)
                other = "ood" if side == "id" else "id"
                assert not inside(value, WRITER_REGIONS[other][name]), (w.id, name, value)


def test_latin_writers_draw_accents_and_inverted_marks():
    rng = np.random.default_rng
    for seed in (0, 1, 100):
        writer = hershey_writer(seed)
        assert all(can_draw(writer, ch) for ch in "áéíóúñüÁ¿¡?!")
        assert not can_draw(writer, "水")
        plain = np.asarray(render("n", writer, rng(3)))
        accented = np.asarray(render("ñ", writer, rng(3)))
        assert plain.shape != accented.shape or not np.array_equal(plain, accented)
        # The tilde adds ink above the letter: more dark pixels.
        assert (accented < 128).sum() > (plain < 128).sum()
        inverted = np.asarray(render("¿", writer, rng(3)))
        upright = np.asarray(render("?", writer, rng(3)))
        assert inverted.shape == upright.shape or not np.array_equal(inverted, upright)


def test_font_glyphs_are_jittered_per_sample(pool):
    from dataclasses import replace

    font = next(s for s in pool.styles["en"]["id"] if s.kind == "font")
    assert font.params.glyph > 0
    regular = replace(font, params=replace(font.params, glyph=0.0))
    jittered = np.asarray(render("minimum", font, np.random.default_rng(5)))
    steady = np.asarray(render("minimum", regular, np.random.default_rng(5)))
    assert jittered.shape != steady.shape or not np.array_equal(jittered, steady)
