"""CLIP/SigLIP (transformers) and open_clip adapters, on tiny random checkpoints saved by the test
and loaded through the adapters' real path (``from_pretrained(local_dir)``, a local weights file)."""

import hashlib
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from adapters.hf_clip import letterbox
from bench.api.options import OptionError
from bench.api.registry import create
from bench.data.schema import ImageItem
from test_cli import bench
from tiny_hf import save_tiny_clip, save_tiny_siglip

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

IMAGES = [Image.new("L", (160, 40), 255), Image.new("L", (90, 48), 30), Image.new("L", (40, 40), 128)]
ITEMS = [ImageItem(f"img-{i}", im, "en", hashlib.sha256(im.tobytes()).hexdigest()) for i, im in enumerate(IMAGES)]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    return {"clip": save_tiny_clip(root / "tiny-clip"), "siglip": save_tiny_siglip(root / "tiny-siglip")}


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_tiny_checkpoint_embeds_with_right_shapes_deterministically(kind, tiny_models):
    method = create(kind, {"model_path": str(tiny_models[kind])})
    assert method.availability().ok
    images = method.embed_images(ITEMS)
    texts = method.embed_texts(["apple", "苹果", "manzana"], "en")
    assert images.shape[0] == 3 and texts.shape[0] == 3 and images.shape[1] == texts.shape[1]
    assert np.isfinite(images).all() and np.isfinite(texts).all()
    again = create(kind, {"model_path": str(tiny_models[kind])})
    np.testing.assert_allclose(again.embed_images(ITEMS), images, rtol=1e-5, atol=1e-6)
    assert not np.allclose(images[0], images[1])          # different images, different embeddings
    info = method.info
    assert info.params and info.params > 1000 and "letterboxed" in info.preprocessing


def test_letterbox_keeps_the_whole_word():
    word = Image.new("L", (200, 40), 0)
    square = letterbox(word)
    assert square.size == (200, 200)
    assert np.asarray(square)[80:120].max() == 0 and np.asarray(square)[:50].min() == 255


def test_missing_weights_are_unavailable_with_the_name_and_places(monkeypatch, tmp_path):
    monkeypatch.setenv("HWR_BENCH_MODELS", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    available = create("siglip").availability()
    assert not available.ok
    assert "google/siglip2-base-patch16-224" in available.reason and str(tmp_path) in available.reason
    assert "siglip.model_path" in available.fix and "hf download" in available.fix and "--offline" in available.fix


def test_options_are_checked_and_the_name_is_the_one_asked_for(tmp_path):
    with pytest.raises(OptionError, match="fit must be 'pad' or 'processor'"):
        create("siglip", {"fit": "crop"})
    with pytest.raises(OptionError, match="device must be auto, cpu, cuda or cuda:N"):
        create("siglip", {"device": "gpu"})
    with pytest.raises(OptionError, match="dtype must be one of auto, float32, bfloat16, float16"):
        create("clip", {"dtype": "fp8"})
    with pytest.raises(OptionError, match="'fitt'.*known: device, dtype, fit, model_path, template\\)"):
        create("clip", {"fitt": "pad"})
    assert create("siglip").info.name == "siglip"
    assert create("siglip:siglip2-l").info.name == "siglip:siglip2-l"
    folder = tmp_path / "my-siglip"
    folder.mkdir()
    assert create(f"siglip:{folder}").info.name == f"siglip:{folder}"   # the spec as given, not shortened


def test_models_folder_convention_finds_a_copy(monkeypatch, tmp_path, tiny_models):
    shutil.copytree(tiny_models["clip"], tmp_path / "openai" / "clip-vit-base-patch32")
    monkeypatch.setenv("HWR_BENCH_MODELS", str(tmp_path))
    method = create("clip")
    assert method.availability().ok and method.lookup.path == tmp_path / "openai" / "clip-vit-base-patch32"


def test_siglip_runs_every_protocol_through_bench_run_and_reaches_the_leaderboard(tmp_path, toy_dataset_path,
                                                                                  tiny_models):
    proc = bench("run", "--methods", "siglip,random", "--model-path", str(tiny_models["siglip"]),
                 "--dataset", str(toy_dataset_path), "--quiet", "--bootstrap", "0", cwd=tmp_path)
    assert "failed" not in proc.stdout
    for protocol in ("id", "ood", "xling", "t2i", "rd"):
        data = json.loads((tmp_path / "results" / "siglip" / f"{protocol}.json").read_text())
        assert data["status"] == "ok", data.get("error")
    bench("leaderboard", cwd=tmp_path)
    assert "| `siglip` |" in (tmp_path / "leaderboard.md").read_text()


def test_unavailable_hub_model_does_not_stop_the_run(tmp_path, toy_dataset_path):
    proc = bench("run", "--methods", "random,siglip:siglip2-l", "--protocols", "ood",
                 "--dataset", str(toy_dataset_path), "--quiet", "--bootstrap", "0", cwd=tmp_path)
    assert "unavailable siglip:siglip2-l" in " ".join(proc.stdout.split())
    assert "google/siglip2-large-patch16-256" in proc.stdout
    assert (tmp_path / "results" / "random" / "ood.json").is_file()


def test_open_clip_loads_the_weights_file_it_is_given(tmp_path):
    open_clip = pytest.importorskip("open_clip")
    pytest.importorskip("torchvision")
    config = {"embed_dim": 16,
              "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
              "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (tmp_path / "tiny-vit-hwr.json").write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path / "tiny-vit-hwr.json")
    torch.manual_seed(3)
    reference = open_clip.create_model("tiny-vit-hwr", pretrained=None).eval()
    folder = tmp_path / "weights"
    folder.mkdir()
    torch.save(reference.state_dict(), folder / "open_clip_pytorch_model.bin")

    method = create("openclip:tiny-vit-hwr/test", {"model_path": str(folder)})
    assert method.availability().ok
    texts = method.embed_texts(["apple", "苹果"], "en")
    with torch.inference_mode():
        want = reference.encode_text(open_clip.get_tokenizer("tiny-vit-hwr")(["apple", "苹果"])).numpy()
    np.testing.assert_allclose(texts, want, rtol=1e-5, atol=1e-6)   # the saved weights, not a fresh init
    assert method.embed_images(ITEMS).shape == (3, 16)
    assert method.info.name == "openclip:tiny-vit-hwr/test"
    missing = create("openclip:tiny-vit-hwr/other").availability()
    assert not missing.ok and "openclip/tiny-vit-hwr/other" in missing.fix
