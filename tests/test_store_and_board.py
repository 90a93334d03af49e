"""The result store, the leaderboard's cells and the runner's small helpers, in process (what the
subprocess CLI tests also cover, stated here where mutation testing can see it)."""

import json

import numpy as np
import pytest

from bench.api.groups import GROUP_INFO, Group, group_info
from bench.views import leaderboard as board
from bench.core.errors import HwrBenchError
from bench.store.records import Timings, describe_error
from bench.store.results import ResultFileError, pair_is_whole, read_rankings, read_result, result_path
from bench.engine.runner import RunConfig, _one_line, query_latency, run


@pytest.fixture
def stored(tmp_path, toy_dataset):
    run(toy_dataset, RunConfig(methods=["random"], protocols=["ood"], results_dir=tmp_path / "results",
                               cache_dir=None, n_boot=20))
    return result_path(tmp_path / "results", "random", "ood")


# -- write_leaderboard --------------------------------------------------------------------------
def test_write_leaderboard_refuses_missing_and_empty_folders_and_writes_the_build(tmp_path, stored):
    out = tmp_path / "board.md"
    with pytest.raises(HwrBenchError, match=r"nope: no such results folder \(nothing written to .*board\.md\)$"):
        board.write_leaderboard(tmp_path / "nope", out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(HwrBenchError, match=r"empty: holds no result files \(<method>/<protocol>\.json\); "
                                            r"nothing written to .*board\.md$"):
        board.write_leaderboard(tmp_path / "empty", out)
    assert not out.exists()
    text = board.write_leaderboard(stored.parent.parent, out)
    assert out.read_text() == text == board.build_leaderboard(stored.parent.parent)
    assert "| `random` |" in text


# -- cells and their Markdown -------------------------------------------------------------------
def test_a_nested_tier_gets_its_own_section_one_level_down(tmp_path, stored, toy_dataset):
    results = stored.parent.parent
    alone = board.build_leaderboard(results)
    assert "The hand tier" not in alone
    run(toy_dataset, RunConfig(methods=["oracle-text"], protocols=["ood"], results_dir=results / "hand",
                               cache_dir=None, n_boot=20))
    text = board.build_leaderboard(results)
    assert text.startswith(alone.rstrip("\n"))          # the default tier's board is unchanged, first
    tier = text[len(alone.rstrip("\n")):]
    assert "\n## The hand tier\n" in tier and "`oracle-text`" in tier and "`oracle-text`" not in alone
    assert "\n### " in tier and "\n## Within-language" not in tier   # its sections are one level down
    # The nested folder is never read as a method of the default tier.
    assert {r.method_name for r in board.iter_results(results)} == {"random"}


def test_cells_carry_their_sort_value_and_digits():
    cell = board._num_cell(0.123456, best=0.123456, interval="0.1–0.2")
    assert (cell.text, cell.sort, cell.best, cell.interval) == ("0.1235", 0.123456, True, "0.1–0.2")
    assert board._num_cell(None, best=None).text == "—" and not board._num_cell(None, best=None).best
    column = board.Column("x", ("overall", "x", "value"), digits=2, ci_path=("overall", "x", "ci95"))
    record = type("R", (), {"metrics": {"overall": {"x": {"value": 0.5, "ci95": [0.25, 0.75]}}}})()
    assert board._metric_cell(column, record, 0.5, None) == board.Cell("0.50", sort=0.5, interval="0.250–0.750")
    assert board._metric_cell(column, record, None, None).interval == ""   # no value, no interval


def test_markdown_text_from_data_keeps_one_line_and_its_cell():
    assert board.one_line("a\n  b\r\nc") == "a b c"
    assert board.escape_pipes("x|y") == "x\\|y"
    assert group_info("ours").title == GROUP_INFO[Group.OURS].title == "Ours"
    assert group_info("a plugin's group").title == "a plugin's group"


def test_table_reads_sizes_from_the_efficiency_record_before_the_result(stored):
    record = read_result(stored)
    efficiency = {"random": {"params": 2_500_000, "model_bytes": 7_000_000}}
    spec = board.PROTOCOLS["ood"]
    table = board._table([record], spec.columns, record.dataset.fingerprint, efficiency, set(), lambda r: True)
    row = next(r for r in table.rows if r.heading is None)
    params, size, latency = row.cells[-3:]
    assert (params.text, params.sort, size.text, size.sort) == ("2.50", 2_500_000, "7.0", 7_000_000)
    assert latency.sort == record.timings.latency_ms_per_image
    none = board._table([record], spec.columns, record.dataset.fingerprint, {}, set(), lambda r: True)
    own = record.method.get("params")                                        # the result's own figure
    assert next(r for r in none.rows if r.heading is None).cells[-3].sort == own


# -- records ----------------------------------------------------------------------------------------
def test_describe_error_prefers_the_reason_then_the_message():
    assert describe_error({"reason": "r", "message": "m"}) == "r"
    assert describe_error({"message": "m"}) == "m"
    assert describe_error({}) == "" and describe_error(None) == ""


def test_merged_timings_are_the_sums_of_the_shards():
    a = Timings(image_seconds=1.5, images_computed=3, images_cached=1, rank_seconds=0.25)
    b = Timings(image_seconds=0.5, images_computed=1, images_cached=0, rank_seconds=0.75)
    total = Timings.merge([a, b])
    assert (total.image_seconds, total.images_computed, total.images_cached, total.rank_seconds) == (2.0, 4, 1, 1.0)
    assert Timings.merge([]) == Timings()


# -- the result store ---------------------------------------------------------------------------------
def test_pair_is_whole_follows_the_sidecar(stored):
    record = read_result(stored)
    assert record.rankings_sha256 and pair_is_whole(record)
    side = stored.with_name(record.rankings_file)
    side.write_bytes(side.read_bytes() + b"\0")
    assert not pair_is_whole(read_result(stored))
    side.unlink()
    assert not pair_is_whole(read_result(stored))
    legacy = json.loads(stored.read_text())
    legacy.pop("rankings_sha256")
    stored.write_text(json.dumps(legacy))
    assert not pair_is_whole(read_result(stored))            # without a digest: presence still counts
    detached = read_result(stored)
    detached.path = None
    assert pair_is_whole(detached)                            # a record not read from a file has no pair


def test_read_rankings_names_a_missing_or_unreadable_sidecar(stored):
    side = stored.with_name(read_result(stored).rankings_file)
    side.unlink()
    with pytest.raises(ResultFileError, match=r"ood\.rankings\.json\.gz: missing \(the rankings sidecar of ood\.json\); "
                                              r"re-run the method on this protocol$"):
        read_rankings(stored)
    side.write_text("not gzip")
    with pytest.raises(ResultFileError, match=r"ood\.rankings\.json\.gz: not a readable rankings sidecar: truncated"):
        read_rankings(stored)


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(metrics=[1]), "field 'metrics': expected an object or null"),
    (lambda d: d.update(status=1), "field 'status': expected a string"),
    (lambda d: d["metrics"]["overall"]["acc@1"].update(value=True), "field 'metrics.overall.acc@1.value': "
                                                                     "expected a number"),
    (lambda d: d["metrics"]["subtasks"].update(en=[0]), "field 'metrics.subtasks.en': expected an object"),
])
def test_a_field_of_the_wrong_type_is_named(stored, change, message):
    data = json.loads(stored.read_text())
    change(data)
    stored.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=f"^{stored}: {message.replace('(', '[(]').replace(')', '[)]')}$"):
        read_result(stored)


# -- runner helpers -------------------------------------------------------------------------------------
def test_one_line_of_an_exception():
    assert _one_line(ValueError("first\nsecond")) == "ValueError: first"
    assert _one_line(KeyError()) == "KeyError: "


def test_query_latency_reports_milliseconds_per_query_rounded(monkeypatch):
    from bench.engine import runner

    class Ops:
        def query_latency(self, outputs, st, n):
            assert n == 10
            return {"en": 0.0123456, "zh": 0.0011}[st.name]

    monkeypatch.setattr(runner, "ops_for", lambda method: Ops())
    task = type("T", (), {"subtasks": [type("S", (), {"name": "en"})(), type("S", (), {"name": "zh"})()],
                          "timed_queries": 10})()
    out = query_latency(task, type("O", (), {"method": None})())
    assert out["value"] == round(float(np.mean([12.3456, 1.1])), 3) == 6.723
    assert out["subtasks"] == {"en": 12.346, "zh": 1.1} and out["n_timed"] == 20
    assert out["note"].startswith("one query at a time after the gallery is indexed")


def test_an_unavailable_method_is_reported_for_each_protocol_with_its_fix_if_any(tmp_path, toy_dataset,
                                                                                 register_methods, monkeypatch):
    import fake_methods
    from bench.api.retriever import Availability

    register_methods(**{"missing-weights": "fake_methods:Missing"})
    outcomes = run(toy_dataset, RunConfig(methods=["missing-weights"], protocols=["ood", "t2i"],
                                          results_dir=tmp_path / "r", cache_dir=None, n_boot=0))
    assert [(o.protocol, o.status, o.message) for o in outcomes] == [
        (p, "unavailable", "weights not found at /nowhere (fix: set HWR_BENCH_MODELS)") for p in ("ood", "t2i")]
    monkeypatch.setattr(fake_methods.Missing, "availability", lambda self: Availability.no("no GPU here", ""))
    outcomes = run(toy_dataset, RunConfig(methods=["missing-weights"], protocols=["ood"],
                                          results_dir=tmp_path / "r", cache_dir=None, n_boot=0))
    assert [o.message for o in outcomes] == ["no GPU here"]


def test_bold_needs_acc1_above_the_chance_baselines_interval(tmp_path, toy_dataset, register_methods):
    """In process: the rows that may be bold, per protocol (R/D gated on OOD's Acc@1)."""
    register_methods(counting="fake_methods:Counting", **{"truth-scorer": "fake_methods:TruthScorer"})
    run(toy_dataset, RunConfig(methods=["random", "counting", "truth-scorer", "oracle-text"],
                               protocols=["ood", "rd"], results_dir=tmp_path / "r", cache_dir=None, n_boot=200))
    results = board.iter_results(tmp_path / "r")
    eligible = board._above_chance(results)
    by = {(r.method_name, r.protocol.name): r for r in results}
    chance = by[("random", "ood")].metrics["overall"]["acc@1"]["ci95"][1]
    assert by[("truth-scorer", "ood")].overall("acc@1") > chance and eligible(by[("truth-scorer", "ood")])
    assert not eligible(by[("oracle-text", "ood")]) and not eligible(by[("random", "ood")])   # reference rows
    counting_ood = by[("counting", "ood")].overall("acc@1")
    assert eligible(by[("counting", "ood")]) == (counting_ood > chance)
    assert eligible(by[("counting", "rd")]) == eligible(by[("counting", "ood")])   # R/D: gated on OOD
    at_bar = [r for r in results if r.method_name != "random"]
    assert board._above_chance(at_bar)(by[("counting", "ood")])    # no chance baseline: nothing is gated
    # Without intervals the bar is random's Acc@1 itself.
    for r in results:
        if r.method_name == "random" and r.protocol.name == "ood":
            r.metrics["overall"]["acc@1"].pop("ci95")
    assert board._above_chance(results)(by[("counting", "ood")]) == (counting_ood > by[("random", "ood")].overall("acc@1"))
