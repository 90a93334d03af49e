"""The paper's own recipe (#32): the pack round-trips, the recipe lives in one place and the docs
list it, training runs a few CPU steps offline with a tiny DistilBERT, and the exported visual
tower runs through `bench run` as ours-paper."""

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ourmodel.paper.packed import FORMAT, PackError, load_pack, pack_bytes, quantise, unquantise, write_pack  # noqa: E402
from ourmodel.paper.recipe import DEPARTURES, PAPER, RecipeError  # noqa: E402
from test_cli import bench  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def toy_pack(toy_dataset, tmp_path_factory):
    return write_pack(toy_dataset, "train", tmp_path_factory.mktemp("pack") / "toy-train", 32, 128)


def test_quantisation_round_trips_to_the_nearest_of_16_greys():
    grey = np.arange(256, dtype=np.uint8).reshape(1, 8, 32)
    back = unquantise(quantise(grey))
    assert back.shape == grey.shape and np.abs(back.astype(int) - grey).max() <= 8
    assert set(np.unique(back)) <= {17 * k for k in range(16)}


def test_a_pack_holds_the_split_and_loads_with_numpy_alone(toy_dataset, toy_pack):
    from ourmodel.images import image_batch

    pack = load_pack(toy_pack)
    samples = toy_dataset.select(split="train")
    assert pack.manifest["format"] == FORMAT and len(pack) == len(samples)
    assert pack.ids.tolist() == [s.semantic_id for s in samples] and pack.lang_names() == [s.lang for s in samples]
    expected = np.round(image_batch([toy_dataset.image_item(s.key).image for s in samples[:5]], 32, 128)[:, 0] * 255)
    assert np.abs(pack.grey(np.arange(5)).astype(int) - expected).max() <= 9      # 4-bit grey
    assert pack.anchors.shape == (len(toy_dataset.lexicon), 512) and len(pack.lexicon) == len(toy_dataset.lexicon)
    # The loader needs numpy only: with torch and this project's packages unimportable, it still loads.
    code = ("import sys, importlib.util\n"
            "for name in ('torch', 'bench', 'adapters', 'methodkit', 'ourmodel'): sys.modules[name] = None\n"
            f"spec = importlib.util.spec_from_file_location('packed', {str(ROOT / 'ourmodel/paper/packed.py')!r})\n"
            "m = sys.modules['packed'] = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            f"print(len(m.load_pack({str(toy_pack)!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(len(samples))


def test_a_changed_or_incomplete_pack_is_refused(toy_pack, tmp_path):
    import shutil

    copy = shutil.copytree(toy_pack, tmp_path / "copy")
    labels = np.load(copy / "labels.npz")
    np.savez(copy / "labels.npz", ids=labels["ids"][::-1], langs=labels["langs"])
    with pytest.raises(PackError, match="labels.npz: changed since it was packed"):
        load_pack(copy)
    (copy / "anchors.npy").unlink()
    with pytest.raises(PackError, match="anchors.npy: missing from the pack"):
        load_pack(copy)
    with pytest.raises(PackError, match="exists; pack into a new folder"):
        write_pack(None, "train", copy)


def test_the_default_train_split_packs_within_the_64_mib_a_gpu_machine_carries():
    from bench.data.builder import SIZES
    from bench.data.lexicon import load_lexicon

    entries = len(load_lexicon())
    train = SIZES["small"].train_per_concept * entries
    anchors = entries * 512 * 2
    assert pack_bytes(train, PAPER.image_height, PAPER.image_width) + anchors < 64 * 2**20
    assert SIZES["paper-train"].train_per_concept * entries >= PAPER.pretrain_samples   # the paper's 262k


def test_the_recipe_is_one_dataclass_and_the_docs_state_every_value_and_departure():
    import re

    doc = (ROOT / "docs" / "paper-recipe.md").read_text()
    stated = dict(re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", doc, flags=re.M))
    assert {name: json.loads(v) for name, v in stated.items()} == PAPER.to_json()
    for d in DEPARTURES:
        assert d.what in doc, d.what
    with pytest.raises(RecipeError, match="no option 'lr_pretrian' .*did you mean 'lr_pretrain'"):
        PAPER.with_overrides({"lr_pretrian": 1e-3})
    with pytest.raises(RecipeError, match="paper recipe option steps: expected an integer, got \"many\""):
        PAPER.with_overrides({"steps": "many"})


def test_device_augmentation_keeps_the_images_shape_and_range_and_follows_its_generator():
    from ourmodel.paper.trainer import augment_on_device

    x = torch.ones(4, 1, 32, 128)
    x[:, :, 10:20, 20:100] = 0.0
    a = augment_on_device(x, torch.Generator().manual_seed(1))
    b = augment_on_device(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and 0 <= a.min() and a.max() <= 1 and torch.equal(a, b)
    assert not torch.equal(a, x)


def test_asking_for_cuda_without_one_is_a_clear_error():
    from ourmodel.paper.trainer import pick_device

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(RecipeError, match="torch sees no CUDA device"):
        pick_device("cuda")
    assert pick_device("auto").type == "cpu"


@pytest.fixture(scope="module")
def tiny_distilbert(tmp_path_factory):
    pytest.importorskip("transformers")
    from tiny_hf import WORDS
    from transformers import BertTokenizerFast, DistilBertConfig, DistilBertModel

    folder = tmp_path_factory.mktemp("distilbert")
    chars = sorted({c for w in WORDS for c in w} | set("abcdefghijklmnopqrstuvwxyzñáéíóú"))
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), tokenize_chinese_chars=True).save_pretrained(str(folder))
    torch.manual_seed(0)
    DistilBertModel(DistilBertConfig(vocab_size=5 + len(chars), dim=32, hidden_dim=64, n_layers=3, n_heads=2,
                                     max_position_embeddings=64)).save_pretrained(str(folder))
    return folder


def test_the_paper_recipe_trains_offline_on_the_cpu_and_runs_as_ours_paper(tiny_distilbert, toy_dataset_path,
                                                                             tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HWR_BENCH_CACHE": str(tmp_path / "cache")}
    run = tmp_path / "run"
    proc = bench("train", "--recipe", "paper", "--device", "cpu", "--out", str(run), "--dataset",
                 str(toy_dataset_path), "--set", f"text_model={json.dumps(str(tiny_distilbert))}", "--set", "steps=2",
                 "--set", "max_batch=12", "--set", "val_every=1", "--quiet", cwd=tmp_path, env_changes=env)
    final = run / "final"
    assert {p.name for p in final.iterdir()} >= {"visual.onnx", "text_vectors.npy", "lexicon.json", "recipe.json",
                                                 "meta.json"}, proc.stdout
    meta = json.loads((final / "meta.json").read_text())
    assert meta["smoke"] is True and meta["device"] == "cpu"
    curve = [json.loads(line) for line in (run / "curve.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in curve] == [("pretrain", 1), ("pretrain", 2), ("finetune", 1),
                                                        ("finetune", 2)]
    assert all(0 <= r["val"]["acc1"] <= 1 for r in curve)
    # the frozen bottom: the checkpoint's DistilBERT embeddings are the tiny model's, unchanged
    state = torch.load(run / "finetune" / "done.pt", weights_only=True)
    from transformers import DistilBertModel

    original = DistilBertModel.from_pretrained(str(tiny_distilbert)).embeddings.word_embeddings.weight
    assert torch.equal(state["text.encoder.encoder.embeddings.word_embeddings.weight"], original)
    assert not torch.equal(state["visual.project.weight"],    # stage 2 trained on from stage 1's weights
                           torch.load(run / "pretrain" / "done.pt", weights_only=True)["visual.project.weight"])
    bench("run", "--methods", "ours-paper", "--option", f"ours-paper.checkpoint={final}", "--dataset",
          str(toy_dataset_path), "--protocols", "id,xling", "--bootstrap", "0", "--quiet",
          "--results-dir", str(tmp_path / "results"), cwd=tmp_path, env_changes=env)
    record = json.loads((tmp_path / "results" / "ours-paper" / "id.json").read_text())
    assert record["status"] == "ok" and record["method"]["description"].startswith("SMOKE checkpoint")
    assert record["method"]["params"] > 500_000          # MobileNetV3-Small and its projector, from the ONNX graph


def test_ours_paper_without_a_checkpoint_says_how_to_train_one(tmp_path):
    from bench.api.registry import create

    available = create("ours-paper", {"checkpoint": str(tmp_path)}).availability()
    assert not available.ok and "bench train --recipe paper --device cuda" in available.fix


def test_a_word_outside_the_training_lexicon_is_an_error_not_a_guess(tmp_path):
    from bench.api import MethodOutputError
    from bench.api.registry import create

    (tmp_path / "lexicon.json").write_text(json.dumps([{"semantic_id": 1, "lang": "en", "text": "apple"}]))
    np.save(tmp_path / "text_vectors.npy", np.ones((1, 128), dtype=np.float32))
    method = create("ours-paper", {"checkpoint": str(tmp_path)})
    assert method.embed_texts(["Apple"], "en").shape == (1, 128)        # the text policy: case-insensitive
    with pytest.raises(MethodOutputError, match="'pear' \\(en\\) is not in"):
        method.embed_texts(["apple", "pear"], "en")
