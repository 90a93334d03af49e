import json

import numpy as np
import pytest

from bench.views.leaderboard import build_leaderboard
from bench.store.records import Status
from bench.store.results import iter_results, read_rankings, read_result, result_path
from bench.evaluation.summary import summarise
from bench.engine.runner import RunConfig, run

import fake_methods

ALL = ["id", "ood", "xling", "t2i", "rd"]


@pytest.fixture
def fakes(register_methods):
    register_methods(**{name: f"fake_methods:{cls}" for name, cls in {
        "crashing": "Crashing", "nans": "NaNs", "wrong-shape": "WrongShape", "missing-weights": "Missing",
        "counting": "Counting", "truth-scorer": "TruthScorer", "infinite-scorer": "InfiniteScorer"}.items()})


def _config(tmp_path, methods, protocols=ALL, **kw):
    kw = {"cache_dir": tmp_path / "cache", "n_boot": 200, **kw}
    return RunConfig(methods=methods, protocols=protocols, results_dir=tmp_path / "results", **kw)


def _metric(tmp_path, method, protocol, name="acc@1", subtask=None):
    data = read_result(result_path(tmp_path / "results", method, protocol)).to_json()
    block = data["metrics"]["overall"] if subtask is None else data["metrics"]["subtasks"][subtask]
    return block[name]["value"]


def test_reference_baselines_on_every_protocol(tmp_path, toy_dataset):
    outcomes = run(toy_dataset, _config(tmp_path, ["random", "oracle-text"]))
    status = {(o.method, o.protocol): o.status for o in outcomes}
    assert all(status[("random", p)] == "ok" for p in ALL)
    assert status[("oracle-text", "rd")] == "not_applicable"
    for p in ("id", "ood"):
        for m in ("acc@1", "acc@3", "acc@5", "mrr", "nes"):
            assert _metric(tmp_path, "oracle-text", p, m) == 1.0
    assert _metric(tmp_path, "oracle-text", "t2i", "map") == 1.0
    # Three OOD renders per word: text->image mAP is a real word-spotting mAP, no longer the MRR.
    assert _metric(tmp_path, "random", "t2i", "map") != _metric(tmp_path, "random", "t2i", "mrr")
    # Random: Acc@1 near 1/|lexicon| = 1/12; its 95% interval must cover chance.
    data = read_result(result_path(tmp_path / "results", "random", "ood")).to_json()
    lo, hi = data["metrics"]["overall"]["acc@1"]["ci95"]
    assert lo <= 1 / 12 <= hi
    rd = data = read_result(result_path(tmp_path / "results", "random", "rd")).to_json()["metrics"]
    # Random embeddings have no class structure: R/D sits on its random reference, per language
    # (3 OOD renders per word) and pooled (9 per concept), with the class sizes stated.
    for block, size in ((rd["image"]["pooled"], "9"), *((rd["image"][lang], "3") for lang in ("en", "zh", "es"))):
        assert block["class_sizes"] == {size: 12}
        assert block["ratio"] == pytest.approx(block["random_rd"], rel=0.25) and block["ratio"] > 0.5
    assert rd["image+text"]["class_sizes"] == {"12": 12}


def test_result_records_provenance_and_sidecar_reproduces_metrics(tmp_path, toy_dataset):
    run(toy_dataset, _config(tmp_path, ["random"], ["xling"]))
    path = result_path(tmp_path / "results", "random", "xling")
    data = read_result(path).to_json()
    assert data["dataset"]["fingerprint"] == toy_dataset.fingerprint
    assert data["protocol"]["version"] and data["run_key"]
    assert data["config"]["text_policy"]["unicode"] == "NFC"
    assert data["provenance"]["package_version"]
    assert set(data["metrics"]["subtasks"]) == {"en→zh", "zh→en", "zh→es", "es→zh", "es→en", "en→es"}
    rankings = read_rankings(path)
    again = summarise(rankings, "mean", n_boot=200, seed=0)
    assert again["overall"] == data["metrics"]["overall"]
    avg = np.mean([s["acc@1"]["value"] for s in data["metrics"]["subtasks"].values()])
    assert data["metrics"]["overall"]["acc@1"]["value"] == pytest.approx(avg, abs=1e-6)


def test_rerun_skips_up_to_date_results_and_cache_avoids_recompute(tmp_path, toy_dataset, fakes):
    fake_methods.Counting.calls.update(images=0, texts=0)
    run(toy_dataset, _config(tmp_path, ["counting"], ["ood", "t2i"]))
    first = dict(fake_methods.Counting.calls)
    assert first["images"] > 0 and first["texts"] > 0
    outcomes = run(toy_dataset, _config(tmp_path, ["counting"], ["ood", "t2i"]))
    assert {o.status for o in outcomes} == {"skipped"}
    # Forced re-run: results recomputed, but every embedding comes from the cache.
    outcomes = run(toy_dataset, _config(tmp_path, ["counting"], ["ood", "t2i", "xling"], overwrite="always"))
    assert {o.status for o in outcomes} == {"ok"}
    assert fake_methods.Counting.calls == first
    data = read_result(result_path(tmp_path / "results", "counting", "ood")).to_json()
    assert data["timings"]["images_computed"] == 0 and data["timings"]["images_cached"] > 0


def test_a_changed_seed_makes_results_stale(tmp_path, toy_dataset):
    run(toy_dataset, _config(tmp_path, ["random"], ["ood"]))
    outcomes = run(toy_dataset, _config(tmp_path, ["random"], ["ood"], seed=5))
    assert [o.status for o in outcomes] == ["ok"]


def test_broken_methods_are_recorded_and_others_complete(tmp_path, toy_dataset, fakes):
    outcomes = run(toy_dataset, _config(tmp_path, ["crashing", "nans", "wrong-shape", "no-such-method",
                                                   "missing-weights", "oracle-text"], ["ood"]))
    status = {o.method: (o.status, o.message) for o in outcomes}
    assert status["crashing"][0] == "failed" and "boom" in status["crashing"][1]
    assert status["nans"][0] == "failed" and "NaN" in status["nans"][1]
    assert status["wrong-shape"][0] == "failed" and "expected a list of" in status["wrong-shape"][1]
    assert status["no-such-method"][0] == "failed" and "unknown method" in status["no-such-method"][1]
    assert status["missing-weights"] == ("unavailable", "weights not found at /nowhere (fix: set HWR_BENCH_MODELS)")
    assert status["oracle-text"][0] == "ok"
    crashed = read_result(result_path(tmp_path / "results", "crashing", "ood")).to_json()
    assert crashed["status"] == "failed" and "RuntimeError" in crashed["error"]["traceback"]
    board = build_leaderboard(tmp_path / "results")
    # Unavailability is this machine's, not a result: reported, never written (no path leaks into results/).
    assert not result_path(tmp_path / "results", "missing-weights", "ood").exists()
    assert "missing-weights" not in board and "/nowhere" not in board
    assert "`crashing` / `ood`: failed" in board


def test_failure_does_not_overwrite_an_ok_result(tmp_path, toy_dataset, fakes, monkeypatch):
    run(toy_dataset, _config(tmp_path, ["counting"], ["ood"]))
    before = result_path(tmp_path / "results", "counting", "ood").read_bytes()
    monkeypatch.setattr(fake_methods.Counting, "embed_images", fake_methods.Crashing.embed_images)
    outcomes = run(toy_dataset, _config(tmp_path, ["counting"], ["ood"], overwrite="always", cache_dir=None))
    assert [o.status for o in outcomes] == ["failed"]
    assert result_path(tmp_path / "results", "counting", "ood").read_bytes() == before


def test_leaderboard_is_deterministic_and_marks_subsets(tmp_path, toy_dataset):
    run(toy_dataset, _config(tmp_path, ["random", "oracle-text"], limit=4))
    a = build_leaderboard(tmp_path / "results")
    b = build_leaderboard(tmp_path / "results")
    assert a == b
    assert "## Cross-lingual retrieval" in a and "| `random` ‡ |" in a
    assert "‡ computed on a subset" in a
    assert all(r.status in (Status.OK, Status.NOT_APPLICABLE) for r in iter_results(tmp_path / "results"))


def test_leaderboard_marks_stale_protocol_versions(tmp_path, toy_dataset):
    run(toy_dataset, _config(tmp_path, ["random", "oracle-text"], ["ood"]))
    path = result_path(tmp_path / "results", "random", "ood")
    data = json.loads(path.read_text())
    data["protocol"]["version"] = "0"
    path.write_text(json.dumps(data))
    board = build_leaderboard(tmp_path / "results")
    assert "| `random` † |" in board and "| `oracle-text` |" in board


def test_older_result_schema_is_refused_not_misread(tmp_path, toy_dataset):
    from bench.store.results import ResultFileError

    run(toy_dataset, _config(tmp_path, ["random"], ["ood"]))
    path = result_path(tmp_path / "results", "random", "ood")
    data = json.loads(path.read_text())
    data["schema_version"] = 0
    path.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match="schema_version"):
        read_result(path)
    # The runner treats it as absent and recomputes.
    assert [o.status for o in run(toy_dataset, _config(tmp_path, ["random"], ["ood"]))] == ["ok"]
    assert read_result(path).to_json()["schema_version"] == 1


def test_scoring_family_ranks_both_directions_and_caches_lexicon_scores(tmp_path, toy_dataset, fakes):
    fake_methods.TruthScorer.calls.update(images=0)
    fake_methods.TruthScorer.lexicons.clear()
    outcomes = run(toy_dataset, _config(tmp_path, ["truth-scorer", "infinite-scorer"], ALL))
    status = {(o.method, o.protocol): o.status for o in outcomes}
    assert status[("truth-scorer", "rd")] == "not_applicable"
    assert all(status[("truth-scorer", p)] == "ok" for p in ("id", "ood", "xling", "t2i"))
    assert _metric(tmp_path, "truth-scorer", "id") == 1.0
    assert _metric(tmp_path, "truth-scorer", "t2i", "map") == 1.0   # text -> image uses the same scores
    assert _metric(tmp_path, "truth-scorer", "xling") < 0.5         # no word matches across languages
    assert status[("infinite-scorer", "id")] == "failed"
    error = read_result(result_path(tmp_path / "results", "infinite-scorer", "id")).to_json()["error"]
    assert "NaN or infinite" in error["message"]
    # The network runs once per image: the first protocol that sees an image scores it against every
    # lexicon the run reads of it (xling then needs no new pass), and a forced re-run is served from the cache.
    scored = fake_methods.TruthScorer.calls["images"]
    n_ood = len({s.content_hash for s in toy_dataset.select(split="test_ood")})
    n_id = len({s.content_hash for s in toy_dataset.select(split="test_id")})
    assert scored == n_id + n_ood
    asked = fake_methods.TruthScorer.lexicons
    assert {langs for split, langs in asked if split == "test_ood"} == {("en", "es", "zh")}
    assert {langs for split, langs in asked if split == "test_id"} == {("en",), ("es",), ("zh",)}  # own only
    run(toy_dataset, _config(tmp_path, ["truth-scorer"], ALL, overwrite="always"))
    assert fake_methods.TruthScorer.calls["images"] == scored
    # A limited t2i reads a subset of the lexicon's words: still scored against the whole lexicon.
    limited = run(toy_dataset, _config(tmp_path / "limited", ["truth-scorer"], ["t2i"], limit=2, cache_dir=None))
    assert [o.status for o in limited] == ["ok"], limited


def test_gallery_axis_grows_the_gallery_and_times_the_search(tmp_path, toy_dataset, fakes):
    gallery = ["gallery-lexicon", "gallery-10k"]
    outcomes = run(toy_dataset, _config(tmp_path, ["random", "oracle-text", "truth-scorer"], gallery))
    assert {o.status for o in outcomes} == {"ok"}, [(o.method, o.protocol, o.message) for o in outcomes]
    for method in ("oracle-text", "truth-scorer"):
        for protocol in gallery:
            assert _metric(tmp_path, method, protocol) == 1.0          # distractors never steal a hit
    for protocol, size in zip(gallery, (12, 10_000)):
        metrics = read_result(result_path(tmp_path / "results", "random", protocol)).to_json()["metrics"]
        assert metrics["gallery_size"] == {"en": size, "zh": size, "es": size}
        latency = metrics["query_latency_ms"]
        assert latency["value"] > 0 and latency["n_timed"] == 30
    # Random at 10,000 words is near 1/10,000, far below its lexicon-only figure.
    assert _metric(tmp_path, "random", "gallery-10k") < _metric(tmp_path, "random", "gallery-lexicon")
    board = build_leaderboard(tmp_path / "results")
    assert "Acc@1 @ 10,000" in board and "ms/query @ 12" in board
    assert board.count("## Gallery size") == 1


def test_per_style_table_and_nes_basis_in_results(tmp_path, toy_dataset):
    run(toy_dataset, _config(tmp_path, ["random", "oracle-text"], ["ood"]))
    data = read_result(result_path(tmp_path / "results", "oracle-text", "ood")).to_json()["metrics"]
    assert data["nes_basis"] == "raw output"
    assert data["interval"].startswith("95% percentile cluster bootstrap")
    styles = {s.style for s in toy_dataset.select(split="test_ood")}
    assert set(data["by_style"]) == styles and all(v["acc@1"] == 1.0 for v in data["by_style"].values())
    random = read_result(result_path(tmp_path / "results", "random", "ood")).to_json()["metrics"]
    assert random["nes_basis"] == "top-1 word"
    board = build_leaderboard(tmp_path / "results")
    assert "## Per-style Acc@1 (`ood`)" in board
    assert all(f"`{s}`" in board for s in styles)


# --- what a run reports, and the run's own bookkeeping (from the mutation run's survivors) ---------

def test_outcomes_reach_the_report_callback_and_name_what_was_reused(tmp_path, toy_dataset):
    from bench.engine.runner import Outcome

    run(toy_dataset, _config(tmp_path, ["random"], ["ood"]))
    reported = []
    outcomes = run(toy_dataset, _config(tmp_path, ["random"], ["ood"]), report=reported.append)
    path = result_path(tmp_path / "results", "random", "ood")
    assert outcomes == [Outcome("random", "ood", "skipped", "up to date", path)]
    assert reported == outcomes


def test_a_limit_run_keeps_the_full_result_and_says_so(tmp_path, toy_dataset):
    run(toy_dataset, _config(tmp_path, ["random"], ["ood"]))
    path = result_path(tmp_path / "results", "random", "ood")
    before = path.read_bytes()
    outcomes = run(toy_dataset, _config(tmp_path, ["random"], ["ood"], limit=3))
    assert [(o.status, o.path) for o in outcomes] == [("skipped", path)]
    assert outcomes[0].message.startswith("kept the full result: a --limit run never replaces it")
    assert path.read_bytes() == before
    # A limit result is not a full one: a later limit run replaces it, a full run too.
    run(toy_dataset, _config(tmp_path / "other", ["random"], ["ood"], limit=3))
    limited = result_path(tmp_path / "other" / "results", "random", "ood")
    assert read_result(limited).config.limit == 3
    outcomes = run(toy_dataset, _config(tmp_path / "other", ["random"], ["ood"], limit=4))
    assert [o.status for o in outcomes] == ["ok"] and read_result(limited).config.limit == 4


def test_results_store_the_tasks_aggregate_and_dropped_queries(tmp_path, toy_dataset):
    from bench.evaluation.protocols import get_protocol

    run(toy_dataset, _config(tmp_path, ["oracle-text"], ["id", "ood", "xling", "t2i"]))
    for protocol in ("id", "ood", "xling", "t2i"):
        task = get_protocol(protocol).task(toy_dataset)
        metrics = read_result(result_path(tmp_path / "results", "oracle-text", protocol)).metrics
        assert metrics["aggregate"] == task.aggregate
        assert metrics["queries_without_relevant_item"] == task.n_dropped
        assert isinstance(metrics["queries_without_relevant_item"], int)


def test_every_image_is_decoded_once_in_batches_before_computing(tmp_path, toy_dataset, monkeypatch):
    import bench.engine.runner as runner
    from bench.core.progress import Tracker
    from bench.evaluation.protocols import get_protocol

    calls, tracked = [], []

    class Recording(Tracker):
        def track(self, items, total, description):
            items = list(items)
            tracked.append((description, total, [len(i) for i in items] if description == "decoding images" else None))
            yield from items

    real = type(toy_dataset).image_items
    monkeypatch.setattr(type(toy_dataset), "image_items", lambda self, keys: calls.append(list(keys)) or real(self, keys))
    monkeypatch.setattr(runner, "DECODE_BATCH", 5)
    run(toy_dataset, _config(tmp_path, ["random"], ["ood", "t2i"]), tracker=Recording(enabled=False))
    task_keys = sorted({k for p in ("ood", "t2i") for k in get_protocol(p).task(toy_dataset).all_image_keys()})
    decode = [(d, t, sizes) for d, t, sizes in tracked if d == "decoding images"]
    full, rest = divmod(len(task_keys), 5)
    assert decode == [("decoding images", len(task_keys), [5] * full + ([rest] if rest else []))]
    first = [k for c in calls[:len(decode[0][2])] for k in c]
    assert first == task_keys                               # each image once, in key order, first


def test_headline_and_one_line_error():
    from bench.engine.runner import _headline, _one_line

    metrics = {"overall": {"acc@1": {"value": 0.5}, "mrr": {"value": 0.25}, "map": {"value": 1 / 3}, "nes": {"value": 1}}}
    assert _headline(metrics) == "acc@1=0.5000 mrr=0.2500 map=0.3333"
    assert _headline({"image": {"pooled": {"ratio": 0.123456}}}) == "R/D=0.1235"
    assert _headline({"image": {"pooled": {}}}) == "" and _headline({}) == ""
    assert _one_line(ValueError("first line\nsecond")) == "ValueError: first line"
    assert _one_line(KeyError()) == "KeyError: "


def test_a_run_reports_each_result_as_written_and_records_what_it_ran_on(tmp_path, toy_dataset, fakes,
                                                                          register_methods, monkeypatch):
    import datetime as dt

    import bench.engine.runner as runner
    from bench.evaluation.protocols import get_protocol
    from bench.store.records import DatasetRecord
    from bench.engine.runner import Outcome, _headline

    register_methods(hanging="fake_methods:Hanging", **{"english-reader": "fake_methods:EnglishTruthReader"})
    checked, batches = [], []
    monkeypatch.setattr(runner, "check_committed_code", lambda where, allow: checked.append((where, allow)))
    real_embed = fake_methods.Counting.embed_images
    monkeypatch.setattr(fake_methods.Counting, "embed_images",
                        lambda self, items: batches.append(len(items)) or real_embed(self, items))
    results = tmp_path / "results"
    outcomes = run(toy_dataset, _config(tmp_path, ["counting", "english-reader", "crashing", "truth-scorer", "hanging"],
                                        ["ood", "xling", "rd"], limit=3, batch_size=2, method_timeout=1,
                                        allow_dirty=True))
    assert checked == [(results, True)]
    assert batches and max(batches) == 2                          # the run's batch size reaches the method
    path = lambda m, p: result_path(results, m, p)
    got = {(o.method, o.protocol): o for o in outcomes}
    for p in ("ood", "xling", "rd"):
        record = read_result(path("counting", p))
        assert got["counting", p] == Outcome("counting", p, "ok", _headline(record.metrics), path("counting", p))
        assert record.protocol.description == get_protocol(p).description
        assert record.dataset == DatasetRecord(toy_dataset.name, toy_dataset.fingerprint, len(toy_dataset),
                                               toy_dataset.manifest.get("builder", {}).get("note"))
        created = dt.datetime.fromisoformat(record.provenance["created_at"])
        assert created.tzinfo == dt.timezone.utc and "git" in record.provenance
        assert 0 < record.timings.total_seconds < 600
    sidecar = read_rankings(path("counting", "ood"))
    assert max(len(st["query_keys"]) for st in sidecar.values()) == 3   # the limit reaches the task
    assert got["english-reader", "xling"] == Outcome("english-reader", "xling", "not_applicable",
                                                     "answers none of its subtasks", path("english-reader", "xling"))
    assert got["truth-scorer", "rd"] == Outcome("truth-scorer", "rd", "not_applicable", "needs embeddings",
                                                path("truth-scorer", "rd"))
    crashed = got["crashing", "ood"]
    assert (crashed.status, crashed.path) == ("failed", path("crashing", "ood")) and "boom" in crashed.message
    error = read_result(path("crashing", "ood")).error
    assert error["type"] == "RuntimeError" and "boom" in error["message"]
    timed_out = got["hanging", "ood"]
    assert timed_out.status == "failed" and "exceeded the per-method timeout of 1 s" in timed_out.message
    # A failed result is kept as it is by a run told never to overwrite.
    before = path("crashing", "ood").read_bytes()
    again = run(toy_dataset, _config(tmp_path, ["crashing"], ["ood"], limit=3, overwrite="never", allow_dirty=True))
    assert [o.status for o in again] == ["skipped"] and path("crashing", "ood").read_bytes() == before


def test_a_method_that_cannot_load_fails_on_every_protocol_and_prepare_runs_once(tmp_path, toy_dataset,
                                                                                 register_methods):
    register_methods(**{"seeded-by-run": "test_verify:SeededByRun", "unloadable": "no_such_module:Nothing"})
    from test_verify import SeededByRun

    SeededByRun.prepared.clear()
    outcomes = run(toy_dataset, _config(tmp_path, ["unloadable", "seeded-by-run"], ["id", "ood"], n_boot=0, cache_dir=None))
    assert [(o.method, o.protocol, o.status) for o in outcomes] == [
        ("unloadable", "id", "failed"), ("unloadable", "ood", "failed"),
        ("seeded-by-run", "id", "ok"), ("seeded-by-run", "ood", "ok")]
    assert outcomes[0].message.startswith("could not load: ")
    assert len(SeededByRun.prepared) == 1                        # once per method, not per protocol


def test_a_busy_results_folder_waits_for_its_lock_or_says_what_to_do(tmp_path, toy_dataset):
    import threading

    from bench.core.errors import HwrBenchError
    from bench.core.io import FolderLock

    results = tmp_path / "results"
    results.mkdir()
    with FolderLock(results):
        with pytest.raises(HwrBenchError) as busy:
            run(toy_dataset, _config(tmp_path, ["random"], ["ood"], lock_wait=0))
    assert str(busy.value).startswith(f"{results}: another bench run is writing results here (")
    assert str(busy.value).endswith("wait for it, pass --lock-wait SECONDS, or use another --results-dir")
    lock = FolderLock(results)
    lock.__enter__()
    threading.Timer(0.5, lambda: lock.__exit__(None, None, None)).start()
    assert [o.status for o in run(toy_dataset, _config(tmp_path, ["random"], ["ood"], lock_wait=30))] == ["ok"]
