"""Recognisers that ship as pip packages with their own model stores (the paper's PARSeq and Surya
rows), as transcription methods ranked by normalised edit similarity.

* ``parseq``: PARSeq through docTR (``python-doctr``, extra ``[doctr]``), the maintained package
  that ships it. Its weights are docTR's own PARSeq training (Latin vocabulary), downloaded by docTR
  from its release page into ``$DOCTR_CACHE_DIR`` (default ``~/.cache/doctr``); the authors'
  checkpoints load only through ``torch.hub`` from GitHub.
* ``surya``: Surya's line recogniser (``surya-ocr`` 0.16, extra ``[surya]``: the last release with
  the recogniser the paper ran; 0.20 on is a page-level VLM) on the whole word image as one line
  box; the package downloads its checkpoints on first use.

Both packages fetch weights themselves, outside the Hugging Face cache: offline, and with nothing
downloaded before, they are unavailable with the fix.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from pathlib import Path

import numpy as np

from bench.api import Availability, MethodInfo, TranscriptionRetriever, downloads_allowed


def package_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


class PackagedOCR(TranscriptionRetriever):
    """Availability shared by the package-backed recognisers: the package, then its weights."""

    module: str
    dist: str
    extra: str
    batch_size = 32

    def weights_present(self) -> bool:
        raise NotImplementedError

    def weights_fix(self) -> str:
        raise NotImplementedError

    def availability(self) -> Availability:
        if importlib.util.find_spec(self.module) is None:
            return Availability.no(f"{self.dist} is not installed (extra [{self.extra}])",
                                   f"pip install -e '.[{self.extra}]'")
        if not downloads_allowed() and not self.weights_present():
            return Availability.no(f"{self.dist}'s weights are not downloaded and downloads are off "
                                   "(--offline or HF_HUB_OFFLINE=1)", self.weights_fix())
        return Availability.yes()


class DocTRParseq(PackagedOCR):
    module, dist, extra = "doctr", "python-doctr", "doctr"
    arch = "parseq"

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._predictor = None

    def _weights_file(self) -> Path | None:
        try:
            from doctr.models.recognition.parseq import pytorch as parseq

            url = parseq.default_cfgs[self.arch]["url"]
        except (ImportError, KeyError, AttributeError):   # another docTR layout: say so via the fix
            return None
        root = Path(os.environ.get("DOCTR_CACHE_DIR", Path.home() / ".cache" / "doctr"))
        return root / "models" / url.rsplit("/", 1)[-1]

    def weights_present(self) -> bool:
        path = self._weights_file()
        return path is not None and path.is_file()

    def weights_fix(self) -> str:
        return (f"run once online (docTR downloads {self._weights_file() or 'its parseq weights'}), or copy that "
                "file there from a machine that has it")

    @property
    def info(self) -> MethodInfo:
        return MethodInfo(
            name="parseq", group="two-stage", version=f"python-doctr {package_version(self.dist)}/{self.arch}",
            description="PARSeq via docTR's recognition_predictor (docTR's own weights, Latin vocabulary); "
                        "lexicon ranked by normalised edit similarity",
            licence="Apache-2.0 (docTR)", requires=("extra [doctr]",),
            preprocessing="greyscale to RGB uint8, docTR's own resizing", config={"arch": self.arch})

    def transcribe(self, items, lang: str) -> list[str]:
        if self._predictor is None:
            from doctr.models import recognition_predictor

            self._predictor = recognition_predictor(self.arch, pretrained=True)
        crops = [np.asarray(it.image.convert("RGB")) for it in items]
        return [word for word, _confidence in self._predictor(crops)]


class Surya(PackagedOCR):
    module, dist, extra = "surya", "surya-ocr", "surya"

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self._predictor = None

    def weights_present(self) -> bool:
        try:
            from surya.settings import settings
        except ImportError:
            return False
        folder = getattr(settings, "MODEL_CACHE_DIR", None)   # where surya keeps its downloads (0.17+)
        return folder is not None and Path(folder).is_dir() and any(Path(folder).iterdir())

    def weights_fix(self) -> str:
        return "run once online (surya downloads its checkpoints into its MODEL_CACHE_DIR)"

    @property
    def info(self) -> MethodInfo:
        return MethodInfo(
            name="surya", group="two-stage", version=f"surya-ocr {package_version(self.dist)}",
            description="Surya's recogniser on the whole image as one line box; lexicon ranked by normalised "
                        "edit similarity", licence="GPL-3.0 code, model licence on its card",
            requires=("extra [surya]",), preprocessing="greyscale to RGB, one box the size of the image")

    def transcribe(self, items, lang: str) -> list[str]:
        if self._predictor is None:
            from surya.foundation import FoundationPredictor
            from surya.recognition import RecognitionPredictor

            self._predictor = RecognitionPredictor(FoundationPredictor())
        images = [it.image.convert("RGB") for it in items]
        boxes = [[[0, 0, im.width, im.height]] for im in images]
        pages = self._predictor(images, bboxes=boxes)
        return [" ".join(line.text for line in page.text_lines).strip() for page in pages]
