"""The `ours` method through the harness: availability, and an end-to-end run on real features."""

import pytest

torch = pytest.importorskip("torch")

from bench.registry import create
from bench.results import read_result, result_path
from bench.runner import RunConfig, run


def test_missing_checkpoint_is_unavailable_with_fix(tmp_path):
    method = create("ours", {"checkpoint": str(tmp_path / "nowhere")})
    avail = method.availability()
    assert not avail.ok and "no checkpoint" in avail.reason and "bench train" in avail.fix


def test_ours_runs_every_protocol_with_a_checkpoint(tmp_path, toy_dataset):
    from ourmodel.model import DualEncoder, ModelConfig

    torch.manual_seed(0)
    model = DualEncoder(ModelConfig(feature_dim=120))
    model.eval()
    model.save(tmp_path / "ckpt")
    config = RunConfig(methods=["ours"], protocols=["id", "ood", "xling", "rd"], results_dir=tmp_path / "results",
                       cache_dir=tmp_path / "cache", limit=4, n_boot=50,
                       method_options={"ours": {"checkpoint": str(tmp_path / "ckpt")}})
    outcomes = run(toy_dataset, config)
    assert {o.protocol: o.status for o in outcomes} == {"id": "ok", "ood": "ok", "xling": "ok", "rd": "ok"}
    data = read_result(result_path(tmp_path / "results", "ours", "ood")).data
    assert 3_000_000 < data["method"]["params"] < 5_000_000  # frozen PP-OCRv4 rec (~2.7M) plus the head (~1.0M)
    assert data["method"]["version"].startswith("ckpt-")
    assert data["timings"]["images_computed"] > 0 and data["timings"]["latency_ms_per_image"] > 0
