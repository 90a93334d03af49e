"""Hub models download themselves when the run is online, and never touch the network offline.

A local HTTP server (``hub_stub``) speaks the hub's file API for a tiny random SigLIP checkpoint;
``HF_ENDPOINT`` points ``huggingface_hub`` at it and ``HF_HOME`` at a fresh cache, so the real
download path runs with no internet.
"""

import json

import pytest

from bench.store.results import result_path
from hub_stub import HubStub
from test_cli import bench
from tiny_hf import save_tiny_siglip, save_tiny_trocr

pytest.importorskip("transformers")
pytest.importorskip("torch")

REPO = "hwr-test/tiny-siglip"
TROCR_REPO = "hwr-test/tiny-trocr"   # a paper row's adapter (adapters.hub_ocr) on the same download path


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = save_tiny_siglip(tmp_path_factory.mktemp("hub-repo") / "tiny-siglip")
    trocr = save_tiny_trocr(tmp_path_factory.mktemp("hub-repo") / "tiny-trocr")
    with HubStub({REPO: folder, TROCR_REPO: trocr}) as stub:
        yield stub


def _env(hub, hf_home, **changes):
    # Online as far as the hub libraries can tell: no offline switch, the stub as the endpoint.
    return {"HF_ENDPOINT": hub.url, "HF_HOME": str(hf_home), "HWR_BENCH_MODELS": None, "HF_HUB_OFFLINE": None,
            "TRANSFORMERS_OFFLINE": None, "HWR_BENCH_OFFLINE": None, "HF_HUB_DISABLE_XET": "1", **changes}


def _run(tmp_path, toy_dataset_path, env, *extra, check=True, method=f"siglip:{REPO}"):
    return bench("run", "--methods", method, "--protocols", "id", "--limit", "3", "--bootstrap", "0",
                 "--dataset", str(toy_dataset_path), "--quiet", *extra, cwd=tmp_path, env_changes=env, check=check)


def test_an_online_run_downloads_the_checkpoint_and_evaluates_it(tmp_path, toy_dataset_path, hub):
    before = len(hub.requests)
    proc = _run(tmp_path, toy_dataset_path, _env(hub, tmp_path / "hf"))
    path = result_path(tmp_path / "results", f"siglip:{REPO}", "id")
    assert path.is_file(), proc.stdout + proc.stderr
    record = json.loads(path.read_text())
    assert record["status"] == "ok", proc.stdout + proc.stderr
    fetched = [r for r in hub.requests[before:] if "/resolve/" in r and r.startswith("GET")]
    assert any(r.endswith("model.safetensors") for r in fetched) and any(r.endswith("config.json") for r in fetched)
    assert list((tmp_path / "hf").rglob("model.safetensors")), "the weights land in the Hugging Face cache"
    assert REPO in record["method"]["version"] and "missing" not in record["method"]["version"]


@pytest.mark.parametrize("how", ["--offline", "HF_HUB_OFFLINE=1"])
def test_an_offline_run_never_touches_the_network_and_names_the_fix(tmp_path, toy_dataset_path, hub, how):
    env = _env(hub, tmp_path / "hf-empty")
    extra = ()
    if how == "--offline":
        extra = ("--offline",)
    else:
        env["HF_HUB_OFFLINE"] = "1"
    before = len(hub.requests)
    proc = _run(tmp_path, toy_dataset_path, env, *extra, check=False)
    assert proc.returncode == 3        # the only method was unavailable: nothing ran
    assert hub.requests[before:] == []
    out = " ".join((proc.stdout + proc.stderr).split())
    assert "unavailable" in out and REPO in out
    assert "downloads off" in out and "hf download" in out and "--offline" in out
    assert not result_path(tmp_path / "results", f"siglip:{REPO}", "id").exists()   # unavailability is no result


def test_a_paper_row_adapter_downloads_through_the_same_path(tmp_path, toy_dataset_path, hub):
    proc = _run(tmp_path, toy_dataset_path, _env(hub, tmp_path / "hf"), method=f"trocr:{TROCR_REPO}")
    record = json.loads(result_path(tmp_path / "results", f"trocr:{TROCR_REPO}", "id").read_text())
    assert record["status"] == "ok", proc.stdout + proc.stderr
    revision = record["method"]["version"].split("@")[1].split(":")[0]
    assert record["method"]["version"].startswith(TROCR_REPO) and revision != "local"   # the snapshot's commit
