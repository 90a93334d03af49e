import os

import pytest

from bench.views.compare import compare_methods
from bench.core.errors import HwrBenchError
from bench.core.io import write_bytes_atomic
from bench.engine.runner import RunConfig, run


def test_interrupted_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    write_bytes_atomic(target, b"old")
    real_fsync = os.fsync

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_bytes_atomic(target, b"new content")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_compare_oracle_against_random(tmp_path, toy_dataset):
    config = RunConfig(methods=["random", "oracle-text"], protocols=["ood"], results_dir=tmp_path,
                       cache_dir=None, n_boot=100)
    run(toy_dataset, config)
    test, n = compare_methods(tmp_path, "oracle-text", "random", "ood", "acc@1", n_boot=2000)
    assert n == len(toy_dataset.select(split="test_ood"))
    assert test.mean_difference > 0.8 and test.ci_low > 0.7 and test.p_value < 0.001
    nes, _ = compare_methods(tmp_path, "oracle-text", "random", "ood", "nes", n_boot=500)
    assert nes.mean_difference > 0
    with pytest.raises(HwrBenchError, match="metric 'map' not available"):
        compare_methods(tmp_path, "oracle-text", "random", "ood", "map", n_boot=100)
    with pytest.raises(HwrBenchError, match="no result"):
        compare_methods(tmp_path, "oracle-text", "random", "xling", "acc@1")


# --- the result record's on-disk format (from the mutation run's survivors) ---------------------

from pathlib import Path  # noqa: E402

from bench.store.records import ConfigRecord, DatasetRecord, ProtocolRecord, ResultRecord, RunKey, Timings  # noqa: E402
from bench.store.results import iter_results  # noqa: E402

COMMITTED = Path(__file__).resolve().parent.parent / "results"


def test_every_committed_result_round_trips_and_keeps_its_run_key():
    # The committed files are the format's fixtures: reading and writing one changes nothing, and
    # its run key recomputed from its own fields is the stored one (else `bench run` calls it stale).
    import json

    records = iter_results(COMMITTED)
    assert len(records) > 50
    for record in records:
        stored = json.loads(record.path.read_text())
        assert record.to_json() == stored, record.path
        assert record.with_run_key().run_key == stored["run_key"], record.path


def _record(**config) -> ResultRecord:
    return ResultRecord(status="ok", method={"name": "m", "group": "g", "cache_key": "abc"},
                        protocol=ProtocolRecord("ood", "2", "d"), dataset=DatasetRecord("toy", "f" * 8, 10),
                        config=ConfigRecord(limit=None, seed=0, n_bootstrap=100, text_policy={"nfkc": True}, **config),
                        provenance={}, environment={"python": "3"})


def test_every_field_of_the_run_key_changes_the_digest():
    base = RunKey("m", "ood", "2", "fp", None, 0, 100, {"nfkc": True})
    digests = {base.digest()}
    for change in ({"method_cache_key": "n"}, {"protocol": "id"}, {"protocol_version": "3"},
                   {"dataset_fingerprint": "fq"}, {"limit": 5}, {"seed": 1}, {"n_boot": 10},
                   {"text_policy": {"nfkc": False}}, {"shard": "1/2"}, {"shard": "2/2"}):
        digests.add(RunKey(**{**base.__dict__, **change}).digest())
    assert len(digests) == 11
    assert len(base.digest()) == 32 and int(base.digest(), 16) >= 0
    # a record's key is built from its own fields, the shard included
    assert _record().key() == RunKey("abc", "ood", "2", "f" * 8, None, 0, 100, {"nfkc": True})
    assert _record(shard="1/2").key().shard == "1/2"
    assert _record(shard="1/2").with_run_key().run_key != _record().with_run_key().run_key


def test_record_json_carries_shards_and_merges_only_when_present():
    whole = _record().to_json()
    assert "shard" not in whole["config"] and "merged_from" not in whole and "rankings_sha256" not in whole
    assert whole["environment"] == {"python": "3"}
    part = _record(shard="1/2")
    part.merged_from = ["a.json", "b.json"]
    out = part.to_json()
    assert out["config"]["shard"] == "1/2" and out["merged_from"] == ["a.json", "b.json"]
    assert ResultRecord.from_json(out).merged_from == ["a.json", "b.json"]


def test_timings_json_rounds_to_four_places_and_derives_latency():
    t = Timings(image_seconds=1.234567, images_computed=3, text_seconds=0.00001, rank_seconds=2.0,
                total_seconds=9.876543)
    assert t.to_json() == {"image_seconds": 1.2346, "images_computed": 3, "images_cached": 0,
                           "text_seconds": 0.0, "texts_computed": 0, "texts_cached": 0, "rank_seconds": 2.0,
                           "latency_ms_per_image": 411.522, "total_seconds": 9.8765}
    assert "total_seconds" not in Timings().to_json() and Timings().to_json()["latency_ms_per_image"] is None
    assert Timings.from_json(t.to_json()) == Timings(1.2346, 3, 0, 0.0, 0, 0, 2.0, 9.8765)


def test_a_result_without_rankings_names_no_sidecar_digest(tmp_path):
    import json

    from bench.store.results import write_result

    write_result(tmp_path / "r.json", _record(), None)
    assert "rankings_sha256" not in json.loads((tmp_path / "r.json").read_text())
    write_result(tmp_path / "s.json", _record(), {"x": {}})
    assert len(json.loads((tmp_path / "s.json").read_text())["rankings_sha256"]) == 64


@pytest.mark.parametrize("payload, problem", [
    ([], "not rankings (expected an object of subtasks)"),
    ({}, "not rankings (expected an object of subtasks)"),
    ({"en": 3}, "subtask 'en': not an object"),
    ({"en": {"query_keys": ["a"], "query_ids": [1]}}, "subtask 'en': field 'relevant_ranks' missing or not a list"),
    ({"en": {"query_keys": "a", "query_ids": [1], "relevant_ranks": [[1]]}},
     "subtask 'en': field 'query_keys' missing or not a list"),
    ({"en": {"query_keys": ["a", "b"], "query_ids": [1], "relevant_ranks": [[1]]}},
     "subtask 'en': query_keys, query_ids and relevant_ranks differ in length"),
])
def test_a_malformed_sidecar_is_named_with_its_problem_when_validated(tmp_path, payload, problem):
    from bench.core.io import write_json_gz_atomic
    from bench.store.results import RankingsError, rankings_path, read_rankings

    result = tmp_path / "ood.json"
    write_json_gz_atomic(rankings_path(result), payload)
    assert read_rankings(result) == payload                      # unvalidated: read as it is
    with pytest.raises(RankingsError) as caught:
        read_rankings(result, validate=True)
    assert caught.value.path == rankings_path(result)
    assert str(caught.value) == f"{rankings_path(result)}: {problem}; re-run the method on this protocol"
    good = {"en": {"query_keys": ["a"], "query_ids": [1], "relevant_ranks": [[1]]}}
    write_json_gz_atomic(rankings_path(result), good)
    assert read_rankings(result, validate=True) == good


def test_every_committed_result_lives_where_result_path_puts_it():
    from bench.store.results import method_dir_name, result_path

    for record in iter_results(COMMITTED):
        assert result_path(COMMITTED, record.method_name, record.protocol.name) == record.path
    assert method_dir_name("ppocrv6-ctc.v2_x") == "ppocrv6-ctc.v2_x"          # kept as it is
    odd = method_dir_name("ocr+embed:vlm/x")
    assert odd.startswith("ocr_embed_vlm_x-") and len(odd) == len("ocr_embed_vlm_x-") + 8
    assert odd != method_dir_name("ocr_embed:vlm/x")                         # the digest tells them apart


def test_sweeping_removes_only_the_temporary_files_an_interrupted_write_left(tmp_path):
    from bench.store.results import iter_results, sweep_temp_files

    folder = tmp_path / "m"
    folder.mkdir()
    temp = folder / ".ood.json.k3x_9.tmp"
    temp.write_text("half")
    keep = [folder / ".notes.tmp", folder / "ood.json.k3x_9.tmp"]
    for path in keep:
        path.write_text("mine")
    (folder / ".id.json.abc.tmp").symlink_to(keep[0])
    (folder / ".t2i.json.gz.d1r.tmp").mkdir()
    (folder / ".hidden.json").write_text("not a result")
    assert sweep_temp_files(tmp_path) == [temp]
    assert not temp.exists() and all(p.exists() for p in keep) and (folder / ".id.json.abc.tmp").is_symlink()
    assert iter_results(tmp_path) == []                                      # dotfiles are never results


def _committed_json() -> dict:
    import json

    return json.loads(next(p for p in sorted(COMMITTED.glob("random/ood.json"))).read_text())


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not a readable result file ("),
    ("[1, 2]", "not a result record (a JSON object)"),
    (lambda d: d.pop("protocol"), "field 'protocol': missing"),
    (lambda d: d.pop("schema_version"), "field 'schema_version': missing or not an integer"),
    (lambda d: d.update(schema_version="1"), "field 'schema_version': missing or not an integer"),
    (lambda d: d.update(schema_version=99), "field 'schema_version': 99 is not readable by this hwr-bench"),
    (lambda d: d["method"].update(name=3), "field 'method.name': expected a string"),
    (lambda d: d["metrics"].update(subtasks=[1]), "field 'metrics.subtasks': expected an object"),
    (lambda d: d.update(dataset={"name": "x"}), "malformed result record (TypeError: "),
])
def test_a_malformed_result_file_is_one_line_naming_the_file_and_field(tmp_path, content, problem):
    import json

    from bench.store.results import ResultFileError, read_result

    path = tmp_path / "ood.json"
    if callable(content):
        data = _committed_json()
        content(data)
        content = json.dumps(data)
    path.write_text(content)
    with pytest.raises(ResultFileError) as caught:
        read_result(path)
    assert str(caught.value).startswith(f"{path}: {problem}") and "\n" not in str(caught.value)
