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
