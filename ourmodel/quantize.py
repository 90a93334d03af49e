"""int8 post-training quantisation of ``ours``' visual backbone with onnxruntime.

Recipe (chosen by measurement, see README "Efficiency"): the recogniser cut at
its feature (``ppocr.feature_model``), Paddle's Constant-node weights turned
into initializers (the quantiser only sees initializers), ``quant_pre_process``
(symbolic shape inference skipped: it cannot resolve this export), then
``quantize_static`` in QOperator format (the QDQ form needs opset >= 13; this
model is older), per-channel int8 weights, uint8 activations, MinMax
calibration on training images. Convolutions are quantised; the attention
MatMuls stay fp32 (quantising them cost far more accuracy than time saved).

    bench quantize --out ourmodel/checkpoints/ours-int8 [--dataset PATH]

The head then either stays the fp32 checkpoint's (post-training quantisation alone: the
features shift enough that accuracy collapses, see README) or is fine-tuned on the int8
features: ``bench train --set backbone='"ppocr-int8"' --set init_from='"ourmodel/checkpoints/ours"'
--set text_lr_scale=0`` and its ``final/`` files copied into the int8 folder.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from ourmodel.ppocr import feature_model, preprocess

RECIPE = {"format": "QOperator", "weights": "int8 per-channel", "activations": "uint8", "calibration": "MinMax",
          "quantised_ops": ["Conv"], "fp32_ops": ["MatMul"], "calibration_images": 128}
BACKBONE_FILE = "backbone-int8.onnx"


def default_int8_dir() -> Path:
    return Path(__file__).resolve().parent / "checkpoints" / "ours-int8"


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


def quantize_backbone(images: list, out: Path) -> Path:
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quant_pre_process, quantize_static)

    model = constants_to_initializers(feature_model())
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
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=matmuls)
    return out


def write_int8_backbone(dataset, out: Path) -> Path:
    """Quantise the backbone on ``dataset``'s training images into ``out`` (``bench quantize``)."""
    np.seterr(all="ignore")
    out.mkdir(parents=True, exist_ok=True)
    quantize_backbone(calibration_images(dataset, RECIPE["calibration_images"]), out / BACKBONE_FILE)
    (out / "quantization.json").write_text(json.dumps(
        {"recipe": RECIPE, "calibration_dataset": dataset.name, "calibration_fingerprint": dataset.fingerprint},
        indent=2, sort_keys=True) + "\n")
    return out / BACKBONE_FILE
