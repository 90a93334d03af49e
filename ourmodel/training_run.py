"""A training run: a dataset wired to training (backbone inputs, the validator) and run to a checkpoint."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from bench.api import LANGUAGES, NULL_TRACKER, XLING_DIRECTIONS, Dataset, HwrBenchError, did_you_mean
from methodkit.text_encoder import anchor_version, embed_anchors
from ourmodel.anchors import text_inputs
from ourmodel.features import cached_features
from ourmodel.images import image_batch
from ourmodel.model import ModelConfig
from ourmodel.ppocr import PPOCR_V4, PPOCR_V6, Backbone, PPOCRFeatures, lexicon_alphabet
from ourmodel.pyramid import Pyramid
from ourmodel.quantize import BACKBONE_FILE, default_int8_dir, quantised_alphabet, quantised_source
from ourmodel.train import TrainConfig, TrainConfigError, TrainingData, train


def source_alphabet(ds: Dataset, source: Backbone) -> str:
    """The characters a posterior source's groups cover: the lexicon's ("" for a feature source)."""
    return lexicon_alphabet([e.text for e in ds.lexicon]) if source.posteriors else ""


def ppocr_inputs(ds: Dataset, cache_root: Path | None, source: Backbone, int8_backbone: Path | None = None):
    """A frozen PP-OCR backbone's per-frame inputs, cached; from ``int8_backbone`` (``source``'s
    graph quantised by ``bench quantize``) when given. A posterior source groups onto the
    lexicon's alphabet."""
    extractor = []
    alphabet = source_alphabet(ds, source)
    if int8_backbone is not None:
        namespace = f"ppocr-int8-{hashlib.sha256(Path(int8_backbone).read_bytes()).hexdigest()[:16]}"
    elif source is PPOCR_V4:
        namespace = f"ppocr-{source.digest()[:16]}"
    else:
        key = hashlib.sha256(alphabet.encode()).hexdigest()[:12]
        namespace = f"{source.name}-{source.digest()[:16]}-{key}"

    def extract(images):
        if not extractor:
            import onnx

            extractor.append(PPOCRFeatures(model=None if int8_backbone is None else onnx.load(str(int8_backbone)),
                                           source=source, alphabet=alphabet))
        return extractor[0](images)

    def inputs_for(samples) -> np.ndarray:
        return cached_features(extract, namespace, None if cache_root is None else cache_root / "features",
                               [s.content_hash for s in samples], lambda i: ds.image_item(samples[i].key).image)
    return inputs_for


def image_inputs(ds: Dataset, cache_root: Path | None, height: int = 32, width: int = 192):
    """Raw word images for the MobileNetV3 tower (trained end to end, nothing to cache)."""
    return lambda samples: image_batch([ds.image_item(s.key).image for s in samples], height, width)


@dataclass(frozen=True)
class TrainingBackbone:
    """What ``--set backbone=NAME`` trains on: a frozen PP-OCR source (fp32, or its int8 graph
    from ``bench quantize``) feeding the sequence head, or (``source`` None) the MobileNetV3
    tower trained end to end."""
    source: Backbone | None
    int8: bool = False

    def inputs(self, ds: Dataset, cache_root: Path | None):
        if self.source is None:
            return image_inputs(ds, cache_root)
        return ppocr_inputs(ds, cache_root, self.source,
                            self.int8_file(source_alphabet(ds, self.source)) if self.int8 else None)

    def int8_file(self, alphabet: str | None = None) -> Path:
        """The shipped int8 backbone, checked to be this source's graph (``bench quantize`` records
        it) and, given ``alphabet``, a posterior graph's groups to be that alphabet's."""
        quantised = quantised_source(default_int8_dir())
        if quantised != self.source.name:
            raise TrainConfigError(f"{default_int8_dir()}: the int8 backbone there was quantised from {quantised!r}, "
                                   f"not {self.source.name!r}; run `bench quantize --out {default_int8_dir()}` for a "
                                   f"checkpoint on {self.source.name}", "backbone")
        if alphabet is not None and self.source.posteriors and quantised_alphabet(default_int8_dir()) != alphabet:
            raise TrainConfigError(f"{default_int8_dir()}: the int8 backbone there was not quantised for this "
                                   f"dataset's alphabet ({len(alphabet)} characters); run `bench quantize --out "
                                   f"{default_int8_dir()} --checkpoint DIR` with a checkpoint trained on this "
                                   "dataset", "backbone")
        return default_int8_dir() / BACKBONE_FILE

    def provenance(self) -> dict:
        """The checkpoint's record of what its inputs came from."""
        if self.source is None:
            return {"backbone": "MobileNetV3-Small from scratch (plain torch)"}
        if not self.int8:
            return {"backbone": self.source.label, "backbone_sha256": self.source.digest()}
        int8 = self.int8_file().read_bytes()
        return {"backbone": f"{self.source.short} rec quantised to int8 (ourmodel.quantize), frozen",
                "backbone_sha256": self.source.digest(), "backbone_int8_sha256": hashlib.sha256(int8).hexdigest()}


TRAINING_BACKBONES = {"ppocr": TrainingBackbone(PPOCR_V4), "ppocrv6": TrainingBackbone(PPOCR_V6),
                      "ppocr-int8": TrainingBackbone(PPOCR_V4, int8=True),
                      "ppocrv6-int8": TrainingBackbone(PPOCR_V6, int8=True), "mnv3": TrainingBackbone(None)}


def validation_subsets(ds: Dataset, n: int, seed: int = 0) -> dict[str, list]:
    """The validator's fixed subsets: ``n`` test_id and ``n`` test_ood samples per language."""
    rng = np.random.default_rng(seed)
    subsets = {}
    for split in ("test_id", "test_ood"):
        chosen = []
        for lang in LANGUAGES:
            pool = ds.select(split=split, lang=lang)
            chosen += [pool[i] for i in sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False))]
        subsets[split] = chosen
    return subsets


def make_validator(ds: Dataset, inputs_for, cache_root: Path | None, n: int, seed: int = 0, spelling_dim: int = 0,
                   log=print, pyramid: Pyramid | None = None):
    """Acc@1 on fixed subsets of test_id and test_ood (within-language and cross-lingual), and
    text->text cross-lingual Acc@1 of the projected anchors. A split without images is skipped
    (its metrics are left out of the records), with a note."""
    subsets = {}
    for split, chosen in validation_subsets(ds, n, seed).items():
        if not chosen:
            log(f"note: {ds.name} has no {split} images; validation skips {split}")
            continue
        subsets[split] = (chosen, torch.from_numpy(np.ascontiguousarray(inputs_for(chosen))))
    lexicon = sorted(ds.lexicon, key=lambda e: (e.lang, e.semantic_id))
    anchors = torch.from_numpy(text_inputs([e.text for e in lexicon], [e.lang for e in lexicon], cache_root, spelling_dim,
                                           pyramid))
    by_lang = {lang: [i for i, e in enumerate(lexicon) if e.lang == lang] for lang in LANGUAGES}
    sid = np.array([e.semantic_id for e in lexicon])

    def top1(query: np.ndarray, lang: str) -> np.ndarray:
        rows = by_lang[lang]
        return sid[rows][np.argmax(query @ text[rows].T, axis=1)]

    def validate(model) -> dict:
        nonlocal text
        text = model.encode_texts(anchors).numpy()
        out = {}
        for split, (samples, x) in subsets.items():
            img = np.concatenate([model.encode_images(x[i:i + 512]).numpy() for i in range(0, len(x), 512)])
            truth = np.array([s.semantic_id for s in samples])
            langs = np.array([s.lang for s in samples])
            hits = [top1(img[langs == l], l) == truth[langs == l] for l in LANGUAGES if (langs == l).any()]
            out[f"{split}_acc1"] = round(float(np.concatenate(hits).mean()), 4)
            if split == "test_ood":
                xling = [(top1(img[langs == a], b) == truth[langs == a]).mean() for a, b in XLING_DIRECTIONS
                         if (langs == a).any()]
                if xling:
                    out["xling_acc1"] = round(float(np.mean(xling)), 4)
        t2t = []
        for a, b in XLING_DIRECTIONS:
            t2t.append((top1(text[by_lang[a]], b) == sid[by_lang[a]]).mean())
        out["text_xling_acc1"] = round(float(np.mean(t2t)), 4)
        return out

    text = None
    return validate


def anchor_text_xling(ds: Dataset, cache_root: Path | None) -> float:
    """Cross-lingual text->text Acc@1 of the raw anchors (what the projector must keep)."""
    lexicon = sorted(ds.lexicon, key=lambda e: (e.lang, e.semantic_id))
    a = embed_anchors([e.text for e in lexicon], [e.lang for e in lexicon], cache_root)
    sid = np.array([e.semantic_id for e in lexicon])
    rows = {l: [i for i, e in enumerate(lexicon) if e.lang == l] for l in LANGUAGES}
    return float(np.mean([(sid[rows[b]][np.argmax(a[rows[x]] @ a[rows[b]].T, 1)] == sid[rows[x]]).mean()
                          for x, b in XLING_DIRECTIONS]))


def load_train_config(path: Path | None, overrides: dict) -> TrainConfig:
    """The options of the JSON file ``path`` (if any), then ``overrides`` (``--set``); a bad file
    or option is one error naming it (the file, or ``--set KEY``)."""
    data = {}
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise HwrBenchError(f"--config {path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise HwrBenchError(f"--config {path}: cannot read it ({exc})") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise HwrBenchError(f"--config {path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise HwrBenchError(f"--config {path}: expected a JSON object of training options "
                                f"(ourmodel/train.py TrainConfig), got {type(data).__name__}")

    def where(key: str) -> str:
        return f"--set {key}" if key in overrides else f"--config {path}"

    data = {**data, **overrides}
    known = [f.name for f in fields(TrainConfig)]
    for key in data:
        if key not in known:
            raise HwrBenchError(f"{where(key)}: unknown training option {key!r}{did_you_mean(key, known)} "
                                "(the options: ourmodel/train.py TrainConfig)")
    try:
        config = TrainConfig(**data)
    except TrainConfigError as exc:   # its message starts with the option's name
        if exc.option in overrides:
            raise TrainConfigError(f"--set {exc}", exc.option) from None
        if exc.option in data:
            raise TrainConfigError(f"--config {path}: {exc}", exc.option) from None
        raise
    if config.backbone not in TRAINING_BACKBONES:
        raise TrainConfigError(f"{where('backbone')}: unknown backbone {config.backbone!r}"
                               f"{did_you_mean(config.backbone, TRAINING_BACKBONES)} "
                               f"(choose from {', '.join(TRAINING_BACKBONES)})", "backbone")
    try:
        check_posterior_options(config)
    except TrainConfigError as exc:
        raise TrainConfigError(f"{where('backbone')}: {exc}", exc.option) from None
    return config


# The options that read a posterior backbone's characters, and the values that switch them off.
POSTERIOR_OPTIONS = {"pyramid_levels": [], "spelled_i2t": 0.0, "char_dropout": 0.0, "distill": 0.0}


def check_posterior_options(config: TrainConfig) -> None:
    """A backbone without posteriors (``mnv3``, PP-OCRv4's features) trains only with the options
    that read characters switched off; otherwise one error naming them and the way out."""
    source = TRAINING_BACKBONES[config.backbone].source
    if source is not None and source.posteriors:
        return
    on = [name for name, off in POSTERIOR_OPTIONS.items() if getattr(config, name) != off]
    if on:
        fix = " ".join(f"--set {name}={json.dumps(POSTERIOR_OPTIONS[name])}" for name in on)
        raise TrainConfigError(f"backbone {config.backbone!r} gives no posteriors, which {', '.join(on)} "
                               f"{'needs' if len(on) == 1 else 'need'} (the recipe's defaults read them); "
                               f"to train it add {fix}", on[0])


def run_training(ds: Dataset, out: Path, config: TrainConfig, cache_root: Path | None, *,
                 extra_train: list[Dataset] = (), tracker=None, log=print):
    """Train (or resume) into ``out`` and, once every step is done, write ``out/final``; the
    returned model's ``finished`` is False when ``config.max_seconds`` stopped it first (resumable)."""
    if config.backbone not in TRAINING_BACKBONES:
        raise TrainConfigError(f"unknown backbone {config.backbone!r}"
                               f"{did_you_mean(config.backbone, TRAINING_BACKBONES)} "
                               f"(choose from {', '.join(TRAINING_BACKBONES)})", "backbone")
    check_posterior_options(config)     # refused before anything is computed or written
    started = time.perf_counter()
    choice = TRAINING_BACKBONES[config.backbone]
    inputs_for = choice.inputs(ds, cache_root)
    source = choice.source or PPOCR_V4   # recorded for a PP-OCR head; the mnv3 tower ignores it
    alphabet = source_alphabet(ds, source)
    pyramid = Pyramid(alphabet, tuple(config.pyramid_levels)) if config.pyramid_levels else None
    data = TrainingData(ds, inputs_for, cache_root, extra=[(d, choice.inputs(d, cache_root)) for d in extra_train],
                        spelling_dim=config.spelling_dim, pyramid=pyramid)
    validate = make_validator(ds, inputs_for, cache_root, config.val_queries, config.seed, config.spelling_dim,
                              log=log, pyramid=pyramid)
    prep = time.perf_counter() - started
    if config.distill:
        # The teacher is cached by what its inputs are: the backbone's digests and the data.
        data.attach_teacher(alphabet, config.distill_k, cache_root,
                            inputs_key=json.dumps(choice.provenance(), sort_keys=True), log=log)
    # The int8 backbone feeds the same head architecture as the fp32 one.
    head_kind = "mnv3" if choice.source is None else "ppocr"
    model_config = ModelConfig(backbone=head_kind, source=source.name, alphabet=alphabet,
                               feature_dim=int(data.inputs.shape[-1]), input_proj=config.input_proj,
                               spelling_dim=config.spelling_dim, pyramid_levels=list(config.pyramid_levels),
                               char_dim=config.char_dim, extra={
        **choice.provenance(), "anchor": anchor_version(),
        "train_dataset": ds.name, "train_fingerprints": data.fingerprints,
        "train_images": len(data.samples)})
    model = train(data, validate, out, config, model_config, tracker=tracker or NULL_TRACKER, log=log)
    if not model.finished:
        return model          # stopped by max_seconds: no final/ until every step is done
    summary = {"feature_and_anchor_seconds": round(prep, 1), "anchor_text_xling_acc1": round(anchor_text_xling(ds, cache_root), 4),
               "train_config": asdict(config)}
    model.config.extra.update(summary)
    model.save(Path(out) / "final")
    return model
