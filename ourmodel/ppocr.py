"""A frozen pretrained reading backbone: the PP-OCRv4 recogniser shipped in the
``rapidocr-onnxruntime`` wheel (Apache-2.0), run with onnxruntime.

The graph is cut before its CTC classifier: the output is the recogniser's
per-frame sequence feature (B, 40, C) for a 48 x 320 input, which the
trainable ``SequenceHeadTower`` pools and projects. Preprocessing follows
RapidOCR: resize to height 48 keeping the aspect ratio (capped at width 320),
scale to [-1, 1], pad the right with zeros.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import functools
import hashlib
import os
import importlib.util
from pathlib import Path
from typing import Sequence

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

FEATURE_TENSOR = "transpose_51.tmp_0"   # input of the final Linear -> Softmax (CTC classifier)
HEIGHT, WIDTH = 48, 320
MODEL_FILE = "ch_PP-OCRv4_rec_infer.onnx"


class BackboneUnavailable(RuntimeError):
    pass


def model_path() -> Path:
    # find_spec locates the wheel without importing it (its __init__ pulls in OpenCV).
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise BackboneUnavailable("rapidocr-onnxruntime is not installed (pip install rapidocr-onnxruntime)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / MODEL_FILE
    if not path.is_file():
        raise BackboneUnavailable(f"{path} not found in the rapidocr-onnxruntime wheel")
    return path


@functools.lru_cache(maxsize=1)
def model_digest() -> str:
    return hashlib.sha256(model_path().read_bytes()).hexdigest()


def preprocess(images: Sequence["Image.Image"]) -> np.ndarray:
    from PIL import Image

    batch = np.zeros((len(images), 3, HEIGHT, WIDTH), dtype=np.float32)
    for i, im in enumerate(images):
        w = min(WIDTH, max(1, int(np.ceil(HEIGHT * im.width / im.height))))
        arr = np.asarray(im.convert("L").resize((w, HEIGHT), Image.BILINEAR), dtype=np.float32)
        batch[i, :, :, :w] = (arr / 255.0 - 0.5) / 0.5
    return batch


def feature_model():
    """The recogniser cut at its sequence feature: the CTC classifier's nodes removed, not just
    ignored (onnxruntime would still run them)."""
    import onnx

    model = onnx.load(str(model_path()))
    needed, kept = {FEATURE_TENSOR}, []
    for node in reversed(model.graph.node):
        if needed & set(node.output):
            kept.append(node)
            needed |= set(node.input)
    del model.graph.node[:]
    model.graph.node.extend(reversed(kept))
    del model.graph.output[:]
    model.graph.output.append(onnx.helper.make_tensor_value_info(FEATURE_TENSOR, onnx.TensorProto.FLOAT, None))
    return model


class PPOCRFeatures:
    """Per-frame features of the frozen PP-OCRv4 recogniser."""

    def __init__(self, threads: int | None = None, model=None):
        import onnxruntime as ort

        model = model if model is not None else feature_model()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or int(os.environ.get("HWR_BENCH_THREADS", os.cpu_count() or 1))
        # Idle onnxruntime threads otherwise spin for a while after each run, stealing the cores
        # from the numpy head that runs next (measured: 25 -> 12 ms per single image).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, images: Sequence["Image.Image"], batch_size: int = 32) -> np.ndarray:
        out = []
        for i in range(0, len(images), batch_size):
            feats = self.session.run([FEATURE_TENSOR], {self.input_name: preprocess(images[i:i + batch_size])})[0]
            out.append(feats)
        return np.concatenate(out) if out else np.zeros((0, WIDTH // 8, 0), dtype=np.float32)
