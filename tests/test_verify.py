"""``bench run --verify N`` in-process: the verdict line a user reads per method, which stored
results are checked (metrics from their sidecar; a seeded sample of queries recomputed from
nothing) and which are left out, the score tolerances, and one method's crash as its verdict."""

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.core.progress import Tracker
from bench.store.results import rankings_path, read_result, result_path
from bench.api.retriever import EmbeddingRetriever, MethodInfo
from bench.engine.runner import RunConfig, run
from bench.engine.verify import (SCORE_RTOL, SCORE_TOLERANCE, Verdict, _compare, _first_difference,
                          check_stored_metrics, metric_differences, sample_queries, verify, verify_method)

AGREE_RANDOM = ("agree         random: 36/36 sampled queries recomputed here match the stored per-query "
                "results (id, ood, xling); the metrics of 5 stored result(s) match their rankings")


# --- methods registered by the tests below ("test_verify:Class") ---------------------------------

class SeededByRun(EmbeddingRetriever):
    """Seeds its vectors from the run's seed in ``prepare``; logs what each ``prepare`` was given."""

    prepared: list = []
    info = property(lambda self: MethodInfo(name="seeded-by-run", group="reference", version="1"))

    def prepare(self, context):
        self.seed = context.seed
        root = context.cache_dir
        SeededByRun.prepared.append({"seed": context.seed, "cache_dir": root, "dataset": context.dataset.fingerprint,
                                     "cached": sorted(p.name for p in root.iterdir()) if root else None})

    def embed_images(self, items):
        return np.stack([np.random.default_rng([self.seed, int(it.content_hash[:8], 16)]).normal(size=8)
                         for it in items])

    def embed_texts(self, texts, lang):
        return np.stack([np.random.default_rng([self.seed, sum(map(ord, t))]).normal(size=8) for t in texts])


class BrokenModel(EmbeddingRetriever):
    info = property(lambda self: MethodInfo(name="broken-model", group="reference", version="1"))

    def availability(self):
        raise OSError("cannot open the model file\nTraceback detail on a second line")


class SilentCrash(EmbeddingRetriever):
    info = property(lambda self: MethodInfo(name="silent-crash", group="reference", version="1"))

    def availability(self):
        raise RuntimeError()


# --- stored results ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stored(tmp_path_factory, toy_dataset) -> Path:
    """``random``'s results of every kind of protocol: image-query (id, ood, xling), text-query
    (t2i), topology (rd, no sidecar) and a gallery axis (gallery-lexicon). Tests copy it to edit."""
    results = tmp_path_factory.mktemp("verify") / "results"
    outcomes = run(toy_dataset, RunConfig(methods=["random"],
                                          protocols=["id", "ood", "xling", "t2i", "rd", "gallery-lexicon"],
                                          results_dir=results, cache_dir=None, n_boot=0))
    assert [o.status for o in outcomes] == ["ok"] * 6
    return results


@pytest.fixture
def results(stored, tmp_path) -> Path:
    copy = tmp_path / "results"
    shutil.copytree(stored, copy)
    return copy


def _edit_result(results, method, protocol, change):
    path = result_path(results, method, protocol)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _sidecar(results, method, protocol) -> dict:
    return json.loads(gzip.decompress(rankings_path(result_path(results, method, protocol)).read_bytes()))


def _edit_sidecar(results, method, protocol, change):
    payload = _sidecar(results, method, protocol)
    change(payload)
    rankings_path(result_path(results, method, protocol)).write_bytes(gzip.compress(json.dumps(payload).encode()))


# --- the verdict line ----------------------------------------------------------------------------

def test_verdict_lines():
    assert Verdict("m", checked=6, protocols=["id", "ood"], results_checked=2).line() == (
        "agree         m: 6/6 sampled queries recomputed here match the stored per-query results (id, ood); "
        "the metrics of 2 stored result(s) match their rankings")
    assert Verdict("m", checked=3, protocols=["ood"]).line() == (
        "agree         m: 3/3 sampled queries recomputed here match the stored per-query results (ood)")
    assert Verdict("m", skipped="why").line() == "not verified  m: why"
    assert Verdict("m", skipped="why", results_checked=3).line() == (
        "not verified  m: why; the metrics of 3 stored result(s) match their rankings")
    assert Verdict("m", checked=6, results_checked=1, disagreements=["first one", "second"]).line() == (
        "DISAGREE      m: 2 difference(s) among 1 stored result(s) and 6 sampled queries; first: first one")
    assert Verdict("m", error="OSError: x", checked=6).line() == "FAILED        m: verification crashed: OSError: x"
    assert Verdict("m", checked=1).agrees and not Verdict("m").agrees and not Verdict("m", checked=1).failed
    assert Verdict("m", error="x").failed and Verdict("m", checked=1, disagreements=["d"]).failed


def test_verify_agrees_on_image_query_protocols_and_checks_every_sidecar(stored, toy_dataset):
    lines = []
    verdicts = verify(toy_dataset, ["random"], {}, stored, n=3, report=lines.append)
    # Text-query (t2i), topology (rd) and gallery-axis protocols are not recomputed; the metrics of
    # every result with a sidecar (all but rd's) are.
    assert lines == [AGREE_RANDOM] == [v.line() for v in verdicts]
    assert verdicts[0].protocols == ["id", "ood", "xling"] and verdicts[0].results_checked == 5
    assert verdicts[0].checked == 3 * (3 + 3 + 6) and not verdicts[0].skipped


def test_a_method_with_no_stored_results_is_not_verified(stored, toy_dataset):
    verdict = verify(toy_dataset, ["oracle-text"], {}, stored, n=3)[0]
    assert verdict.line() == ("not verified  oracle-text: no stored per-query results of this configuration "
                              "to compare with")
    assert not verdict.agrees and not verdict.failed


def test_an_unavailable_method_says_why(stored, toy_dataset, register_methods):
    register_methods(**{"missing-weights": "fake_methods:Missing"})
    verdict = verify(toy_dataset, ["missing-weights"], {}, stored, n=3)[0]
    assert verdict.line() == "not verified  missing-weights: unavailable here (weights not found at /nowhere)"


def test_only_the_stored_protocols_are_counted(tmp_path, toy_dataset):
    # id and xling are missing, rd has no sidecar and comes before gallery-lexicon.
    results = tmp_path / "results"
    run(toy_dataset, RunConfig(methods=["random"], protocols=["ood", "rd", "gallery-lexicon"], results_dir=results,
                               cache_dir=None, n_boot=0))
    verdict = Verdict("random")
    check_stored_metrics("random", results, verdict)
    assert verdict.results_checked == 2 and verdict.disagreements == []
    assert verify(toy_dataset, ["random"], {}, results, n=2)[0].line() == (
        "agree         random: 6/6 sampled queries recomputed here match the stored per-query results (ood); "
        "the metrics of 2 stored result(s) match their rankings")


# --- stored metrics against their sidecar -------------------------------------------------------

def test_an_edited_metric_is_reported_with_its_path(results, toy_dataset):
    true_mrr = json.loads(result_path(results, "random", "id").read_text())["metrics"]["subtasks"]["en"]["mrr"]["value"]

    def edit(data):
        data["metrics"]["subtasks"]["en"]["mrr"]["value"] = 0.5
    _edit_result(results, "random", "id", edit)      # the first protocol: later ones must not hide it
    verdict = verify(toy_dataset, ["random"], {}, results, n=3)[0]
    first = f"id metrics: subtasks.en.mrr.value is 0.5 in the result file but {true_mrr!r} from its rankings"
    assert verdict.disagreements == [first]
    assert verdict.line() == ("DISAGREE      random: 1 difference(s) among 5 stored result(s) and 36 sampled "
                              f"queries; first: {first}")


def test_a_result_without_its_aggregate_is_recomputed_pooled(results, toy_dataset):
    path = result_path(results, "random", "ood")
    _edit_result(results, "random", "ood", lambda data: data["metrics"].pop("aggregate"))
    assert metric_differences(path, read_result(path)) == [
        "ood metrics: aggregate is None in the result file but 'pooled' from its rankings"]


def test_a_sidecar_without_its_subtasks_is_caught_and_the_other_protocols_still_checked(results, toy_dataset):
    _edit_sidecar(results, "random", "id", lambda payload: payload.clear())
    verdict = verify(toy_dataset, ["random"], {}, results, n=3)[0]
    assert verdict.protocols == ["ood", "xling"] and verdict.checked == 3 * (3 + 6)
    assert verdict.disagreements[0].startswith("id metrics: overall.acc@1 is {'value': ")
    assert verdict.disagreements[0].endswith("in the result file but None from its rankings")


def test_first_difference_names_the_first_differing_path():
    assert _first_difference("overall", {"mrr": {"value": 0.2, "ci95": None}, "acc@1": {"value": 0.1}},
                             {"mrr": {"value": 0.3, "ci95": None}, "acc@1": {"value": 0.2}}) == \
        "overall.acc@1.value is 0.1 in the result file but 0.2 from its rankings"     # sorted: acc@1 first
    assert _first_difference("overall", {"acc@1": 1, "mrr": 2}, {"acc@1": 1, "mrr": 3}) == \
        "overall.mrr is 2 in the result file but 3 from its rankings"                 # equal keys are passed
    # A key on one side only.
    assert _first_difference("subtasks", {"en": 1}, {"en": 1, "zh": {"n": 2}}) == \
        "subtasks.zh is None in the result file but {'n': 2} from its rankings"
    assert _first_difference("subtasks", {"en": 1, "zh": 5}, {"en": 1}) == \
        "subtasks.zh is 5 in the result file but None from its rankings"
    # A field present on one side only, and values of different types.
    assert _first_difference("by_style", {"toy-style-5": {"acc@1": 0.5}}, None) == \
        "by_style is {'toy-style-5': {'acc@1': 0.5}} in the result file but None from its rankings"
    assert _first_difference("nes_basis", None, "top-1 word") == \
        "nes_basis is None in the result file but 'top-1 word' from its rankings"


def test_metrics_with_a_bootstrap_are_recomputed_with_the_runs_seed_and_limit(tmp_path, toy_dataset):
    results = tmp_path / "results"
    run(toy_dataset, RunConfig(methods=["random"], protocols=["ood"], results_dir=results, cache_dir=None,
                               n_boot=20, limit=2, seed=3))
    path = result_path(results, "random", "ood")
    assert metric_differences(path, read_result(path)) == []
    # The limited run's queries (2 per subtask, chosen by its seed) are the ones recomputed.
    assert verify(toy_dataset, ["random"], {}, results, n=100, seed=3)[0].line() == (
        "agree         random: 6/6 sampled queries recomputed here match the stored per-query results (ood); "
        "the metrics of 1 stored result(s) match their rankings")


# --- which stored results are compared ------------------------------------------------------------

def _other_fingerprint(data):
    data["dataset"]["fingerprint"] = "0" * 64


def _other_configuration(data):
    data["method"]["cache_key"] = "another-configuration"


def _no_sidecar_named(data):
    data["rankings_file"] = None


@pytest.mark.parametrize("change", [_other_fingerprint, _other_configuration, _no_sidecar_named])
def test_results_that_are_not_this_datasets_or_configurations_are_left_out(results, toy_dataset, change):
    _edit_result(results, "random", "id", change)   # the first protocol: the later ones are still compared
    verdict = verify(toy_dataset, ["random"], {}, results, n=3)[0]
    assert verdict.agrees and verdict.protocols == ["ood", "xling"] and verdict.checked == 3 * (3 + 6)


def test_method_options_select_the_configuration_compared(tmp_path, toy_dataset):
    results = tmp_path / "results"
    run(toy_dataset, RunConfig(methods=["random"], protocols=["ood"], results_dir=results, cache_dir=None,
                               n_boot=0, method_options={"random": {"dim": 16}}))
    assert verify(toy_dataset, ["random"], {"random": {"dim": "16"}}, results, n=2)[0].agrees
    direct = verify_method(toy_dataset, "random", {"dim": 16}, results, 2, cache_dir=tmp_path / "cache")
    assert direct.agrees and direct.checked == 6
    # The default configuration (dim 64) has nothing stored to compare with.
    assert verify(toy_dataset, ["random"], {}, results, n=2)[0].skipped == \
        "no stored per-query results of this configuration to compare with"


# --- the seeded sample ----------------------------------------------------------------------------

def test_sample_queries_is_seeded_sorted_and_of_size_n():
    keys = [f"q{i:03d}" for i in range(100)]
    sample = sample_queries(list(reversed(keys)), 5, 0, "ood/en")
    assert len(sample) == 5 and sample == sorted(sample) and set(sample) <= set(keys)
    assert all(sample_queries(keys, 5, 0, "ood/en") == sample for _ in range(3))   # the same every time
    assert sample_queries(keys, 5, 1, "ood/en") != sample                            # another seed
    assert sample_queries(keys, 5, 0, "ood/zh") != sample                            # another subtask
    assert sample_queries(["b", "c", "a"], 3, 0, "x") == ["a", "b", "c"]              # n >= all: all of them
    assert sample_queries(["b", "c", "a"], 10, 0, "x") == ["a", "b", "c"]


def test_the_sample_depends_on_the_seed_given_default_zero(results, toy_dataset, tmp_path):
    en_keys = _sidecar(results, "random", "ood")["en"]["query_keys"]
    seed0 = set(sample_queries(en_keys, 3, 0, "ood/en"))
    seed1 = set(sample_queries(en_keys, 3, 1, "ood/en"))
    assert seed1 - seed0

    def tamper_unsampled(payload):    # swap the top two keys of every query seed 0 does not sample
        st = payload["en"]
        for i, key in enumerate(st["query_keys"]):
            if key not in seed0:
                st["top_keys"][i][:2] = st["top_keys"][i][1::-1]
    _edit_sidecar(results, "random", "ood", tamper_unsampled)
    assert verify(toy_dataset, ["random"], {}, results, n=3)[0].line() == AGREE_RANDOM
    assert verify_method(toy_dataset, "random", None, results, 3, cache_dir=tmp_path / "cache").agrees
    verdict = verify(toy_dataset, ["random"], {}, results, n=3, seed=1)[0]
    assert len(verdict.disagreements) == len(seed1 - seed0)
    assert all(d.startswith("ood en ") and ": top keys " in d for d in verdict.disagreements)


# --- per-query comparison and its tolerances ------------------------------------------------------

def _rankings(keys, scores=None, ranks=None, top=None):
    n = len(keys)
    return {"query_keys": list(keys),
            "top_keys": top or [["g1", "g2", "g3", "g4", "g5"] for _ in range(n)],
            "relevant_ranks": ranks or [[1] for _ in range(n)],
            "top_scores": scores or [[0.5, 0.4, 0.3, 0.2, 0.1] for _ in range(n)]}


def test_compare_matches_queries_by_key_and_reports_each_kind_of_difference():
    stored = _rankings(["q2", "q1"], scores=[[0.9, 0.8, 0.7, 0.6, 0.5], [0.5, 0.4, 0.3, 0.2, 0.1]])
    fresh = _rankings(["q1", "q2"], scores=[[0.5, 0.4, 0.3, 0.2, 0.1], [0.9, 0.8, 0.7, 0.6, 0.5]])
    assert _compare("ood en", fresh, stored) == []                        # stored order does not matter
    assert _compare("ood en", _rankings(["q3"]), stored) == ["ood en q3: not in the stored rankings"]
    moved = _rankings(["q1"], top=[["g1", "g3", "g2", "g4", "g5"]])
    assert _compare("ood en", moved, stored) == [
        "ood en q1: top keys ['g1', 'g3', 'g2'] vs stored ['g1', 'g2', 'g3']"]
    assert _compare("id zh", _rankings(["q1"], ranks=[[2]]), stored) == ["id zh q1: relevant rank [2] vs stored [1]"]
    changed = _rankings(["q1"], scores=[[0.5, 0.4, 0.31, 0.2, 0.1]])
    assert _compare("ood en", changed, stored) == ["ood en q1: scores [0.5, 0.4, 0.31] vs stored [0.5, 0.4, 0.3]"]
    # Keys first, then ranks, then scores: one line per query.
    everything = _rankings(["q1"], top=[["g2", "g1", "g3", "g4", "g5"]], ranks=[[2]], scores=[[9.0] * 5])
    assert len(_compare("x", everything, stored)) == 1 and "top keys" in _compare("x", everything, stored)[0]


@pytest.mark.parametrize("score", [-5.9, 0.1, 40.0])
def test_score_tolerance_is_absolute_plus_relative(score):
    allowed = SCORE_TOLERANCE + SCORE_RTOL * abs(score)
    assert (SCORE_TOLERANCE, SCORE_RTOL) == (1e-4, 1e-4)

    def differs(by):
        stored = _rankings(["q"], scores=[[score] * 5])
        fresh = _rankings(["q"], scores=[[score] * 4 + [score + by]])
        return _compare("ood en", fresh, stored)
    assert differs(0.95 * allowed) == [] and differs(-0.95 * allowed) == []
    assert differs(1.05 * allowed) and differs(-1.05 * allowed)


def test_a_log_likelihood_moved_by_another_cpu_agrees():
    # PP-OCRv6 between AVX2 and AVX-512: ~2e-4 on a score of -5.9 (within 1e-4 + 1e-4 * 5.9).
    stored = _rankings(["q"], scores=[[-5.9, -6.1, -7.0, -8.0, -9.0]])
    assert _compare("ood en", _rankings(["q"], scores=[[-5.9002, -6.1, -7.0, -8.0, -9.0]]), stored) == []
    assert _compare("ood en", _rankings(["q"], scores=[[-5.9008, -6.1, -7.0, -8.0, -9.0]]), stored)


# --- several methods, one fresh cache, crashes --------------------------------------------------

def test_methods_share_one_fresh_cache_that_is_removed_and_prepare_once(tmp_path, toy_dataset, register_methods):
    register_methods(**{"seeded-by-run": "test_verify:SeededByRun"})
    results = tmp_path / "results"
    run(toy_dataset, RunConfig(methods=["random", "seeded-by-run"], protocols=["id", "ood", "xling"],
                               results_dir=results, cache_dir=tmp_path / "run-cache", n_boot=0, seed=2))
    SeededByRun.prepared.clear()
    lines = []
    verdicts = verify(toy_dataset, ["random", "seeded-by-run"], {}, results, n=2, seed=2, report=lines.append)
    assert [v.agrees for v in verdicts] == [True, True], lines
    assert lines[1] == ("agree         seeded-by-run: 24/24 sampled queries recomputed here match the stored "
                        "per-query results (id, ood, xling); the metrics of 3 stored result(s) match their rankings")
    [prepared] = SeededByRun.prepared            # once, for all three protocols
    assert prepared["seed"] == 2 and prepared["dataset"] == toy_dataset.fingerprint
    cache = prepared["cache_dir"]
    assert isinstance(cache, Path) and cache.name.startswith("hwr-verify-")
    assert cache != tmp_path / "run-cache"
    assert prepared["cached"], "random's fresh outputs are in the shared cache when the next method starts"
    assert not cache.exists()                    # removed afterwards


def test_the_cache_given_to_verify_method_holds_the_recomputed_outputs(stored, tmp_path, toy_dataset):
    cache = tmp_path / "cache"
    assert verify_method(toy_dataset, "random", None, stored, 2, cache_dir=cache).agrees
    assert any(p.is_file() for p in cache.rglob("*"))


def test_a_crash_is_that_methods_verdict_and_the_others_still_run(stored, toy_dataset, register_methods):
    register_methods(**{"broken-model": "test_verify:BrokenModel", "silent-crash": "test_verify:SilentCrash"})
    lines = []
    verdicts = verify(toy_dataset, ["broken-model", "random", "silent-crash"], {}, stored, n=3,
                      report=lines.append)
    assert [v.method for v in verdicts] == ["broken-model", "random", "silent-crash"]
    assert lines == ["FAILED        broken-model: verification crashed: OSError: cannot open the model file",
                     AGREE_RANDOM,
                     "FAILED        silent-crash: verification crashed: RuntimeError: "]
    assert verdicts[0].failed and not verdicts[0].agrees and verdicts[2].failed


def test_progress_goes_to_the_tracker_given(stored, toy_dataset):
    lines, now = [], [0.0]

    def clock():
        now[0] += 5.0
        return now[0]
    tracker = Tracker(mode="lines", write=lines.append, clock=clock)
    assert verify(toy_dataset, ["random"], {}, stored, n=3, tracker=tracker)[0].agrees
    assert lines and all(line.startswith("random: ") for line in lines), lines


def test_a_cpu_dependent_method_is_compared_only_on_the_cpu_it_ran_on(tmp_path, toy_dataset, register_methods):
    from bench.core.provenance import cpu_model

    register_methods(**{"cpu-dependent": "fake_methods:CpuDependentRandom"})
    results = tmp_path / "results"
    run(toy_dataset, RunConfig(methods=["cpu-dependent", "random"], protocols=["ood"], results_dir=results,
                               cache_dir=None, n_boot=0))
    here = verify_method(toy_dataset, "cpu-dependent", None, results, 2, cache_dir=None)
    assert here.agrees and here.checked > 0 and not here.skipped
    for name in ("cpu-dependent", "random"):
        _edit_result(results, name, "ood", lambda d: d["environment"].update(cpu="Some Other CPU"))
    elsewhere = verify_method(toy_dataset, "cpu-dependent", None, results, 2, cache_dir=None)
    assert elsewhere.checked == 0 and elsewhere.skipped == (
        "its outputs depend on the CPU's instruction set and the stored results were made on 'Some Other CPU', "
        f"not this {cpu_model()!r}; re-run it here to compare (`bench run --methods cpu-dependent --results-dir DIR`)")
    # a method that does not depend on the CPU is compared wherever its results were made
    assert verify_method(toy_dataset, "random", None, results, 2, cache_dir=None).checked > 0


@pytest.mark.parametrize("method, protocol", [("ppocrv6", "ood"), ("ours", "xling"), ("ours", "t2i"),
                                              ("random", "id"), ("ppocrv6-ctc", "gallery-10k")])
def test_committed_metrics_are_their_sidecars_summarised(method, protocol):
    # The committed results are fixtures of the whole summary: bootstrap intervals (n_boot and seed
    # from the record), pooled and mean aggregates, rounding, NES basis, per-style Acc@1.
    root = Path(__file__).resolve().parent.parent / "results"
    path = result_path(root, method, protocol)
    record = read_result(path)
    assert record.config.n_bootstrap > 1 and record.metrics["overall"]
    assert metric_differences(path, record) == []
    assert record.metrics.get("by_style") or protocol != "ood"
