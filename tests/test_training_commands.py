"""`bench train`, `bench curves` and `bench quantize` as a user runs them (separate processes,
the toy dataset, a few steps), and the PP-OCRv6 posterior inputs they train on
(ourmodel/ppocr.py, ourmodel/features.py).

The commands default to the shipped recipe, so `bench train` here runs the real generation-2
path: PP-OCRv6 posteriors grouped onto the toy lexicon's alphabet, cached by image content.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench.api.registry import create
from ourmodel.curves import METRICS
from ourmodel.features import cached_features
from ourmodel.ppocr import PPOCR_V6, PPOCRFeatures, group_charset, lexicon_alphabet, posteriors_of

# A few steps of 24 images, validated and checkpointed every step, on one thread.
SHORT = ("--set", "steps=3", "--set", "batch_size=24", "--set", "val_every=1", "--set", "checkpoint_every=1",
         "--set", "val_queries=5", "--set", "threads=1", "--quiet")


def bench(*args, cwd, check=True):
    """``bench ARGS`` in a subprocess, its cache in ``cwd/.cache``."""
    env = {**os.environ, "HWR_BENCH_CACHE": str(Path(cwd) / ".cache"), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"bench {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def one_error_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def curve_of(run: Path) -> list[dict]:
    return [json.loads(l) for l in (run / "curve.jsonl").read_text().splitlines()]


def train_state(run: Path) -> dict:
    return torch.load(run / "last" / "train_state.pt", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """One folder (and bench cache) for the module: PP-OCRv6 reads the toy images once."""
    return tmp_path_factory.mktemp("training")


@pytest.fixture(scope="module")
def trained(work, toy_dataset_path) -> Path:
    # sem=supcon: a --set value that is not JSON is taken as a string.
    proc = bench("train", "--out", "run", "--dataset", str(toy_dataset_path), *SHORT, "--set", "sem=supcon", cwd=work)
    assert "trained model in run/final" in proc.stdout
    return work / "run"


@pytest.fixture(scope="module")
def quantised(work, trained, toy_dataset_path) -> Path:
    proc = bench("quantize", "--out", "int8", "--checkpoint", str(trained / "final"), "--dataset",
                 str(toy_dataset_path), cwd=work)
    assert "wrote int8/backbone-int8.onnx" in proc.stdout
    return work / "int8"


# -- bench train ------------------------------------------------------------------------------

def test_train_writes_a_ppocrv6_checkpoint_that_ours_runs(trained, toy_dataset):
    alphabet = lexicon_alphabet([e.text for e in toy_dataset.lexicon])
    config = json.loads((trained / "final" / "config.json").read_text())
    assert config["backbone"] == "ppocr" and config["source"] == "ppocrv6-posteriors"
    assert config["alphabet"] == alphabet and config["feature_dim"] == len(alphabet) + 2   # + blank, space
    assert config["extra"]["backbone_sha256"] == PPOCR_V6.digest()
    assert config["extra"]["train_fingerprints"] == [toy_dataset.fingerprint]
    assert config["extra"]["train_images"] == len(toy_dataset.select(split="train"))
    assert config["extra"]["train_config"]["steps"] == 3 and config["extra"]["train_config"]["batch_size"] == 24
    assert config["extra"]["train_config"]["sem"] == "supcon"
    assert json.loads((trained / "train_config.json").read_text()) == config["extra"]["train_config"]
    curve = curve_of(trained)
    assert [(r["step"], r["images_seen"]) for r in curve] == [(1, 24), (2, 48), (3, 72)]
    assert all(set(r["val"]) == {key for key, _ in METRICS} for r in curve)
    assert train_state(trained)["step"] == 3
    # The PP-OCRv6 inputs were cached by image content, under the backbone's and alphabet's names.
    assert list((trained.parent / ".cache" / "features").glob(f"ppocrv6-posteriors-{PPOCR_V6.digest()[:16]}-*"))
    # The run's final checkpoint is an `ours` checkpoint.
    method = create("ours", {"checkpoint": str(trained / "final")})
    assert method.availability().ok and method.source is PPOCR_V6
    items = toy_dataset.image_items([s.key for s in toy_dataset.select(split="test_ood")[:3]])
    z = method.embed_images(items)
    assert z.shape == (3, 128) and np.allclose(np.linalg.norm(z, axis=1), 1, atol=1e-5)


def test_an_interrupted_run_resumes_at_its_last_step(work, toy_dataset_path):
    """``max_seconds=0`` stops after every step; the re-run resumes where the first stopped, with
    the weights and the optimiser's state, rather than starting over. A stopped run writes no
    ``final/``; another time limit (here none) resumes it all the same."""
    args = ("train", "--out", "parts", "--dataset", str(toy_dataset_path), *SHORT, "--set", "steps=3")
    run = work / "parts"
    first = bench(*args, "--set", "max_seconds=0", cwd=work)
    assert "stopped after 0s at step 1; run again to resume" in first.stdout and "resuming" not in first.stdout
    assert "trained model in" not in first.stdout and not (run / "final").exists()
    assert train_state(run)["step"] == 1
    second = bench(*args, "--set", "max_seconds=0", cwd=work)
    assert "resuming at step 1 " in second.stdout and "stopped after 0s at step 2;" in second.stdout
    assert "trained model in" not in second.stdout and not (run / "final").exists()
    assert [r["step"] for r in curve_of(run)] == [1, 2]            # not back to step 1
    state = train_state(run)
    assert state["step"] == 2
    assert {int(s["step"]) for s in state["optim"]["state"].values()} == {2}   # AdamW's moments: 2 updates
    third = bench(*args, cwd=work)                                  # max_seconds is not part of the run's identity
    assert "resuming at step 2 " in third.stdout and "stopped" not in third.stdout
    assert "trained model in parts/final" in third.stdout and (run / "final" / "model.safetensors").is_file()
    assert [r["step"] for r in curve_of(run)] == [1, 2, 3] and train_state(run)["step"] == 3
    # Other options in the same folder are refused, and the run is left as it was.
    weights = (run / "last" / "model.safetensors").read_bytes()
    proc = bench(*args, "--set", "lr=0.5", cwd=work, check=False)
    line = one_error_line(proc)
    assert "a run with a different config is there; use another --out, or the same options" in line
    assert "lr 0.002 there, 0.5 here" in line
    assert train_state(run)["step"] == 3 and (run / "last" / "model.safetensors").read_bytes() == weights
    assert [r["step"] for r in curve_of(run)] == [1, 2, 3]


def test_train_on_a_dataset_without_test_id_images_skips_that_validation(work, toy_dataset):
    from bench.data.store import SampleRecord, write_dataset

    records = [SampleRecord(s.key, toy_dataset._image_bytes[s.key], s.text, s.semantic_id, s.lang, s.style, s.split)
               for s in toy_dataset.samples if s.split != "test_id"]
    write_dataset(work / "no-test-id", "toy-no-test-id", records, toy_dataset.lexicon)
    proc = bench("train", "--out", "no-id-run", "--dataset", "no-test-id", *SHORT, "--set", "steps=1", cwd=work)
    assert "note: toy-no-test-id has no test_id images; validation skips test_id" in proc.stdout
    assert "trained model in no-id-run/final" in proc.stdout
    [record] = curve_of(work / "no-id-run")
    assert set(record["val"]) == {key for key, _ in METRICS} - {"test_id_acc1"}


def test_ablate_trains_and_evaluates_a_variant_on_a_dataset_smaller_than_its_batch(work, toy_dataset_path):
    """The toy set has 12 concepts, the recipe's batch 64 (x 3 instances): the batch shrinks to fit."""
    proc = bench("ablate", "--variants", "no-sem", "--steps", "10", "--out", "ablate-toy", "--protocols", "ood",
                 "--limit", "4", "--bootstrap", "10", "--results-dir", "ablate-results", "--dataset",
                 str(toy_dataset_path), "--quiet", cwd=work)
    assert "train split has 12 concepts" in proc.stdout and "batches of 36" in proc.stdout
    config = json.loads((work / "ablate-toy" / "no-sem" / "final" / "config.json").read_text())
    assert config["extra"]["train_config"]["batch_size"] == 36 and config["extra"]["train_config"]["lam"] == 0
    assert [r["step"] for r in curve_of(work / "ablate-toy" / "no-sem")] == [10]
    [result] = (work / "ablate-results").rglob("*ood*.json")
    data = json.loads(result.read_text())
    assert data["method"]["name"] == "ours-ablate:no-sem" and data["method"]["group"] == "ablation"


def test_set_without_a_value_is_one_error_line(work):
    line = one_error_line(bench("train", "--out", "x", "--set", "steps", cwd=work, check=False))
    assert "--set 'steps': expected KEY=VALUE" in line
    assert not (work / "x").exists()


@pytest.mark.parametrize("args, named", [
    (("--set", "stepz=3"), "--set stepz: unknown training option 'stepz' (did you mean 'steps'?)"),
    (("--config", "nowhere.json"), "--config nowhere.json: no such file"),
    (("--set", "steps=abc"), '--set steps: expected an integer, got "abc"'),
    (("--set", "distill_over=x"), "--set distill_over 'x': choose from language, lexicon"),
    # Valid options, but more concepts per batch than the toy set's 12.
    (("--set", "batch_size=48"), "batch_size 48: a batch holds batch_size / instances = 16 distinct concepts, "
                                 "the training data has 12; lower it: --set batch_size=36"),
], ids=["unknown key", "missing config file", "not an integer", "not a choice", "batch larger than the data"])
def test_bad_training_options_are_one_error_line(work, toy_dataset_path, args, named):
    (work / "not-json.json").write_text("{steps: 3}")
    (work / "a-list.json").write_text("[1, 2]")
    (work / "typo.json").write_text('{"steps": 3, "lrr": 0.1}')
    proc = bench("train", "--out", "x", "--dataset", str(toy_dataset_path), "--quiet", *args, cwd=work, check=False)
    assert named in one_error_line(proc)
    assert not (work / "x").exists()


def test_ablate_with_an_unknown_variant_is_one_error_line(work):
    line = one_error_line(bench("ablate", "--variants", "no-sem,no-such", "--out", "ablate", cwd=work, check=False))
    assert "unknown variant 'no-such'" in line and "levels-1" in line   # the known ones are listed
    assert not (work / "ablate").exists()


# -- bench curves -----------------------------------------------------------------------------

def test_curves_plots_training_runs(work, trained):
    from PIL import Image

    proc = bench("curves", str(trained), str(trained / "curve.jsonl"), "--out", "plots/curves.png",
                 "--x", "images_seen", cwd=work)
    assert "wrote plots/curves.png" in proc.stdout
    with Image.open(work / "plots" / "curves.png") as im:
        assert im.format == "PNG" and im.size == (int(4.2 * len(METRICS) * 110), int(3.6 * 110))
    bad = bench("curves", str(trained), "--x", "minutes", "--out", "plots/bad.png", cwd=work, check=False)
    assert "minutes" in one_error_line(bad) and not (work / "plots" / "bad.png").exists()


def test_curves_of_a_folder_without_a_curve_is_one_error_line(work):
    (work / "empty-run").mkdir(exist_ok=True)
    assert "empty-run/curve.jsonl: no such file" in one_error_line(
        bench("curves", "empty-run", "--out", "c.png", cwd=work, check=False))
    (work / "bad-run").mkdir(exist_ok=True)
    (work / "bad-run" / "curve.jsonl").write_text('{"step": 1, "images_seen": 24, "seconds": 0.1, "val": {}}\n{oops\n')
    assert "bad-run/curve.jsonl: line 2: not JSON" in one_error_line(
        bench("curves", "bad-run", "--out", "c.png", cwd=work, check=False))
    assert not (work / "c.png").exists()


# -- bench quantize ---------------------------------------------------------------------------

def test_quantize_writes_the_int8_backbone_the_head_reads(quantised, trained, toy_dataset):
    config = json.loads((trained / "final" / "config.json").read_text())
    record = json.loads((quantised / "quantization.json").read_text())
    assert record["source"] == "ppocrv6-posteriors" and record["source_sha256"] == PPOCR_V6.digest()
    assert record["alphabet"] == config["alphabet"]
    assert record["calibration_fingerprint"] == toy_dataset.fingerprint
    method = create("ours-int8", {"int8_dir": str(quantised), "checkpoint": str(trained / "final")})
    assert method.availability().ok
    # The int8 graph reads the images as the fp32 one does: the same best class on most frames.
    import onnx

    images = [it.image for it in toy_dataset.image_items([s.key for s in toy_dataset.select(split="test_ood")[::9]])]
    fp32 = PPOCRFeatures(source=PPOCR_V6, alphabet=config["alphabet"], threads=1)(images)
    int8 = PPOCRFeatures(model=onnx.load(str(quantised / "backbone-int8.onnx")), source=PPOCR_V6,
                         alphabet=config["alphabet"], threads=1)(images)
    assert int8.shape == fp32.shape and not np.array_equal(int8, fp32)
    assert (int8.argmax(-1) == fp32.argmax(-1)).mean() > 0.9
    assert method.embed_images(toy_dataset.image_items([s.key for s in toy_dataset.select(split="test_ood")[:2]])
                               ).shape == (2, 128)


def test_quantize_with_no_checkpoint_there_is_one_error_line(work):
    line = one_error_line(bench("quantize", "--out", "q", "--checkpoint", "nowhere", cwd=work, check=False))
    assert "nowhere/config.json: not a readable checkpoint config" in line
    assert not (work / "q").exists()


def test_an_int8_graph_for_another_alphabet_is_unavailable_for_the_shipped_head(quantised):
    avail = create("ours-int8", {"int8_dir": str(quantised)}).availability()
    assert not avail.ok and "quantised for another alphabet" in avail.reason
    assert avail.fix.startswith(f"bench quantize --out {quantised} --checkpoint ")


# -- the PP-OCRv6 posterior inputs ------------------------------------------------------------

def test_ppocrv6_posteriors_read_the_toy_words(toy_dataset):
    """Per frame, a distribution over blank, space and the lexicon's (case-folded) characters; its
    greedy CTC reading is the word; an image's inputs do not depend on its batch-mates."""
    alphabet = lexicon_alphabet([e.text for e in toy_dataset.lexicon])
    features = PPOCRFeatures(source=PPOCR_V6, alphabet=alphabet, threads=1)
    samples = toy_dataset.select(split="test_ood")[::4]
    images = [toy_dataset.image_item(s.key).image for s in samples]
    x = features(images)
    assert x.shape == (len(samples), 40, len(alphabet) + 2) and x.dtype == np.float32
    assert np.allclose(posteriors_of(x).sum(-1), 1.0, atol=1e-4)
    charset = group_charset(alphabet)
    read = []
    for frames in x.argmax(-1):
        kept = [c for i, c in enumerate(frames) if c and (i == 0 or c != frames[i - 1])]
        read.append("".join(charset[c] for c in kept))
    right = [r == s.text.lower() for r, s in zip(read, samples)]
    assert np.mean(right) >= 0.8, list(zip(read, [s.text for s in samples]))
    alone = features(images[:3], batch_size=1)
    assert np.allclose(alone, x[:3], atol=1e-5)
    # Without the alphabet its groups are unknown.
    with pytest.raises(ValueError, match="needs the alphabet"):
        PPOCRFeatures(source=PPOCR_V6)


def test_cached_features_reads_each_image_once(tmp_path, toy_dataset):
    samples = toy_dataset.select(split="test_id")[:7]
    calls, progress = [], []

    def extract(images):
        calls.append(len(images))
        return np.stack([np.full((40, 3), np.asarray(im, dtype=np.float32).mean()) for im in images])

    def load(samples):
        return lambda i: toy_dataset.image_item(samples[i].key).image

    hashes = [s.content_hash for s in samples]
    first = cached_features(extract, "test", tmp_path, hashes, load(samples), chunk=3, progress=progress.append)
    assert first.shape == (7, 40, 3) and calls == [3, 3, 1] and progress == [3, 3, 1]
    assert np.allclose(first[:, 0, 0], [np.asarray(toy_dataset.image_item(s.key).image).mean() for s in samples])
    # Again, reordered and with one image more: only the new image is read.
    more = samples[::-1] + toy_dataset.select(split="test_id")[7:8]
    again = cached_features(extract, "test", tmp_path, [s.content_hash for s in more], load(more), chunk=3)
    assert calls == [3, 3, 1, 1]
    assert np.array_equal(again[:7], first[::-1])
    # All cached: the (40, C) frames come back from the cache alone.
    assert np.array_equal(cached_features(extract, "test", tmp_path, hashes, load(samples)), first)
    assert calls == [3, 3, 1, 1]
    # Another namespace, or no cache folder: read anew.
    cached_features(extract, "other", tmp_path, hashes[:2], load(samples))
    cached_features(extract, "test", None, hashes[:2], load(samples))
    assert calls == [3, 3, 1, 1, 2, 2]


def test_cached_features_of_no_images_is_empty(tmp_path):
    out = cached_features(lambda images: np.zeros((len(images), 40, 3)), "test", tmp_path, [], lambda i: None)
    assert out.shape == (0, 40, 3)
    # The PP-OCR extractors say their trailing shape without an image.
    assert PPOCRFeatures(source=PPOCR_V6, alphabet="abc", threads=1)([]).shape == (0, 40, 5)

