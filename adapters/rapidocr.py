"""PP-OCR recognisers from RapidOCR's wheels, run with onnxruntime by this package.

Each recogniser runs once per image (``methodkit.network_pass``): its per-frame posteriors are the
one pass that every method below reads, and the runner computes methods that read one pass
together, so a network never runs twice over an image.

* ``rapidocr``: PP-OCRv4 (``rapidocr-onnxruntime`` wheel) on the word crop (no detection: on
  tight crops it garbles words and costs ~30x), with RapidOCR's own preprocessing and greedy CTC
  decoding (its ``TextRecognizer`` does the same), lexicon ranked by edit similarity: the paper's
  two-stage baseline.
* ``rapidocr-ctc`` (not in the paper): the same pass, every lexicon word scored by its exact CTC
  likelihood (``methodkit.ctc_trie``).
* ``ppocrv6`` / ``ppocrv6-ctc``: PP-OCRv6 small (``rapidocr==3.10.0`` wheel, import name
  ``rapidocr``, which coexists with ``rapidocr_onnxruntime``; the wheel's Python is never
  imported): greedy best-path decoding of its posteriors, and the CTC lexicon likelihood.

PP-OCRv4's character set (6,623 characters, Chinese and Latin) has no
ñ Ñ Á Í Ú ¿ ¡: ``rapidocr`` cannot output them and loses those words' edit
similarity; the CTC methods score them through the base letter (ñ -> n), a
policy their results' method config states. PP-OCRv6's 18,708 characters have
all of them but ¡.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bench.api import Availability, MethodInfo, ScoringRetriever, TranscriptionRetriever
from methodkit.ctc_lexicon import greedy_decode
from methodkit.ctc_trie import TrieLexiconScorer
from methodkit.layers import onnx_layers
from methodkit.network_pass import HEIGHT, MIN_WIDTH, PosteriorPass
from methodkit.wheel_model import PPOCR_V4_WHEEL, PPOCR_V6_WHEEL, WheelModel

LICENCE = "Apache-2.0 (RapidOCR code and PP-OCRv4 weights)"
MISSING_CHARS = "ñ Ñ Á Í Ú ¿ ¡"


@dataclass(frozen=True)
class PPOCRModel(WheelModel):
    """A PP-OCR recogniser in a RapidOCR wheel. v4 and v6 share the input layout (height 48, any
    width, [-1, 1]) and the output layout (blank, the dictionary in the model's metadata, space)."""

    label: str = ""          # "PP-OCRv4"
    licence: str = ""
    missing_chars: str = ""  # lexicon characters the model cannot output
    resize: str = "pil"      # the preprocessing of its pass (``methodkit.network_pass.preprocess``)

    def layers(self):
        return onnx_layers(self.path(), (1, 3, HEIGHT, MIN_WIDTH))


# PP-OCRv4 reads RapidOCR's own input (OpenCV resize), so ``rapidocr`` is the package's recogniser
# exactly; PP-OCRv6's rows were made with PIL's resize, which ``ours`` was trained on.
PPOCR_V4 = PPOCRModel(**vars(PPOCR_V4_WHEEL), label="PP-OCRv4", licence=LICENCE, missing_chars=MISSING_CHARS,
                      resize="cv2")
PPOCR_V6 = PPOCRModel(**vars(PPOCR_V6_WHEEL), label="PP-OCRv6", missing_chars="¡",
                      licence="Apache-2.0 (RapidOCR code and PP-OCRv6 weights; the wheel's MODEL_LICENSES.md)")


@dataclass(frozen=True)
class RapidOCROptions:
    rec_batch: int = 16     # images per recogniser run (speed only: outputs do not depend on it)

    def __post_init__(self):
        if self.rec_batch < 1:
            raise ValueError(f"option rec_batch must be at least 1, not {self.rec_batch}")


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


class _OwnRuntime(_PPOCRMethod):
    """A PP-OCR recogniser's one pass over each image, shared with every method that reads it."""

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._pass: PosteriorPass | None = None

    def _load(self) -> PosteriorPass:
        if self._pass is None:
            self._pass = PosteriorPass(self.model, self.model.resize)
            self._pass.batch = self.options.rec_batch
        return self._pass

    @property
    def shared_pass(self) -> str | None:
        return self._load().key if self.availability().ok else None

    def posteriors(self, items):
        return self._load()([it.image for it in items])

    def _record(self, name: str, version: str, description: str, config: dict) -> MethodInfo:
        return MethodInfo(
            name=name, group="two-stage", version=version, description=description, **self._size(),
            requires=(self.model.requirement.split("==")[0],), preprocessing=self._load().preprocessing,
            config={"characters_missing": self.model.missing_chars, **config})

    def _digest(self) -> str:
        return self.model.digest() if self.availability().ok else "missing"


class RapidOCR(_OwnRuntime, TranscriptionRetriever):
    """PP-OCRv4 greedy: best path (argmax per frame, repeats merged, blanks dropped), as RapidOCR's
    ``CTCLabelDecode`` does, on RapidOCR's own input."""

    @property
    def info(self) -> MethodInfo:
        return self._record(
            "rapidocr", f"rapidocr-onnxruntime-1.4.4/PP-OCRv4-rec-{self._digest()}/greedy-2",
            "RapidOCR PP-OCRv4 recogniser on the word crop (no detection), greedy CTC transcript; lexicon "
            "ranked by normalised edit similarity",
            {"languages": "one model for en/es/zh (Chinese + Latin character set)"})

    def transcribe(self, items, lang: str) -> list[str]:
        charset = self._load().charset
        return [greedy_decode(p[None], charset)[0].strip() for p in self.posteriors(items)]


class RapidOCRCTC(_OwnRuntime, ScoringRetriever):
    name = "rapidocr-ctc"

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._scorer: TrieLexiconScorer | None = None

    @property
    def info(self) -> MethodInfo:
        label = self.model.label
        return self._record(
            self.name, f"{label}-rec-{self._digest()}/ctc-lexicon-3",
            f"{label} recogniser posteriors (onnxruntime); every lexicon word ranked by its exact CTC "
            "likelihood (optional edge spaces, case-insensitive)",
            {"languages": "one model for en/es/zh (Chinese + Latin character set)",
             "missing_character_policy": "accent-less base letter, else an unknown-character state"})

    def score_texts(self, items, lang: str, lexicons) -> dict[str, np.ndarray]:
        if self._scorer is None:
            self._scorer = TrieLexiconScorer(self._load().charset)
        return self._scorer.score(self.posteriors(items), lexicons)


class PPOCRv6CTC(RapidOCRCTC):
    name = "ppocrv6-ctc"
    model = PPOCR_V6


class PPOCRv6(RapidOCR):
    """PP-OCRv6 greedy: the same posteriors as ``ppocrv6-ctc``, decoded best path."""

    model = PPOCR_V6

    @property
    def info(self) -> MethodInfo:
        return self._record(
            "ppocrv6", f"PP-OCRv6-rec-{self._digest()}/greedy-2",
            "PP-OCRv6 small recogniser (rapidocr 3.10.0 wheel, onnxruntime) on the word crop, greedy CTC "
            "transcript; lexicon ranked by normalised edit similarity",
            {"languages": "one model for en/es/zh (Chinese + Latin, 18,708 characters)"})


@dataclass(frozen=True)
class ShortlistOptions(RapidOCROptions):
    shortlist: int = 200    # words per image scored exactly, nearest by character counts

    def __post_init__(self):
        super().__post_init__()
        if self.shortlist < 1:
            raise ValueError(f"option shortlist must be at least 1, not {self.shortlist}")


class PPOCRv6CTCShortlist(PPOCRv6CTC):
    """``ppocrv6-ctc-shortlist`` (APPROXIMATE, not in the default run): the words nearest an image
    by a character-count vector (``methodkit.ctc_trie.count_distances``, after Retsinas et al.,
    ICDAR 2023) are scored exactly, the rest ranked below them by that distance. Its own name and
    rows, so ``ppocrv6-ctc``'s exact numbers never move; at a gallery no larger than the shortlist
    it is ``ppocrv6-ctc``."""

    name = "ppocrv6-ctc-shortlist"
    Options = ShortlistOptions

    @property
    def info(self) -> MethodInfo:
        base = super().info
        return replace(base, name=self.name, version=f"{base.version}/shortlist-1",
                       description=f"{base.description}, only the {self.options.shortlist} words nearest each "
                                   "image by character counts (approximate)",
                       config={**base.config, "shortlist": self.options.shortlist})

    def score_texts(self, items, lang: str, lexicons) -> dict[str, np.ndarray]:
        if self._scorer is None:
            self._scorer = TrieLexiconScorer(self._load().charset, shortlist=self.options.shortlist)
        return super().score_texts(items, lang, lexicons)
