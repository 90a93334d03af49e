import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench.core.errors import HwrBenchError
from ourmodel.images import image_batch
from ourmodel.inference import NumpyDualEncoder
from ourmodel.losses import infonce, semantic_consistency, supervised_contrastive, total_loss
from ourmodel.mobilenetv3 import MobileNetV3Small
from ourmodel.model import DualEncoder, ModelConfig
from ourmodel.training_run import load_train_config, run_training
from ourmodel.sampler import BalancedBatchSampler
from ourmodel.towers import MobileNetTower
from ourmodel.train import TrainConfig, TrainingData, train


# The paper's tower reads pixels, not posteriors: the recipe's character-reading options off.
MNV3 = {"backbone": "mnv3", "pyramid_levels": [], "spelled_i2t": 0.0, "char_dropout": 0.0, "distill": 0.0}


def _unit(rng, n, d=8):
    x = rng.standard_normal((n, d))
    return torch.tensor(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=torch.float64)


def _brute_infonce(img, txt, ids, scale):
    n, total = len(ids), 0.0
    for direction in ((img, txt), (txt, img)):
        q, k = direction
        for i in range(n):
            logits = [scale * float(q[i] @ k[j]) for j in range(n) if j == i or ids[j] != ids[i]]
            pos = scale * float(q[i] @ k[i])
            total += -(pos - math.log(sum(math.exp(l) for l in logits))) / n
    return total


def test_infonce_matches_brute_force_and_ignores_duplicate_ids():
    rng = np.random.default_rng(0)
    img, txt = _unit(rng, 6), _unit(rng, 6)
    ids = torch.tensor([0, 1, 1, 2, 3, 3])
    scale = torch.tensor(math.log(10.0), dtype=torch.float64)
    got = float(infonce(img, txt, ids, scale))
    assert got == pytest.approx(_brute_infonce(img, txt, ids.tolist(), 10.0), rel=1e-9)
    # With all ids distinct, the duplicate mask changes nothing.
    distinct = torch.arange(6)
    assert float(infonce(img, txt, distinct, scale)) == pytest.approx(_brute_infonce(img, txt, list(range(6)), 10.0))


def test_semantic_consistency_brute_force():
    rng = np.random.default_rng(1)
    z = _unit(rng, 7)
    ids = [0, 0, 1, 1, 1, 2, 3]
    pairs = [(i, j) for i in range(7) for j in range(7) if i != j and ids[i] == ids[j]]
    expected = 1 - sum(float(z[i] @ z[j]) for i, j in pairs) / (len(pairs) + 1e-6)
    assert float(semantic_consistency(z, torch.tensor(ids))) == pytest.approx(expected, rel=1e-9)
    # Identical embeddings within each class: the term reaches 0.
    same = torch.cat([z[:1]] * 2 + [z[2:3]] * 3 + [z[5:6], z[6:7]])
    assert float(semantic_consistency(same, torch.tensor(ids))) == pytest.approx(0.0, abs=1e-5)


def test_supervised_contrastive_brute_force():
    rng = np.random.default_rng(2)
    z, ids = _unit(rng, 5), [0, 0, 1, 1, 2]
    total, anchors = 0.0, 0
    for i in range(5):
        pos = [j for j in range(5) if j != i and ids[j] == ids[i]]
        if not pos:
            continue
        denom = sum(math.exp(float(z[i] @ z[j]) / 0.1) for j in range(5) if j != i)
        total += -sum(float(z[i] @ z[p]) / 0.1 - math.log(denom) for p in pos) / len(pos)
        anchors += 1
    assert float(supervised_contrastive(z, torch.tensor(ids), 0.1)) == pytest.approx(total / anchors, rel=1e-9)


def test_total_loss_switches():
    rng = np.random.default_rng(3)
    img, txt, ids = _unit(rng, 4), _unit(rng, 4), torch.arange(4)
    scale = torch.tensor(2.0, dtype=torch.float64)
    full = total_loss(img, txt, ids, scale, lam=0.5)
    assert set(full) == {"con", "sem", "total"}
    assert float(full["total"]) == pytest.approx(float(full["con"] + full["sem"]))
    only_i2t = total_loss(img, txt, ids, scale, sem="off", t2i=False)
    assert "sem" not in only_i2t and float(only_i2t["total"]) < float(full["con"])


def test_sampler_is_balanced_and_deterministic():
    ids = [i // 6 for i in range(60)]                      # 10 ids, 6 samples each
    langs = ["en", "zh", "es"] * 20
    s = BalancedBatchSampler(ids, langs, batch_size=9, instances=3, seed=4)
    batches = list(s.epoch(0))
    assert len(batches) == 3 and batches == list(BalancedBatchSampler(ids, langs, 9, 3, 4).epoch(0))
    for b in batches:
        bid = [ids[i] for i in b]
        assert len(set(bid)) == 3 and all(bid.count(x) == 3 for x in set(bid))
        for x in set(bid):  # each id's three instances cover the three languages
            assert sorted(langs[i] for i in b if ids[i] == x) == ["en", "es", "zh"]
    seen = [ids[i] for b in batches for i in b]
    assert len(set(seen)) == 9  # an epoch draws distinct ids until they run out
    assert list(s.epoch(1)) != batches


def test_frozen_anchor_gets_no_gradient_and_projector_keeps_alignment():
    model = DualEncoder(ModelConfig(feature_dim=16))
    anchors = torch.randn(12, 512)
    model.text.init_from_anchors(anchors.numpy())
    before = torch.nn.functional.normalize(anchors, dim=-1)
    z = model.encode_texts(anchors)
    z.sum().backward()
    assert anchors.grad is None and not anchors.requires_grad
    assert model.text.linear.weight.grad is not None
    # At initialisation the projection is a PCA basis, so nearest neighbours are mostly kept.
    nn_before = (before @ before.T).fill_diagonal_(-2).argmax(1)
    nn_after = (z @ z.T).detach().fill_diagonal_(-2).argmax(1)
    assert (nn_before == nn_after).float().mean() > 0.5


@pytest.mark.parametrize("input_proj, spelling_dim", [(0, 0), (16, 32)])
def test_numpy_inference_equals_torch(tmp_path, input_proj, spelling_dim):
    model = DualEncoder(ModelConfig(feature_dim=24, input_proj=input_proj, spelling_dim=spelling_dim))
    for p in model.parameters():
        torch.nn.init.normal_(p, 0, 0.1)
    model.eval()
    model.save(tmp_path)
    fast = NumpyDualEncoder(tmp_path)
    x = np.random.randn(3, 40, 24).astype(np.float32)
    a = np.random.randn(5, 512 + spelling_dim).astype(np.float32)
    with torch.no_grad():
        assert np.allclose(model.encode_images(torch.from_numpy(x)).numpy(), fast.encode_features(x), atol=1e-5)
        assert np.allclose(model.encode_texts(torch.from_numpy(a)).numpy(), fast.encode_anchors(a), atol=1e-5)
    reloaded = DualEncoder.load(tmp_path)
    assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), reloaded.state_dict().values()))


def test_mobilenet_tower_shapes_and_size():
    tower = MobileNetTower()
    out = tower(torch.rand(2, 1, 32, 192))
    assert out.shape == (2, 128) and torch.allclose(out.norm(dim=-1), torch.ones(2))
    n = sum(p.numel() for p in tower.parameters())
    assert 1.2e6 < n < 1.4e6  # the paper's 1.29M
    fmap = MobileNetV3Small()(torch.rand(1, 1, 32, 192))
    assert fmap.shape[1] == 576 and fmap.shape[3] == 192 // 8  # text strides keep width


def test_short_training_run_lowers_the_loss(tmp_path, toy_dataset):
    """A short run of the real training loop (MobileNetV3 tower on raw toy images). Its speed is
    benchmarks/encoder.py's business, not this test's."""
    data = TrainingData(toy_dataset, lambda samples: image_batch(
        [toy_dataset.image_item(s.key).image for s in samples], 32, 128), cache_root=None)
    config = TrainConfig(**MNV3, steps=30, batch_size=24, instances=3, lr=3e-3, val_every=15,
                         checkpoint_every=15, feature_noise=0.0, threads=2)
    losses = []
    train(data, lambda m: {}, tmp_path / "run", config, ModelConfig(backbone="mnv3"), log=lambda line: losses.append(line))
    curve = [json.loads(l) for l in (tmp_path / "run" / "curve.jsonl").read_text().splitlines()]
    assert [c["step"] for c in curve] == [15, 30]
    assert curve[-1]["loss"]["total"] < curve[0]["loss"]["total"]
    assert (tmp_path / "run" / "last" / "model.safetensors").is_file()


def test_run_training_mnv3_end_to_end_and_resume(tmp_path, toy_dataset):
    cfg = load_train_config(None, {**MNV3, "steps": 4, "batch_size": 24, "val_every": 2,
                                   "checkpoint_every": 2, "val_queries": 5, "threads": 2})
    run_training(toy_dataset, tmp_path / "run", cfg, None, log=lambda line: None)
    final = DualEncoder.load(tmp_path / "run" / "final")
    assert final.config.backbone == "mnv3" and final.config.extra["train_images"] == len(toy_dataset.select(split="train"))
    curve = [json.loads(l) for l in (tmp_path / "run" / "curve.jsonl").read_text().splitlines()]
    assert [c["step"] for c in curve] == [2, 4] and "test_ood_acc1" in curve[-1]["val"]
    # Re-running a finished run resumes at its last step and trains nothing more.
    lines = []
    run_training(toy_dataset, tmp_path / "run", cfg, None, log=lines.append)
    assert any("resuming at step 4" in l for l in lines)
    # A different config in the same folder is refused rather than mixed in (one line naming what differs).
    with pytest.raises(HwrBenchError, match=r"different config is there; .*\(lr 0.002 there, 1.0 here\)$"):
        run_training(toy_dataset, tmp_path / "run", load_train_config(None, {**cfg.__dict__, "lr": 1.0}), None)


def test_a_stopped_run_writes_no_final_until_it_is_resumed_to_its_end(tmp_path, toy_dataset):
    cfg = {**MNV3, "steps": 2, "batch_size": 24, "val_every": 1, "checkpoint_every": 1,
           "val_queries": 2, "threads": 2}
    lines = []
    model = run_training(toy_dataset, tmp_path / "run", load_train_config(None, {**cfg, "max_seconds": 0}), None,
                         log=lines.append)
    assert not model.finished and not (tmp_path / "run" / "final").exists()
    assert any("stopped after 0s at step 1; run again to resume" in l for l in lines)
    model = run_training(toy_dataset, tmp_path / "run", load_train_config(None, cfg), None, log=lines.append)
    assert model.finished and (tmp_path / "run" / "final" / "model.safetensors").is_file()


def _feature_data(toy_dataset, dim: int = 8) -> TrainingData:
    """Toy training data with made-up per-frame features (a fixed function of each image's content)."""
    def inputs_for(samples):
        return np.stack([np.random.default_rng(int(s.content_hash[:12], 16)).standard_normal((40, dim))
                         .astype(np.float32) for s in samples])
    return TrainingData(toy_dataset, inputs_for, cache_root=None)


def test_an_interrupted_and_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, toy_dataset):
    """Dropout, feature noise and frame stretching draw from torch's generator; the training state
    keeps its (and numpy's and Python's) state, so stopping and resuming changes nothing."""
    from ourmodel.train import load_train_state

    data = _feature_data(toy_dataset)
    model_config = ModelConfig(feature_dim=8, input_proj=16)
    base = dict(steps=4, batch_size=12, instances=3, val_every=100, checkpoint_every=100, threads=1,
                feature_noise=0.1, time_stretch=0.2, seed=3, pyramid_levels=[], spelled_i2t=0.0, char_dropout=0.0, distill=0.0)
    quiet = dict(log=lambda line: None)

    def weights(folder):
        return DualEncoder.load(folder).state_dict()

    def same(a, b):
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    straight = train(data, lambda m: {}, tmp_path / "straight", TrainConfig(**base), model_config, **quiet)
    assert straight.finished
    # Stopped after step 1 and again after step 2 (max_seconds=0 stops after every step), then finished.
    for expected in (1, 2):
        parts = train(data, lambda m: {}, tmp_path / "parts", TrainConfig(**base, max_seconds=0), model_config,
                      **quiet)
        assert not parts.finished
        assert load_train_state(tmp_path / "parts" / "last" / "train_state.pt")["step"] == expected
    state = load_train_state(tmp_path / "parts" / "last" / "train_state.pt")   # weights_only=True loads the RNG state
    assert set(state["rng"]) == {"torch", "numpy", "python"}
    import shutil
    shutil.copytree(tmp_path / "parts", tmp_path / "no-rng")
    parts = train(data, lambda m: {}, tmp_path / "parts", TrainConfig(**base), model_config, **quiet)
    assert parts.finished
    assert same(weights(tmp_path / "straight" / "last"), weights(tmp_path / "parts" / "last"))
    # Without the generators' state the resumed run draws other noise, and ends elsewhere.
    del state["rng"]
    torch.save(state, tmp_path / "no-rng" / "last" / "train_state.pt")
    lines = []
    train(data, lambda m: {}, tmp_path / "no-rng", TrainConfig(**base), model_config, log=lines.append)
    assert any("no random number generators' state" in line for line in lines)
    assert not same(weights(tmp_path / "straight" / "last"), weights(tmp_path / "no-rng" / "last"))


@pytest.mark.parametrize("path_text, overrides, message", [
    (None, {"stepz": 3}, "--set stepz: unknown training option 'stepz' (did you mean 'steps'?)"),
    ('{"steps": 3, "lrr": 0.1}', {}, "CONFIG: unknown training option 'lrr' (did you mean 'lr'?)"),
    ("{steps: 3}", {}, "CONFIG: not valid JSON"),
    ("[1, 2]", {}, "CONFIG: expected a JSON object of training options"),
    ('{"steps": "3"}', {}, 'CONFIG: steps: expected an integer, got "3"'),
    (None, {"steps": "abc"}, '--set steps: expected an integer, got "abc"'),
    (None, {"steps": True}, "--set steps: expected an integer, got true"),
    (None, {"lr": True}, "--set lr: expected a number, got true"),
    (None, {"threads": 1.5}, "--set threads: expected an integer or null, got 1.5"),
    (None, {"i2t": 1}, "--set i2t: expected true or false, got 1"),
    (None, {"extra": [1]}, "--set extra: expected a JSON object, got [1]"),
    (None, {"distill_over": "x"}, "--set distill_over 'x': choose from language, lexicon"),
    (None, {"sem": "suppcon"}, "--set sem 'suppcon': choose from paper, supcon, off (did you mean 'supcon'?)"),
    (None, {"batch_size": 100}, "--set batch_size 100: must be a multiple of instances (3)"),
    (None, {"steps": 0}, "--set steps 0: must be at least 1"),
    (None, {"max_seconds": -1}, "--set max_seconds -1: must be at least 0"),
    (None, {"backbone": "ppocr6"}, "--set backbone: unknown backbone 'ppocr6' (did you mean 'ppocrv6'?)"),
    (None, {"pyramid_levels": [1, 0]}, "--set pyramid_levels [1, 0]: a list of positive integers"),
    (None, {"position_warp": 1.0}, "--set position_warp 1.0: must be in [0, 1)"),
    (None, {"char_dropout": -0.1}, "--set char_dropout -0.1: must be in [0, 1)"),
    (None, {"pyramid_levels": [], "distill": 0.0, "char_dropout": 0.0},
     "spelled_i2t 1.0: needs the pyramid head, and pyramid_levels is empty; set spelled_i2t=0 too"),
    (None, {"pyramid_levels": [], "spelled_i2t": 0.0}, "char_dropout 0.15: must be in [0, 1), and needs the pyramid head (pyramid_levels not empty; without it set char_dropout=0)"),
    (None, {"backbone": "mnv3"}, "--set backbone: backbone 'mnv3' gives no posteriors, which pyramid_levels, "
     "spelled_i2t, char_dropout, distill need (the recipe's defaults read them); to train it add --set pyramid_levels=[] "
     "--set spelled_i2t=0.0 --set char_dropout=0.0 --set distill=0.0"),
])
def test_a_bad_training_option_is_one_line_naming_it(tmp_path, path_text, overrides, message):
    path = None
    if path_text is not None:
        path = tmp_path / "train.json"
        path.write_text(path_text)
    with pytest.raises(HwrBenchError) as caught:
        load_train_config(path, overrides)
    text = str(caught.value)
    assert message.replace("CONFIG", f"--config {path}") in text and "\n" not in text


def test_good_training_options_keep_their_values():
    cfg = load_train_config(None, {"lr": 1, "threads": None, "max_seconds": 2.5, "sem": "supcon", "extra": {"a": 1}})
    assert cfg.lr == 1 and cfg.threads is None and cfg.max_seconds == 2.5 and cfg.sem == "supcon"
    assert load_train_config(None, {}) == TrainConfig()
    with pytest.raises(HwrBenchError, match="--config nowhere.json: no such file"):
        load_train_config("nowhere.json", {})
