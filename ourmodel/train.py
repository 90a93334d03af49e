"""Training the dual encoder on a dataset's train split (resumable, with learning curves).

Learning signals, each switchable (paper Table 5 and our additions):
* ``i2t`` / ``t2i``: the two halves of the symmetric in-batch InfoNCE;
* ``sem`` / ``lam``: the semantic-consistency term over all image and text
  embeddings of the batch, including each pair's synonyms in the other
  languages ("paper", "supcon" or "off");
* ``lexicon_i2t``: image -> text cross-entropy against the *whole* lexicon's
  projected anchors, all languages, every form of the right concept a positive
  (the paper's N-way proxy at full N);
* two stages: the learning rate drops by 10x for the last ``stage2_fraction``
  of the steps (the paper: 1e-4 then 1e-5).

The frozen backbone's features are computed once per image and cached; the
text anchors once per lexicon entry. Validation (Acc@1 on fixed subsets of
test_id and test_ood, and text->text cross-lingual Acc@1 of the projected
anchors) is written to ``curve.jsonl`` for the learning curves only; the
schedule is fixed in advance, nothing is selected on it.
"""

from __future__ import annotations

import json
import random
import re
import time
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.api import NULL_TRACKER, Dataset, DatasetError, HwrBenchError, Tracker, did_you_mean
from ourmodel.anchors import text_inputs
from ourmodel.losses import total_loss
from ourmodel.model import DualEncoder, ModelConfig
from ourmodel.pyramid import Pyramid
from ourmodel.sampler import BalancedBatchSampler


DISTILL_OVER = ("language", "lexicon")   # TrainConfig.distill_over's choices
SEM = ("paper", "supcon", "off")          # TrainConfig.sem's choices
# Options a stopped run may be resumed with a different value of: they change when training
# stops, not what it computes.
RESUMABLE_CHANGES = ("max_seconds",)


class TrainConfigError(HwrBenchError, ValueError):
    """A training option that cannot be used (wrong type, out of range, not a choice), or a run
    folder that holds another config; ``option`` names the option at fault where there is one."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


@dataclass
class TrainConfig:
    """Training options. The defaults are the shipped ``ours`` recipe (generation 3, run G3f in
    ourmodel/runs/), so ``bench train --out DIR`` reproduces it and ``bench ablate``
    switches signals off from it."""
    backbone: str = "ppocrv6"         # ppocr (PP-OCRv4 features), ppocrv6 (PP-OCRv6 posteriors), *-int8, mnv3
    input_proj: int = 0               # the conv head's per-frame linear map before its convs (0: none; gen. 2: 128)
    spelling_dim: int = 0             # the text tower also reads the word's spelling vector (0: no; gen. 2: 256)
    pyramid_levels: list = field(default_factory=lambda: [1, 2, 3, 4])  # generation 3: both towers read
                                      # pyramids of character presence of these levels (ourmodel/pyramid.py;
                                      # []: generation 2's conv head over the frames)
    char_dim: int = 128               # generation 3: the shared character embedding's width
    spelled_i2t: float = 1.0          # generation 3: weight of the full-lexicon term with every lexicon word's
                                      # exact pyramid read as an image (0: off)
    steps: int = 1000
    batch_size: int = 192
    instances: int = 3
    lr: float = 2e-3
    text_lr_scale: float = 1.0
    weight_decay: float = 1e-4
    stage2_fraction: float = 0.3
    lam: float = 1.0
    sem: str = "paper"
    i2t: bool = True
    t2i: bool = True
    lexicon_i2t: float = 1.0          # weight of the full-lexicon image->text term (0: off)
    feature_noise: float = 0.0        # Gaussian noise on frozen features, relative to their std
    distill: float = 1.0              # weight of the CTC lexicon teacher term (ourmodel/distill.py; 0: off)
    distill_tau: float = 8.0          # the teacher's temperature on its log-likelihoods (nats)
    distill_k: int = 64               # the teacher's words per image (its language's best)
    distill_over: str = "language"    # the student's softmax: "language" (the image's language's words)
                                      # or "lexicon" (every word; a concept's forms add up)
    posterior_temperature: float = 1.0  # posterior inputs flattened at T ~ U[1, this] per image (1: off)
    time_stretch: float = 0.0         # frames resampled by a factor ~ U[1 - this, 1 + this] per image (0: off)
    position_warp: float = 0.0        # generation 3: frame positions bent by a ~ U[-this, this] per image
                                      # (``PyramidTower.presence``; 0: off, below 1)
    char_dropout: float = 0.15        # generation 3: each character's presence zeroed in every region of an
                                      # image with this probability (a missed character; 0: off)
    val_every: int = 250
    val_queries: int = 300            # per language and split
    checkpoint_every: int = 250
    seed: int = 0
    threads: int | None = None
    max_seconds: float | None = None  # stop (resumably) after this long
    init_from: str | None = None      # start from this checkpoint's weights (fine-tuning)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        hints = typing.get_type_hints(TrainConfig)
        for f in fields(self):
            check_option_type(f.name, getattr(self, f.name), hints[f.name])
        for name, choices in (("distill_over", DISTILL_OVER), ("sem", SEM)):
            value = getattr(self, name)
            if value not in choices:
                raise TrainConfigError(f"{name} {value!r}: choose from {', '.join(choices)}"
                                       f"{did_you_mean(value, choices)}", name)
        for name in ("steps", "batch_size", "instances", "val_every", "val_queries", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise TrainConfigError(f"{name} {getattr(self, name)!r}: must be at least 1", name)
        if self.threads is not None and self.threads < 1:
            raise TrainConfigError(f"threads {self.threads!r}: must be at least 1 (or null: all cores)", "threads")
        if self.max_seconds is not None and self.max_seconds < 0:
            raise TrainConfigError(f"max_seconds {self.max_seconds!r}: must be at least 0 (or null: no limit)",
                                   "max_seconds")
        if any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in self.pyramid_levels):
            raise TrainConfigError(f"pyramid_levels {self.pyramid_levels!r}: a list of positive integers, e.g. "
                                   "[1, 2, 3, 4]", "pyramid_levels")
        for name in ("position_warp", "char_dropout"):
            value = getattr(self, name)
            if not 0 <= value < 1 or (value and not self.pyramid_levels):
                raise TrainConfigError(f"{name} {value!r}: must be in [0, 1), and needs the pyramid head "
                                       f"(pyramid_levels not empty; without it set {name}=0)", name)
        if self.spelled_i2t and not self.pyramid_levels:
            raise TrainConfigError(f"spelled_i2t {self.spelled_i2t!r}: needs the pyramid head, and pyramid_levels is "
                                   "empty; set spelled_i2t=0 too", "spelled_i2t")
        if self.batch_size % self.instances:
            raise TrainConfigError(f"batch_size {self.batch_size}: must be a multiple of instances "
                                   f"({self.instances})", "batch_size")


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a JSON object",
          list: "a JSON list"}


def check_option_type(name: str, value, hint) -> None:
    """``value`` is of the option's declared type (``int | None`` and the like; an int is a float);
    otherwise a ``TrainConfigError`` naming the option. Training configs' one type check (this
    module's ``TrainConfig``, ``ourmodel.paper.recipe.PaperRecipe``)."""
    allowed = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for kind in allowed:
        if kind is type(None) and value is None:
            return
        if kind is bool and isinstance(value, bool):
            return
        if kind is int and isinstance(value, int) and not isinstance(value, bool):
            return
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return
        if kind in (str, dict, list) and isinstance(value, kind):
            return
    wanted = " or ".join("null" if k is type(None) else _KINDS.get(k, getattr(k, "__name__", str(k)))
                         for k in allowed)
    raise TrainConfigError(f"{name}: expected {wanted}, got {json.dumps(value, default=repr)}", name)


class TrainingData:
    """Everything a step needs, in memory: inputs, ids, languages, and the lexicon's anchors."""

    def __init__(self, ds: Dataset, inputs_for, cache_root: Path | None, split: str = "train",
                 extra: list[tuple[Dataset, object]] = (), spelling_dim: int = 0, pyramid: Pyramid | None = None):
        """``extra``: more (dataset, inputs_for) pairs whose ``split`` joins the training data,
        e.g. another seed's renders of the same words in in-domain styles."""
        parts = [(ds, inputs_for)] + list(extra)
        for other, _ in parts[1:]:
            if {(e.semantic_id, e.lang, e.text) for e in other.lexicon} != {(e.semantic_id, e.lang, e.text) for e in ds.lexicon}:
                raise DatasetError(other.root, f"lexicon differs from {ds.root}'s; an extra training set must "
                                   "share the dataset's lexicon")
        self.samples = [s for d, _ in parts for s in d.select(split=split)]
        self.inputs = np.concatenate([fn(d.select(split=split)) for d, fn in parts])
        self.ids = np.array([s.semantic_id for s in self.samples])
        self.langs = [s.lang for s in self.samples]
        self.lexicon = sorted(ds.lexicon, key=lambda e: (e.semantic_id, e.lang))
        self.anchors = text_inputs([e.text for e in self.lexicon], [e.lang for e in self.lexicon], cache_root,
                                   spelling_dim, pyramid)
        self.lex_row = {(e.semantic_id, e.lang): i for i, e in enumerate(self.lexicon)}
        self.lex_ids = np.array([e.semantic_id for e in self.lexicon])
        self.fingerprints = [d.fingerprint for d, _ in parts]
        self.lex_langs = np.array([e.lang for e in self.lexicon])
        self.teacher: tuple[np.ndarray, np.ndarray] | None = None   # (rows, log-likelihoods), see attach_teacher

    def attach_teacher(self, alphabet: str, k: int, cache_root: Path | None, inputs_key: str, log=print) -> None:
        """The CTC lexicon teacher's top-``k`` words per training image (computed once, cached
        by ``inputs_key``, what made the inputs, and the training data's fingerprints)."""
        from ourmodel.distill import cached_teacher

        rows = {lang: np.flatnonzero(self.lex_langs == lang) for lang in sorted(set(self.lex_langs))}
        texts = {lang: [self.lexicon[r].text for r in rs] for lang, rs in rows.items()}
        self.teacher = cached_teacher(self.inputs, self.langs, texts, rows, alphabet, k, cache_root,
                                      key=f"{inputs_key}:{','.join(self.fingerprints)}", log=log)


def _rows(data: TrainingData, idx) -> np.ndarray:
    return np.array([data.lex_row[(int(data.ids[i]), data.langs[i])] for i in idx])


def train(data: TrainingData, val, out: Path, config: TrainConfig, model_config: ModelConfig, *,
          tracker: Tracker = NULL_TRACKER, log=print) -> DualEncoder:
    """Train (or resume) into ``out``; ``val(model) -> dict`` computes validation metrics.

    A run stopped by ``max_seconds`` (or interrupted) resumes from ``out/last`` (weights, optimiser,
    step and random number generators' states) and ends with the weights an uninterrupted run
    ends with. The returned model's ``finished`` is False when ``max_seconds`` stopped it early."""
    out = Path(out)
    sampler = batch_sampler(data, config)      # refused before anything is written
    if config.spelled_i2t and not model_config.pyramid_levels:
        raise TrainConfigError("spelled_i2t: the model has no pyramid head to read words with (ModelConfig."
                               "pyramid_levels is empty); set spelled_i2t=0", "spelled_i2t")
    state_file = out / "last" / "train_state.pt"
    state = load_train_state(state_file) if state_file.exists() else None
    if state is not None:
        check_same_config(out, state["config"], config)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = DualEncoder(model_config)
    if config.init_from:
        model.load_state_dict(DualEncoder.load(Path(config.init_from)).state_dict())
    else:
        model.text.init_from_anchors(data.anchors[:, :model_config.anchor_width])
    optim = torch.optim.AdamW([
        {"params": list(model.visual.parameters()) + [model.logit_scale], "lr": config.lr},
        {"params": model.text.parameters(), "lr": config.lr * config.text_lr_scale},
    ], weight_decay=config.weight_decay)
    step, elapsed = 0, 0.0
    if state is not None:
        model.load_state_dict(DualEncoder.load(out / "last").state_dict())
        optim.load_state_dict(state["optim"])
        step, elapsed = state["step"], state["elapsed"]
        if "rng" in state:
            _set_rng_state(state["rng"], state_file)
        else:
            log(f"note: {state_file} has no random number generators' state (written by an older version); "
                "the resumed run's random draws differ from an uninterrupted run's")
        log(f"resuming at step {step} ({elapsed:.0f}s trained)")
    (out / "train_config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")

    anchors = torch.from_numpy(data.anchors)
    lex_ids = torch.from_numpy(data.lex_ids)
    inputs = torch.from_numpy(np.ascontiguousarray(data.inputs))
    feat_std = float(inputs[: min(len(inputs), 2048)].std()) if inputs.is_floating_point() else 1.0
    stage2_at = int(config.steps * (1 - config.stage2_fraction))
    curve = out / "curve.jsonl"
    started = time.perf_counter() - elapsed
    batches = sampler.batches_from(step)
    done = step
    for step in tracker.track(range(step, config.steps), config.steps - step, "training"):
        stage_scale = 0.1 if step >= stage2_at else 1.0
        for g, base in zip(optim.param_groups, (config.lr, config.lr * config.text_lr_scale)):
            g["lr"] = base * stage_scale
        idx = next(batches)
        model.train()
        x = inputs[idx]
        if config.posterior_temperature > 1 or config.time_stretch:
            x = augment_posteriors(x, config.posterior_temperature, config.time_stretch)
        if config.feature_noise and x.is_floating_point():
            x = x + torch.randn_like(x) * config.feature_noise * feat_std
        ids = torch.from_numpy(data.ids[idx])
        img = _encode_images(model, x, config.position_warp, config.char_dropout)
        all_txt = model.encode_texts(anchors)                 # the whole lexicon, every language
        txt = all_txt[torch.from_numpy(_rows(data, idx))]
        syn_idx = [i for i in idx for _ in range(2)]
        syn_langs = [l for i in idx for l in ("en", "zh", "es") if l != data.langs[i]]
        syn_rows = np.array([data.lex_row[(int(data.ids[i]), l)] for i, l in zip(syn_idx, syn_langs)])
        parts = total_loss(img, txt, ids, model.logit_scale, lam=config.lam, i2t=config.i2t, t2i=config.t2i,
                           sem=config.sem, extra_texts=all_txt[torch.from_numpy(syn_rows)],
                           extra_ids=ids.repeat_interleave(2))
        if config.lexicon_i2t or config.distill:   # both read every image against the whole lexicon
            logits = model.logit_scale.exp() * img @ all_txt.T
        if config.lexicon_i2t:
            parts["lexicon"] = config.lexicon_i2t * _lexicon_ce(logits, ids, lex_ids)
            parts["total"] = parts["total"] + parts["lexicon"]
        if config.spelled_i2t:
            parts["spelled"] = config.spelled_i2t * _spelled_loss(model, anchors, all_txt, lex_ids, len(idx))
            parts["total"] = parts["total"] + parts["spelled"]
        if config.distill:
            parts["distill"] = config.distill * _distill_loss(logits, data, idx, config.distill_tau,
                                                              config.distill_over)
            parts["total"] = parts["total"] + parts["distill"]
        optim.zero_grad()
        parts["total"].backward()
        optim.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, 4.6052)  # temperature >= 0.01, as CLIP
        done = step + 1
        timeout = config.max_seconds is not None and time.perf_counter() - started >= config.max_seconds
        if done % config.checkpoint_every == 0 or done == config.steps or timeout:
            _checkpoint(model, optim, config, out, done, time.perf_counter() - started)
        if done % config.val_every == 0 or done == config.steps or timeout:
            record = {"step": done, "seconds": round(time.perf_counter() - started, 1),
                      "images_seen": done * config.batch_size,
                      "loss": {k: round(float(v.detach()), 4) for k, v in parts.items()},
                      "temperature": round(float(1 / model.logit_scale.detach().exp()), 4)}
            model.eval()
            with torch.no_grad():
                record["val"] = val(model)
            with open(curve, "a") as fh:
                fh.write(json.dumps(record) + "\n")
            log(json.dumps(record))
        if timeout:
            break
    model.eval()
    model.finished = done >= config.steps
    if not model.finished:
        log(f"stopped after {config.max_seconds}s at step {done}; run again to resume "
            "(the same command: the same --out and options; max_seconds may differ)")
    return model


def _encode_images(model: DualEncoder, x: torch.Tensor, position_warp: float, char_dropout: float) -> torch.Tensor:
    """The image tower, with generation 3's pyramid augmentations when asked for (training only)."""
    if not position_warp and not char_dropout:
        return model.encode_images(x)
    warp = (torch.rand(len(x)) * 2 - 1) * position_warp if position_warp else None
    presence = model.visual.presence(x, warp)
    if char_dropout:
        presence = presence * (torch.rand(len(x), 1, presence.shape[-1]) >= char_dropout)
    return model.visual.from_presence(presence)


def batch_sampler(data: TrainingData, config: TrainConfig) -> BalancedBatchSampler:
    """The run's batches; a batch larger than the training data allows is one clear error."""
    try:
        return BalancedBatchSampler(data.ids, data.langs, config.batch_size, config.instances, config.seed)
    except ValueError:
        concepts = len(set(data.ids.tolist()))
        fits = concepts * config.instances
        raise TrainConfigError(
            f"batch_size {config.batch_size}: a batch holds batch_size / instances = "
            f"{config.batch_size // config.instances} distinct concepts, the training data has {concepts}"
            + (f"; lower it: --set batch_size={fits}" if fits else "; it has no training images"),
            "batch_size") from None


def _identity(config: dict) -> dict:
    """What a run folder's config must match to be resumed: every option but those in
    ``RESUMABLE_CHANGES``."""
    return {k: v for k, v in config.items() if k not in RESUMABLE_CHANGES}


def check_same_config(out: Path, there: dict, config: TrainConfig) -> None:
    """A run folder's state is resumed only with its own options (``RESUMABLE_CHANGES`` aside);
    otherwise one error line saying which options differ, and the way out."""
    if not isinstance(there, dict):
        raise TrainStateError(f"{out / 'last' / 'train_state.pt'}: its config is not a dict; delete it (or use "
                              "another --out) to train from the start")
    old, new = _identity(there), _identity(asdict(config))
    differs = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if differs:
        shown = ", ".join(f"{k} {json.dumps(old.get(k), default=repr)} there, {json.dumps(new.get(k), default=repr)} "
                          "here" for k in differs[:3]) + (f" and {len(differs) - 3} more" if len(differs) > 3 else "")
        raise TrainConfigError(f"{out}: a run with a different config is there; use another --out, or the same "
                               f"options to resume it ({shown})", differs[0])


def _lexicon_ce(logits: torch.Tensor, ids: torch.Tensor, lex_ids: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the whole lexicon, every form of the right concept a positive."""
    positive = (ids[:, None] == lex_ids[None, :]).float()
    return -(F.log_softmax(logits, 1) * positive / positive.sum(1, keepdim=True)).sum(1).mean()


def _spelled_loss(model: DualEncoder, text_inputs: torch.Tensor, all_txt: torch.Tensor, lex_ids: torch.Tensor,
                  n: int) -> torch.Tensor:
    """``_lexicon_ce`` for ``n`` random lexicon words' exact pyramids read as images (a perfect
    recogniser's), all languages: the image side's character embedding and its semantic part learn
    from every lexicon word, not only from the words and characters the training images show."""
    rows = torch.randint(0, len(lex_ids), (n,))
    presence = text_inputs[rows, model.config.anchor_width:].reshape(n, len(model.visual.regions), -1)
    logits = model.logit_scale.exp() * model.visual.from_presence(presence) @ all_txt.T
    return _lexicon_ce(logits, lex_ids[rows], lex_ids)


def _distill_loss(logits: torch.Tensor, data: TrainingData, idx, tau: float, over: str = "language") -> torch.Tensor:
    """Cross-entropy from the teacher's softmax (its top-k words at temperature ``tau``) to ours'.

    ``over="language"``: ours' softmax over the image's own language's words. ``"lexicon"``: over
    every word of every language, a word's probability being its concept's (the sum over the
    concept's forms), so the teacher's ranking also pulls the image towards the synonyms, as the
    full-lexicon term does."""
    if data.teacher is None:
        raise RuntimeError("distill > 0 needs TrainingData.attach_teacher first")
    rows, loglik = (torch.from_numpy(a[idx]) for a in data.teacher)
    if over == "language":
        same_lang = torch.from_numpy(data.lex_langs[None, :] == np.array(data.langs)[idx][:, None])
        log_student = F.log_softmax(logits.masked_fill(~same_lang, float("-inf")), 1).gather(1, rows)
    else:
        _, concept_of = np.unique(data.lex_ids, return_inverse=True)
        concept_of = torch.from_numpy(concept_of.ravel())
        probs = F.softmax(logits, 1)
        concept_p = probs.new_zeros(len(probs), int(concept_of.max()) + 1).index_add_(1, concept_of, probs)
        log_student = concept_p.clamp_min(1e-30).log().gather(1, concept_of[rows])
    target = F.softmax(loglik / tau, 1)
    return -(target * log_student).sum(1).mean()


def augment_posteriors(x: torch.Tensor, max_temperature: float, stretch: float) -> torch.Tensor:
    """Log-posterior inputs (``log(p + LOG_FLOOR)``, (B, T, groups)) as a less confident or
    differently paced writer would give them: each image's per-frame posteriors raised to 1/T
    and renormalised (T ~ U[1, max_temperature]), and its frames resampled by a factor
    ~ U[1 - stretch, 1 + stretch] (nearest frame; past the end the last frame, the padding's blank)."""
    from ourmodel.ppocr import LOG_FLOOR

    b, t, _ = x.shape
    if max_temperature > 1:
        temp = 1 + torch.rand(b, 1, 1) * (max_temperature - 1)
        log_p = torch.log((x.exp() - LOG_FLOOR).clamp_min(1e-12))
        x = torch.log(F.softmax(log_p / temp, -1) + LOG_FLOOR)
    if stretch:
        factor = 1 + (torch.rand(b, 1) * 2 - 1) * stretch
        src = (torch.arange(t)[None, :] / factor).round().long().clamp(0, t - 1)
        x = x.gather(1, src[:, :, None].expand(-1, -1, x.shape[2]))
    return x


class TrainStateError(HwrBenchError):
    """A ``train_state.pt`` that cannot be resumed from (not loadable as plain data, or malformed)."""


def load_train_state(state_file: Path) -> dict:
    """The resumable state ``_checkpoint`` writes, read with ``weights_only=True``: only tensors and
    plain Python data (numbers, strings, lists, tuples, dicts, None), never code, so a crafted
    file cannot run anything; anything else is one clear error naming the file."""
    import pickle

    try:
        state = torch.load(state_file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:   # what weights_only refuses (a global, a class, a call)
        found = re.search(r"Unsupported (?:global|operand)[^\n]*", str(exc))
        why = f" ({found.group(0).rstrip('.')})" if found else ""
        raise TrainStateError(f"{state_file}: refused: holds more than tensors and plain data{why}, so it is "
                              "not a training state this code wrote; delete it (or use another --out) to "
                              "train from the start") from None
    except Exception as exc:   # noqa: BLE001 (garbage makes the unpickler fail in any way: EOF, index, key ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainStateError(f"{state_file}: not a readable training state ({first}); delete it (or use "
                              "another --out) to train from the start") from None
    if not isinstance(state, dict) or not {"optim", "step", "elapsed", "config"} <= set(state):
        raise TrainStateError(f"{state_file}: not a training state (expected the keys optim, step, elapsed, "
                              "config); delete it (or use another --out) to train from the start")
    return state


def _rng_state() -> dict:
    """torch's, numpy's and Python's global generators, as tensors and plain lists (so the state
    still loads with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {"torch": torch.get_rng_state(),
            "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
            "python": [version, list(internal), gauss_next]}


def _set_rng_state(rng: dict, state_file: Path) -> None:
    try:
        torch.set_rng_state(rng["torch"])
        name, keys, pos, has_gauss, cached = rng["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        version, internal, gauss_next = rng["python"]
        random.setstate((version, tuple(internal), gauss_next))
    except Exception as exc:   # noqa: BLE001 (a malformed state fails in any of several ways)
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainStateError(f"{state_file}: its random number generators' state is malformed ({why}); delete "
                              "it (or use another --out) to train from the start") from None


def _checkpoint(model, optim, config, out: Path, step: int, elapsed: float) -> None:
    folder = out / "last"
    model.save(folder)
    tmp = folder / "train_state.pt.tmp"
    torch.save({"optim": optim.state_dict(), "step": step, "elapsed": elapsed, "config": asdict(config),
                "rng": _rng_state()}, tmp)
    tmp.replace(folder / "train_state.pt")
