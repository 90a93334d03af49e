"""OCR + dictionary (``+dict``): recognise in the source language, pivot through semantic ids."""

import numpy as np
import pytest

from adapters.dictionary import pivot_scores
from bench.store.results import read_rankings, read_result, result_path
from bench.engine.runner import RunConfig, run

import fake_methods


@pytest.fixture
def engines(register_methods):
    register_methods(**{"truth-reader": "fake_methods:TruthReader", "truth-scorer": "fake_methods:TruthScorer"})


def _config(tmp_path, methods, protocols):
    return RunConfig(methods=methods, protocols=protocols, results_dir=tmp_path / "results",
                     cache_dir=tmp_path / "cache", n_boot=100)


def _acc1(tmp_path, method, protocol="xling"):
    return read_result(result_path(tmp_path / "results", method, protocol)).to_json()["metrics"]["overall"]["acc@1"]["value"]


def test_pivot_gives_each_target_word_its_source_synonyms_score():
    # Source lexicon ids 10, 11, 12; the target list is in another order, with a word (id 99)
    # that has no source synonym: it ranks below every word that has one.
    source = np.array([[0.9, 0.1, 0.4], [-3.0, -1.0, -2.0]], dtype=np.float32)
    out = pivot_scores(source, [10, 11, 12], [12, 99, 10, 11])
    np.testing.assert_allclose(out[:, [0, 2, 3]], source[:, [2, 0, 1]])
    assert (out[:, 1] < source.min(axis=1)).all()
    assert np.isfinite(out).all()


def test_a_perfect_reader_with_a_dictionary_is_perfect_across_languages(tmp_path, toy_dataset, engines):
    # The same reader without a dictionary compares a Chinese transcript with English words by
    # edit distance: near chance. Through the lexicon's semantic ids every direction is exact.
    run(toy_dataset, _config(tmp_path, ["truth-reader"], ["xling"]))
    assert _acc1(tmp_path, "truth-reader") < 0.5
    fake_methods.TruthReader.calls.update(images=0)
    outcomes = run(toy_dataset, _config(tmp_path, ["dict:truth-reader", "dict:truth-scorer"], ["id", "xling"]))
    status = {(o.method, o.protocol): o.status for o in outcomes}
    assert fake_methods.TruthReader.calls["images"] == 0    # the engine's cached transcripts were reused
    for name in ("dict:truth-reader", "dict:truth-scorer"):
        assert _acc1(tmp_path, name) == 1.0
        # Within a language a dictionary changes nothing: no row that repeats the engine's.
        assert status[(name, "id")] == "not_applicable"
        record = read_result(result_path(tmp_path / "results", name, "id"))
        assert "none of id's subtasks" in record.error["reason"]
        rankings = read_rankings(result_path(tmp_path / "results", name, "xling"))
        assert len(rankings) == 6 and all("→" in st for st in rankings)


def test_dictionary_refuses_an_embedding_engine():
    from bench.api.registry import METHODS

    with pytest.raises(ValueError, match="not a transcription or scoring method"):
        METHODS.create("dict:random")


def test_a_method_answering_only_english_gets_english_rows_marked_as_such(tmp_path, toy_dataset, register_methods):
    from bench.views.leaderboard import build_leaderboard

    register_methods(**{"english-reader": "fake_methods:EnglishTruthReader"})
    outcomes = run(toy_dataset, _config(tmp_path, ["english-reader", "dict:english-reader"], ["ood", "xling"]))
    status = {(o.method, o.protocol): o.status for o in outcomes}
    assert status[("english-reader", "xling")] == "not_applicable"
    ood = read_result(result_path(tmp_path / "results", "english-reader", "ood"))
    assert list(ood.metrics["subtasks"]) == ["en"] and ood.metrics["answered_subtasks"] == ["en"]
    # Its dictionary pivot answers the directions out of English, and only those.
    xling = read_result(result_path(tmp_path / "results", "dict:english-reader", "xling"))
    assert xling.metrics["answered_subtasks"] == ["en→zh", "en→es"] and xling.overall("acc@1") == 1.0
    board = build_leaderboard(tmp_path / "results")
    assert "`english-reader` (en only)" in board and "`dict:english-reader` (en→zh, en→es only)" in board


def test_easyhtr_reports_the_no_deps_install_when_absent(monkeypatch):
    import adapters.easyhtr as easyhtr
    from bench.api.registry import METHODS

    from dataclasses import replace

    monkeypatch.setattr(easyhtr, "READER", replace(easyhtr.READER, package="hwr_no_such_wheel"))
    for name in ("easyhtr", "easyhtr-ctc", "easyhtr+dict"):
        available = METHODS.create(name).availability()
        assert not available.ok and available.fix == "pip install --no-deps easyhtr==0.1.1"


def test_easyhtr_input_is_the_packages_layout():
    from PIL import Image

    from adapters.easyhtr import preprocess

    x = preprocess(Image.new("L", (101, 60), 0))   # black word image, 60 px high
    assert x.shape[:3] == (1, 1, 48) and (x.shape[3] - 32) % 4 == 0 and x.shape[3] >= 32 + 81
    assert x.min() == -0.5 and x.max() == 0.5       # black ink on the white padding
    assert (x[0, 0, :, :16] == 0.5).all()            # centred: white on both sides


def test_every_built_in_reader_has_its_dictionary_row():
    from bench.api.registry import METHODS
    from bench.api.retriever import Family, Group

    regs = {n: r for n, r in METHODS.registrations().items() if r.source == "builtin"}
    readers = [n for n in regs if not n.endswith((":", "+dict"))
               and METHODS.method_class(n).family in (Family.TRANSCRIPTION, Family.SCORING)
               and METHODS.create(n).info.group is not Group.REFERENCE]
    assert {"rapidocr", "rapidocr-ctc", "ppocrv6-ctc", "tesseract", "easyhtr"} <= set(readers)
    missing = [n for n in readers if f"{n}+dict" not in regs]
    assert not missing, f"no +dict row for {missing}"
    # ... and the main job runs the dictionary row of every reader it runs.
    default = set(METHODS.tagged("default"))
    assert all(f"{n}+dict" in default for n in readers if n in default)


def test_an_images_pivot_scores_do_not_depend_on_the_other_images_in_its_batch():
    # Batches change with --batch-size and sharding: each image's floor (for target words with no
    # source synonym) comes from its own scores only.
    source = np.array([[0.9, 0.1, 0.4], [-300.0, -100.0, -200.0], [5.0, 7.0, 6.0]], dtype=np.float32)
    together = pivot_scores(source, [10, 11, 12], [12, 99, 10, 98])
    for i in range(len(source)):
        np.testing.assert_array_equal(together[i], pivot_scores(source[i:i + 1], [10, 11, 12], [12, 99, 10, 98])[0])
    # One below its own lowest score (5): the value a rankings file stores when such a word makes the
    # top k (`bench run --verify` compares them), so changing it changes stored results (and needs a
    # PIVOT_VERSION bump).
    np.testing.assert_array_equal(together[2], [6.0, 4.0, 5.0, 4.0])


def test_pivot_into_an_empty_word_list_is_an_empty_score_matrix():
    out = pivot_scores(np.zeros((2, 3), dtype=np.float32), [10, 11, 12], [])
    assert out.shape == (2, 0)


def test_the_engines_options_reach_the_engine():
    from bench.api.registry import METHODS

    method = METHODS.create("rapidocr+dict", {"rec_batch": "8"})
    assert method.ocr.options.rec_batch == 8 and method.ocr._load().batch == 8
    # A speed knob only (a pass's outputs do not depend on its batch), so not in the cache key.
    assert "rec_batch" not in method.info.config["engine_config"]


def _pivot(name, dataset, cache_dir):
    from bench.api.registry import METHODS
    from bench.api.retriever import RunContext

    method = METHODS.create(name)
    method.prepare(RunContext(dataset=dataset, seed=0, cache_dir=cache_dir))
    return method


def _pivoted_correctly(scores, items, dataset, target):
    ids = np.array([e.semantic_id for e in dataset.lexicon_for(target)])
    return [int(ids[np.argmax(row)]) for row in scores] == [dataset.sample(it.key).semantic_id for it in items]


def test_scoring_before_prepare_names_the_method_and_the_missing_step(engines):
    from bench.api.registry import METHODS

    with pytest.raises(RuntimeError, match=r"^dict:truth-reader: prepare\(\) was not called; the dictionary is "):
        METHODS.create("dict:truth-reader").score_texts([], "en", {"zh": []})


def test_a_reader_pivot_reads_what_its_engine_has_not_and_caches_it_for_the_engine(tmp_path, toy_dataset, engines):
    from bench.api.cached import transcript_cache

    items = toy_dataset.image_items([s.key for s in toy_dataset.select(lang="en")][:5])
    assert len(items) == 5
    fake_methods.TruthReader.calls.update(images=0)
    method = _pivot("dict:truth-reader", toy_dataset, tmp_path)
    zh = [e.text for e in toy_dataset.lexicon_for("zh")]
    out = method.score_texts(items, "en", {"zh": zh})
    assert _pivoted_correctly(out["zh"], items, toy_dataset, "zh")
    assert fake_methods.TruthReader.calls["images"] == len(items)      # the engine read them, once
    cached = transcript_cache(tmp_path, method.ocr.info).lookup([it.content_hash for it in items])
    assert cached == [toy_dataset.sample(it.key).text for it in items]  # ... into the engine's own cache
    with pytest.raises(ValueError, match="^dict:truth-reader pivots into the zh lexicon only, not another word list$"):
        method.score_texts(items, "en", {"zh": zh[::-1]})
    assert fake_methods.TruthReader.calls["images"] == len(items)


def test_a_scorer_pivot_reuses_the_scores_its_engine_cached(tmp_path, toy_dataset, engines):
    run(toy_dataset, _config(tmp_path, ["truth-scorer"], ["id"]))
    fake_methods.TruthScorer.calls.update(images=0)
    items = toy_dataset.image_items([s.key for s in toy_dataset.select(split="test_id", lang="es")][:5])  # id's queries
    assert len(items) == 5
    method = _pivot("dict:truth-scorer", toy_dataset, tmp_path / "cache")
    out = method.score_texts(items, "es", {"en": [e.text for e in toy_dataset.lexicon_for("en")]})
    assert _pivoted_correctly(out["en"], items, toy_dataset, "en")
    assert fake_methods.TruthScorer.calls["images"] == 0
