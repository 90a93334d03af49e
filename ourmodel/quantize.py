"""int8 post-training quantisation of ``ours``' visual backbone with onnxruntime.

The backbone quantised is the one a checkpoint's head reads (its ``config.json``: ``source``,
and for a posterior backbone ``alphabet``): PP-OCRv6 with its classifier cut to the lexicon's
characters for generation 2, PP-OCRv4 cut at its feature for generation 1.

Recipe (chosen by measurement, see README "Efficiency"): that graph, Paddle's Constant-node weights turned
into initializers (the quantiser only sees initializers), ``quant_pre_process``
(symbolic shape inference skipped: it cannot resolve this export), then
``quantize_static`` in QOperator format (the QDQ form needs opset >= 13; this
model is older), per-channel int8 weights, uint8 activations, MinMax
calibration on training images, weights in a 7-bit range (``reduce_range``: no saturation on CPUs
without VNNI). Convolutions (and the elementwise Add / Mul between them) are
quantised; the attention and classifier MatMuls stay fp32 (quantising them cost far more accuracy than time saved).

    bench quantize --out ourmodel/checkpoints/ours-int8 [--checkpoint DIR] [--dataset PATH]

The head then either stays the fp32 checkpoint's (post-training quantisation alone, what
generation 3 ships: the int8 folder holds no ``model.safetensors``) or is fine-tuned on the int8
backbone's outputs (``bench train --out DIR --set backbone='"ppocrv6-int8"' --set
init_from='"ourmodel/checkpoints/ours"' --set steps=300 --set lr=5e-4``; the other options default
to the shipped recipe) and its ``final/`` files copied into the int8 folder (generation 2's way).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from ourmodel.ppocr import Backbone, preprocess

RECIPE = {"format": "QOperator", "weights": "int8 per-channel, 7-bit range", "activations": "uint8",
          "calibration": "MinMax",
          "quantised_ops": ["Conv", "Add", "Mul"], "fp32_ops": ["MatMul"], "calibration_images": 128}
BACKBONE_FILE = "backbone-int8.onnx"


CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"


def default_checkpoint_dir() -> Path:
    """The shipped ``ours`` checkpoint."""
    return CHECKPOINTS / "ours"


def default_int8_dir() -> Path:
    """The shipped ``ours-int8`` folder: the int8 backbone (and a head tuned on its outputs, if any)."""
    return CHECKPOINTS / "ours-int8"


def quantised_source(folder: Path) -> str | None:
    """The backbone an int8 folder's graph was quantised from (``quantization.json``; generation 1
    recorded none: PP-OCRv4's features), or None when the folder has no record."""
    record = Path(folder) / "quantization.json"
    if not record.is_file():
        return None
    return json.loads(record.read_text()).get("source", "ppocrv4-features")


def quantised_alphabet(folder: Path) -> str | None:
    """The alphabet a posterior graph in an int8 folder was restricted to (``quantization.json``),
    or None when the folder has no record or the record names none."""
    record = Path(folder) / "quantization.json"
    if not record.is_file():
        return None
    alphabet = json.loads(record.read_text()).get("alphabet")
    return alphabet if isinstance(alphabet, str) else None


def constants_to_initializers(model):
    import onnx

    kept = []
    for node in model.graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            tensor = onnx.TensorProto()
            tensor.CopyFrom(node.attribute[0].t)
            tensor.name = node.output[0]
            model.graph.initializer.append(tensor)
        else:
            kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def calibration_images(dataset, n: int) -> list:
    """Every k-th training image: spread over languages, words and styles."""
    keys = sorted(s.key for s in dataset.select(split="train"))
    return [it.image for it in dataset.image_items(keys[::max(1, len(keys) // n)][:n])]


def quantize_backbone(images: list, out: Path, fp32_model, reduce_range: bool = True) -> Path:
    """``fp32_model`` (an onnx ModelProto, changed in place) quantised into ``out``
    (``reduce_range`` False: full 8-bit weights, for comparison)."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quant_pre_process, quantize_static)

    model = constants_to_initializers(fp32_model)
    input_name = model.graph.input[0].name
    matmuls = [n.name for n in model.graph.node if n.op_type == "MatMul"]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{input_name: preprocess(images[i:i + 16])} for i in range(0, len(images), 16)])

        def get_next(self):
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        fp32, pre = Path(tmp) / "fp32.onnx", Path(tmp) / "pre.onnx"
        onnx.save(model, str(fp32))
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=matmuls,
                        # 7-bit weights: without VNNI (AVX2, AVX-512F) onnxruntime's u8 x s8 products
                        # saturate in 16 bits (measured: benchmarks/int8.py).
                        reduce_range=reduce_range)
    return out


def write_int8_backbone(dataset, out: Path, source: Backbone, alphabet: str = "") -> Path:
    """Quantise ``source``'s graph (restricted to ``alphabet``) on ``dataset``'s training images
    into ``out`` (``bench quantize``)."""
    np.seterr(all="ignore")
    out.mkdir(parents=True, exist_ok=True)
    quantize_backbone(calibration_images(dataset, RECIPE["calibration_images"]), out / BACKBONE_FILE,
                      source.onnx_model(alphabet))
    (out / "quantization.json").write_text(json.dumps(
        {"recipe": RECIPE, "source": source.name, "source_sha256": source.digest(), "alphabet": alphabet,
         "calibration_dataset": dataset.name, "calibration_fingerprint": dataset.fingerprint},
        indent=2, sort_keys=True) + "\n")
    return out / BACKBONE_FILE
