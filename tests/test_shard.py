"""Sharded runs merge into exactly the unsharded result."""

import pytest

from bench.core.errors import HwrBenchError
from bench.store.results import read_result, result_path
from bench.engine.runner import RunConfig, run
from bench.store.shard import merge, parse_shard

PROTOCOLS = ["id", "ood", "xling", "t2i", "rd"]


def _run(dataset, folder, shard=None):
    return run(dataset, RunConfig(methods=["random", "oracle-text"], protocols=PROTOCOLS, results_dir=folder,
                                  cache_dir=None, n_boot=200, seed=3, shard=shard))


def test_three_shards_merge_to_the_unsharded_metrics_and_count_as_up_to_date(tmp_path, toy_dataset):
    _run(toy_dataset, tmp_path / "whole")
    shard_dirs = [tmp_path / f"shard{i}" for i in range(3)]
    for i, folder in enumerate(shard_dirs):
        _run(toy_dataset, folder, shard=(i, 3))
    assert not result_path(shard_dirs[1], "random", "rd").exists()          # R/D runs whole in shard 0
    merged = merge(shard_dirs, tmp_path / "merged")
    assert "random/rd" in merged and "oracle-text/xling" in merged
    for method in ("random", "oracle-text"):
        for protocol in PROTOCOLS:
            whole = read_result(result_path(tmp_path / "whole", method, protocol)).to_json()
            got = read_result(result_path(tmp_path / "merged", method, protocol)).to_json()
            assert got["status"] == whole["status"]
            assert got["metrics"] == whole["metrics"], (method, protocol)
            assert got["run_key"] == whole["run_key"]
    again = _run(toy_dataset, tmp_path / "merged")
    assert {o.status for o in again} == {"skipped"}


def test_incomplete_or_mixed_shards_are_refused(tmp_path, toy_dataset):
    _run(toy_dataset, tmp_path / "a", shard=(0, 2))
    with pytest.raises(HwrBenchError, match="do not cover"):
        merge([tmp_path / "a"], tmp_path / "out")
    _run(toy_dataset, tmp_path / "whole")
    with pytest.raises(HwrBenchError, match="shard results"):
        merge([tmp_path / "a", tmp_path / "whole"], tmp_path / "out")
    for bad in ("2/2", "1", "a/b", "-1/3"):
        with pytest.raises(HwrBenchError):
            parse_shard(bad)
