"""--engine ray on a local Ray instance with 2 CPUs: results identical to the serial run."""

import pytest

from bench.store.results import read_result, result_path
from bench.engine.runner import RunConfig, run

ray = pytest.importorskip("ray")

PROTOCOLS = ["id", "ood", "xling", "t2i", "rd"]


def test_ray_engine_matches_the_serial_run(tmp_path, toy_dataset):
    from bench.engine.ray_engine import run_on_ray

    def config(folder):
        return RunConfig(methods=["random", "oracle-text"], protocols=PROTOCOLS, results_dir=folder,
                         cache_dir=tmp_path / "cache", n_boot=100, seed=1)

    run(toy_dataset, config(tmp_path / "serial"))
    merged = run_on_ray(toy_dataset, config(tmp_path / "ray"), shards=2, num_cpus=2)
    assert len(merged) == 2 * len(PROTOCOLS)
    assert not (tmp_path / "ray" / ".shards").exists()
    for method in ("random", "oracle-text"):
        for protocol in PROTOCOLS:
            serial = read_result(result_path(tmp_path / "serial", method, protocol)).to_json()
            spread = read_result(result_path(tmp_path / "ray", method, protocol)).to_json()
            assert (spread["status"], spread["metrics"], spread["run_key"]) == \
                   (serial["status"], serial["metrics"], serial["run_key"])
