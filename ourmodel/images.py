"""Word images as fixed-size tensors for the MobileNetV3 tower: aspect-preserving resize, right padding."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


def image_batch(images: Sequence["Image.Image"], height: int = 32, width: int = 192) -> np.ndarray:
    """(B, 1, height, width) float32 in [0, 1], paper white; a word wider than the box is squeezed."""
    from PIL import Image

    out = np.ones((len(images), 1, height, width), dtype=np.float32)
    for i, im in enumerate(images):
        w = min(width, max(1, round(height * im.width / im.height)))
        out[i, 0, :, :w] = np.asarray(im.convert("L").resize((w, height), Image.BILINEAR), dtype=np.float32) / 255.0
    return out
