"""An ONNX model file shipped inside an installed PyPI wheel, found without importing the wheel
(RapidOCR's and EasyHTR's ``__init__`` pull in OpenCV, and EasyHTR's loads its model at import)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from bench.api import Availability, file_sha256, onnx_threads
from methodkit.params import onnx_param_count


@dataclass(frozen=True)
class WheelModel:
    package: str         # import name of the wheel
    requirement: str     # what it is, pinned: "rapidocr==3.10.0"
    model_file: str      # path of the ONNX file inside the package
    install: str         # the command that installs it

    def package_dir(self) -> Path | None:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        return Path(list(spec.submodule_search_locations)[0])

    def path(self) -> Path | None:
        root = self.package_dir()
        return root / self.model_file if root else None

    def availability(self, *also: str) -> Availability:
        """Installed, with the model file and ``also`` (other files beside it) present."""
        path = self.path()
        if path is None:
            return Availability.no(f"{self.requirement.split('==')[0]} is not installed", self.install)
        missing = [p for p in (path, *(path.parent / name for name in also)) if not p.is_file()]
        if missing:
            return Availability.no(f"{missing[0]} is missing from the wheel", f"reinstall: {self.install}")
        return Availability.yes()

    def sha256(self) -> str:
        return file_sha256(self.path())

    def digest(self) -> str:
        """The model file's short digest, as method versions carry it."""
        return self.sha256()[:16]

    def params(self) -> int | None:
        path = self.path()
        return onnx_param_count(path) if path else None

    def model_bytes(self) -> int | None:
        path = self.path()
        return path.stat().st_size if path and path.is_file() else None

    def session(self, threads: int | None = None):
        """An onnxruntime CPU session on the model file."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or onnx_threads()
        return ort.InferenceSession(str(self.path()), options, providers=["CPUExecutionProvider"])


# The PP-OCR recognisers that ship inside RapidOCR wheels, defined once: the OCR methods and any
# model built on these recognisers (ours' frozen backbones) read the same files.
PPOCR_V4_WHEEL = WheelModel("rapidocr_onnxruntime", "rapidocr-onnxruntime==1.4.4", "models/ch_PP-OCRv4_rec_infer.onnx",
                            "pip install rapidocr-onnxruntime==1.4.4")
PPOCR_V6_WHEEL = WheelModel("rapidocr", "rapidocr==3.10.0", "models/PP-OCRv6_rec_small.onnx",
                            "pip install rapidocr==3.10.0")
