"""PP-OCR recognisers from RapidOCR's wheels, ONNX.

* ``rapidocr``: PP-OCRv4 (``rapidocr-onnxruntime`` wheel), the package's own
  recogniser on the word crop (no detection: on tight crops it garbles words
  and costs ~30x), greedy CTC transcript, lexicon ranked by edit similarity:
  the paper's two-stage baseline.
* ``rapidocr-ctc`` (not in the paper): the same network run with onnxruntime,
  its per-frame posteriors kept, every lexicon word scored by its exact CTC
  likelihood (``methodkit.ctc_lexicon``).
* ``ppocrv6`` / ``ppocrv6-ctc``: PP-OCRv6 small (``rapidocr==3.10.0`` wheel, import
  name ``rapidocr``, which coexists with ``rapidocr_onnxruntime``), run with
  onnxruntime by this module (the wheel's Python is never imported): greedy
  best-path decoding of its posteriors, and the CTC lexicon likelihood.

PP-OCRv4's character set (6,623 characters, Chinese and Latin) has no
ñ Ñ Á Í Ú ¿ ¡: ``rapidocr`` cannot output them and loses those words' edit
similarity; the CTC methods score them through the base letter (ñ -> n), a
policy their results' method config states. PP-OCRv6's 18,708 characters have
all of them but ¡.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from bench.api import Availability, MethodInfo, ScoringRetriever, TranscriptionRetriever
from methodkit.ctc_lexicon import greedy_decode
from methodkit.ctc_trie import TrieLexiconScorer
from methodkit.layers import onnx_layers
from methodkit.wheel_model import PPOCR_V4_WHEEL, PPOCR_V6_WHEEL, WheelModel, onnx_threads

LICENCE = "Apache-2.0 (RapidOCR code and PP-OCRv4 weights)"
MISSING_CHARS = "ñ Ñ Á Í Ú ¿ ¡"
HEIGHT, MIN_WIDTH = 48, 320


@dataclass(frozen=True)
class PPOCRModel(WheelModel):
    """A PP-OCR recogniser in a RapidOCR wheel. v4 and v6 share the input layout (height 48, any
    width, [-1, 1]) and the output layout (blank, the dictionary in the model's metadata, space)."""

    label: str = ""          # "PP-OCRv4"
    licence: str = ""
    missing_chars: str = ""  # lexicon characters the model cannot output

    def layers(self):
        return onnx_layers(self.path(), (1, 3, HEIGHT, MIN_WIDTH))


PPOCR_V4 = PPOCRModel(**vars(PPOCR_V4_WHEEL), label="PP-OCRv4", licence=LICENCE, missing_chars=MISSING_CHARS)
PPOCR_V6 = PPOCRModel(**vars(PPOCR_V6_WHEEL), label="PP-OCRv6", missing_chars="¡",
                      licence="Apache-2.0 (RapidOCR code and PP-OCRv6 weights; the wheel's MODEL_LICENSES.md)")


def _rgb_uint8(image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


@dataclass(frozen=True)
class RapidOCROptions:
    rec_batch: int = 16     # images per recogniser run

    def __post_init__(self):
        if self.rec_batch < 1:
            raise ValueError(f"option rec_batch must be at least 1, not {self.rec_batch}")


def padded_width(image) -> int:
    """The width an image is padded to when it is recognised alone (RapidOCR's rule: height 48,
    aspect kept, at least 320). Batches hold images of one padded width only, so an image's
    output never depends on which images share its batch."""
    return int(HEIGHT * max(MIN_WIDTH / HEIGHT, image.width / image.height))


def by_padded_width(images: Sequence) -> list[list[int]]:
    """Indices of ``images`` grouped by padded width, narrowest first, in input order within a group."""
    groups: dict[int, list[int]] = {}
    for i, im in enumerate(images):
        groups.setdefault(padded_width(im), []).append(i)
    return [groups[w] for w in sorted(groups)]


class _PPOCRMethod:
    """What the PP-OCR methods share: a model in a wheel, its layers, its options and batch size."""

    model: PPOCRModel = PPOCR_V4
    Options = RapidOCROptions
    batch_size = 64

    def availability(self) -> Availability:
        return self.model.availability()

    def compute_layers(self):
        # At the recogniser's base width (320): wider words cost proportionally more. What follows
        # the network (greedy decoding, CTC lexicon scoring) is digital work, not counted.
        return self.model.layers()

    def _size(self) -> dict:
        ok = self.availability().ok
        return {"params": self.model.params() if ok else None, "model_bytes": self.model.model_bytes(),
                "licence": self.model.licence}


class RapidOCR(_PPOCRMethod, TranscriptionRetriever):
    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._recogniser = None

    @property
    def info(self) -> MethodInfo:
        ok = self.availability().ok
        return MethodInfo(
            name="rapidocr", group="two-stage",
            version=f"rapidocr-onnxruntime-1.4.4/PP-OCRv4-rec-{self.model.digest() if ok else 'missing'}",
            description="RapidOCR PP-OCRv4 recogniser on the word crop (no detection), greedy "
                        "CTC transcript; lexicon ranked by normalised edit similarity",
            **self._size(), requires=("rapidocr-onnxruntime",),
            preprocessing="RGB uint8, RapidOCR resize to height 48, padded to its own width (>= 320); "
                          "batches of one padded width",
            config={"languages": "one model for en/es/zh (Chinese + Latin character set)",
                    "characters_missing": MISSING_CHARS, "rec_batch": self.options.rec_batch})

    def _load(self):
        if self._recogniser is None:
            from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer
            from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
            from rapidocr_onnxruntime.utils import read_yaml, update_model_path

            config = update_model_path(read_yaml(DEFAULT_CFG_PATH))["Rec"]
            config.update(rec_batch_num=self.options.rec_batch, intra_op_num_threads=onnx_threads())
            self._recogniser = TextRecognizer(config)
        return self._recogniser

    def transcribe(self, items, lang: str) -> list[str]:
        # RapidOCR pads a batch to its widest image: called per padded width, every image is
        # read exactly as it would be alone.
        images = [it.image for it in items]
        out: list[str] = [""] * len(images)
        for group in by_padded_width(images):
            results, _ = self._load()([_rgb_uint8(images[i]) for i in group])
            for i, (text, _score) in zip(group, results):
                out[i] = text.strip()
        return out


def preprocess(images: Sequence, width: int | None = None) -> np.ndarray:
    """RapidOCR's recogniser input: height 48, aspect kept, [-1, 1], right zero-pad.

    The batch is ``width`` wide (default: its widest image, at least 320), so long
    words are not squeezed; ``PosteriorModel.batched`` passes one padded width per batch.
    """
    from PIL import Image

    ratios = [im.width / im.height for im in images]
    width = width or max(MIN_WIDTH, int(HEIGHT * max(ratios, default=1.0)))
    batch = np.zeros((len(images), 3, HEIGHT, width), dtype=np.float32)
    for i, (im, ratio) in enumerate(zip(images, ratios)):
        w = min(width, max(1, math.ceil(HEIGHT * ratio)))
        arr = np.asarray(im.convert("RGB").resize((w, HEIGHT), Image.BILINEAR), dtype=np.float32)
        batch[i, :, :, :w] = (arr.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return batch


class PosteriorModel:
    """A PP-OCR recogniser as a function from images to (B, T, C) posteriors."""

    def __init__(self, model: PPOCRModel = PPOCR_V4, threads: int | None = None):
        self.session = model.session(threads)
        self.input_name = self.session.get_inputs()[0].name
        keys = self.session.get_modelmeta().custom_metadata_map["character"].splitlines()
        self.charset = ["<blank>"] + keys + [" "]   # RapidOCR's CTCLabelDecode layout

    def batched(self, images: Sequence, batch: int = 16) -> list[np.ndarray]:
        """Per image (T_i, C) posteriors, each image padded to its own width (batch-independent)."""
        out: list[np.ndarray] = [None] * len(images)  # type: ignore[list-item]
        for group in by_padded_width(images):
            width = padded_width(images[group[0]])
            for start in range(0, len(group), batch):
                idx = group[start:start + batch]
                probs = self.session.run(None, {self.input_name: preprocess([images[i] for i in idx], width)})[0]
                for j, i in enumerate(idx):
                    out[i] = probs[j]
        return out


# What ``preprocess`` does, as the methods run by ``PosteriorModel`` record it (part of their cache key).
OWN_RUNTIME_PREPROCESSING = ("RGB, resize to height 48, [-1, 1], padded to its own width (>= 320); batches of "
                             "one padded width")


class _OwnRuntime(_PPOCRMethod):
    """A PP-OCR recogniser run by this package with onnxruntime (its posteriors kept)."""

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._model: PosteriorModel | None = None

    def _load(self) -> PosteriorModel:
        if self._model is None:
            self._model = PosteriorModel(self.model)
        return self._model


class RapidOCRCTC(_OwnRuntime, ScoringRetriever):
    name = "rapidocr-ctc"

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._scorer: TrieLexiconScorer | None = None

    @property
    def info(self) -> MethodInfo:
        ok = self.availability().ok
        label = self.model.label
        return MethodInfo(
            name=self.name, group="two-stage",
            version=f"{label}-rec-{self.model.digest() if ok else 'missing'}/ctc-lexicon-2",
            description=f"{label} recogniser posteriors (onnxruntime); every lexicon word ranked by "
                        "its exact CTC likelihood (optional edge spaces, case-insensitive)",
            **self._size(), requires=(self.model.requirement.split("==")[0],),
            preprocessing=OWN_RUNTIME_PREPROCESSING,
            config={"languages": "one model for en/es/zh (Chinese + Latin character set)",
                    "characters_missing": self.model.missing_chars,
                    "missing_character_policy": "accent-less base letter, else an unknown-character state"})

    def score_texts(self, items, lang: str, lexicons) -> dict[str, np.ndarray]:
        model = self._load()
        if self._scorer is None:
            self._scorer = TrieLexiconScorer(model.charset)
        return self._scorer.score(model.batched([it.image for it in items], self.options.rec_batch), lexicons)


class PPOCRv6CTC(RapidOCRCTC):
    name = "ppocrv6-ctc"
    model = PPOCR_V6


class PPOCRv6(_OwnRuntime, TranscriptionRetriever):
    """PP-OCRv6 greedy: the same posteriors as ``ppocrv6-ctc``, decoded best path (argmax per frame,
    repeats merged, blanks dropped), as RapidOCR's own decoder does."""

    model = PPOCR_V6

    @property
    def info(self) -> MethodInfo:
        ok = self.availability().ok
        return MethodInfo(
            name="ppocrv6", group="two-stage",
            version=f"PP-OCRv6-rec-{self.model.digest() if ok else 'missing'}/greedy-1",
            description="PP-OCRv6 small recogniser (rapidocr 3.10.0 wheel, onnxruntime) on the word crop, "
                        "greedy CTC transcript; lexicon ranked by normalised edit similarity",
            **self._size(), requires=("rapidocr",),
            preprocessing=OWN_RUNTIME_PREPROCESSING,
            config={"languages": "one model for en/es/zh (Chinese + Latin, 18,708 characters)",
                    "characters_missing": self.model.missing_chars, "rec_batch": self.options.rec_batch})

    def transcribe(self, items, lang: str) -> list[str]:
        model = self._load()
        posteriors = model.batched([it.image for it in items], self.options.rec_batch)
        return [greedy_decode(p[None], model.charset)[0].strip() for p in posteriors]
