"""One forward pass of a PP-OCR recogniser per image, shared by every method that reads it.

Several methods read the same network over the same images: ``ppocrv6`` decodes PP-OCRv6's
posteriors greedily, ``ppocrv6-ctc`` scores the lexicon with them, ``ours`` feeds them to its
head. Each declares the pass it reads (``Retriever.shared_pass``, ``PosteriorPass.key``: the
network's digest and its preprocessing); the runner computes those methods image-major, and
``bench.api.run_pass`` lets the first compute an image's pass and the others read it from memory.

A pass must give an image the same output whatever images it is computed with, or a method's
results would depend on which methods ran beside it; ``PosteriorPass`` guarantees it by batching
only images of one padded width and never running a batch of one (onnxruntime takes another
kernel path for a single image, a few 1e-6 apart: a lone image is run twice in one batch), except
where outputs are only timed (``bench.api.timing_calls``: a lone image's true cost is measured).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from bench.api import run_pass, timing_calls
from methodkit.wheel_model import WheelModel

HEIGHT, MIN_WIDTH = 48, 320


# -- PP-OCR recognisers: images -> per-frame posteriors ------------------------------------------

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


def preprocess(images: Sequence, width: int | None = None, resize: str = "pil") -> np.ndarray:
    """A PP-OCR recogniser's input: RGB, height 48, aspect kept, [-1, 1], right zero-pad.

    The batch is ``width`` wide (default: its widest image, at least 320), so long words are not
    squeezed. ``resize``: "pil" (PIL bilinear) or "cv2" (OpenCV's linear, as RapidOCR's own
    ``TextRecognizer.resize_norm_img`` does: the PP-OCRv4 rows read the package's exact input)."""
    ratios = [im.width / im.height for im in images]
    width = width or max(MIN_WIDTH, int(HEIGHT * max(ratios, default=1.0)))
    batch = np.zeros((len(images), 3, HEIGHT, width), dtype=np.float32)
    for i, (im, ratio) in enumerate(zip(images, ratios)):
        w = min(width, max(1, math.ceil(HEIGHT * ratio)))
        if resize == "cv2":
            import cv2

            arr = cv2.resize(np.asarray(im.convert("RGB"), dtype=np.uint8), (w, HEIGHT)).astype(np.float32)
        else:
            from PIL import Image

            arr = np.asarray(im.convert("RGB").resize((w, HEIGHT), Image.BILINEAR), dtype=np.float32)
        batch[i, :, :, :w] = (arr.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return batch


PREPROCESSING = {
    "pil": "RGB, PIL bilinear resize to height 48, [-1, 1], padded to its own width (>= 320); batches of one "
           "padded width, never of one image",
    "cv2": "RGB uint8, RapidOCR's resize (OpenCV linear) to height 48, [-1, 1], padded to its own width (>= 320); "
           "batches of one padded width, never of one image",
}


class PosteriorPass:
    """A PP-OCR recogniser (``model``: an ONNX file in a wheel) as a function from images to
    per-image (T_i, C) posteriors over its whole character set (``bench.api.run_pass``)."""

    batch = 16   # images per onnxruntime call (one padded width); outputs do not depend on it

    def __init__(self, model: WheelModel, resize: str = "pil", threads: int | None = None):
        if resize not in PREPROCESSING:
            raise ValueError(f"resize must be one of {', '.join(PREPROCESSING)}, not {resize!r}")
        self.model, self.resize, self.threads = model, resize, threads
        self._session = None
        self._charset: list[str] | None = None
        self._key: str | None = None

    @property
    def key(self) -> str:
        """The pass's identity: the network file's digest and the preprocessing."""
        if self._key is None:
            self._key = f"{self.model.model_file}@{self.model.sha256()[:16]}/{self.resize}"
        return self._key

    @property
    def preprocessing(self) -> str:
        return PREPROCESSING[self.resize]

    def _load(self):
        if self._session is None:
            self._session = self.model.session(self.threads)
            keys = self._session.get_modelmeta().custom_metadata_map["character"].splitlines()
            self._charset = ["<blank>"] + keys + [" "]   # RapidOCR's CTCLabelDecode layout
        return self._session

    @property
    def charset(self) -> list[str]:
        self._load()
        return self._charset  # type: ignore[return-value]

    def __call__(self, images: Sequence) -> list[np.ndarray]:
        return run_pass(self.key, images, self._compute)

    def _compute(self, images: Sequence) -> list[np.ndarray]:
        session = self._load()
        name = session.get_inputs()[0].name
        out: list[np.ndarray] = [None] * len(images)  # type: ignore[list-item]
        for group in by_padded_width(images):
            width = padded_width(images[group[0]])
            for start in range(0, len(group), self.batch):
                idx = group[start:start + self.batch]
                x = preprocess([images[i] for i in idx], width, self.resize)
                if len(idx) == 1 and not timing_calls():   # the batched kernels, as every other image gets
                    x = np.concatenate([x, x])
                probs = session.run(None, {name: x})[0]
                for j, i in enumerate(idx):
                    out[i] = probs[j]
        return out
