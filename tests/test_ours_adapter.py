"""The `ours` method through the harness: availability, and an end-to-end run on real features."""

import json

import pytest

torch = pytest.importorskip("torch")

from bench.registry import create
from bench.results import result_path
from bench.retriever import RunContext
from bench.runner import RunConfig, run
from ourmodel.model import DualEncoder, ModelConfig


def test_missing_checkpoint_is_unavailable_with_fix(tmp_path):
    method = create("ours", {"checkpoint": str(tmp_path / "nowhere")})
    avail = method.availability()
    assert not avail.ok and "no checkpoint" in avail.reason and "bench train" in avail.fix


def test_text_anchors_are_cached_in_the_runs_cache_and_nowhere_else(tmp_path, monkeypatch, toy_dataset):
    monkeypatch.setenv("HWR_BENCH_CACHE", str(tmp_path / "default"))
    for name in ("ours", "ocr+embed:oracle-text"):
        method = create(name)
        assert method.embed_texts(["apple"], "en").shape[0] == 1          # before prepare(): no cache
        method.prepare(RunContext(dataset=toy_dataset, seed=0, cache_dir=tmp_path / name))
        assert method.embed_texts(["apple", "agua"], "en").shape[0] == 2
        assert list((tmp_path / name).glob("anchors-*/shard-*.npz")), name
    assert not (tmp_path / "default").exists()


def test_ours_runs_every_protocol_with_a_checkpoint(tmp_path, toy_dataset):
    torch.manual_seed(0)
    model = DualEncoder(ModelConfig(feature_dim=120))
    model.eval()
    model.save(tmp_path / "ckpt")
    config = RunConfig(methods=["ours"], protocols=["id", "ood", "xling", "rd"], results_dir=tmp_path / "results",
                       cache_dir=tmp_path / "cache", limit=4, n_boot=50,
                       method_options={"ours": {"checkpoint": str(tmp_path / "ckpt")}})
    outcomes = run(toy_dataset, config)
    assert {o.protocol: o.status for o in outcomes} == {"id": "ok", "ood": "ok", "xling": "ok", "rd": "ok"}
    data = json.loads(result_path(tmp_path / "results", "ours", "ood").read_text())
    assert 3_000_000 < data["method"]["params"] < 5_000_000  # frozen PP-OCRv4 rec (~2.7M) plus the head (~1.0M)
    assert data["method"]["version"].startswith("ckpt-")
    assert data["timings"]["images_computed"] > 0 and data["timings"]["latency_ms_per_image"] > 0


def test_int8_backbone_from_another_source_than_the_head_is_unavailable(tmp_path):
    """An int8 graph quantised for generation 1's PP-OCRv4 cannot feed a head trained on PP-OCRv6."""
    from ourmodel.quantize import BACKBONE_FILE

    (tmp_path / BACKBONE_FILE).write_bytes(b"not used")
    (tmp_path / "quantization.json").write_text(json.dumps({"recipe": {}}))      # gen 1 records no source
    method = create("ours-int8", {"int8_dir": str(tmp_path)})                   # head: the shipped fp32 checkpoint
    avail = method.availability()
    assert not avail.ok and "'ppocrv4-features'" in avail.reason and "bench quantize" in avail.fix
    (tmp_path / "quantization.json").write_text(json.dumps({"source": method.config["source"]}))
    assert create("ours-int8", {"int8_dir": str(tmp_path)}).availability().ok


def test_a_head_tuned_on_another_int8_graph_is_unavailable(tmp_path):
    """`bench quantize --out` over a folder that holds a tuned head leaves that head stale."""
    import shutil

    from ourmodel.quantize import BACKBONE_FILE, default_int8_dir

    for name in ("config.json", "model.safetensors", "quantization.json"):
        shutil.copy(default_int8_dir() / name, tmp_path / name)
    shutil.copy(default_int8_dir() / BACKBONE_FILE, tmp_path / BACKBONE_FILE)
    assert create("ours-int8", {"int8_dir": str(tmp_path)}).availability().ok     # the shipped pair
    (tmp_path / BACKBONE_FILE).write_bytes(b"a re-quantised graph")
    avail = create("ours-int8", {"int8_dir": str(tmp_path)}).availability()
    assert not avail.ok and "tuned on another int8 graph" in avail.reason and "re-tune" in avail.fix
