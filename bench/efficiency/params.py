"""Parameter counts of models stored in files."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np


@functools.lru_cache(maxsize=16)
def onnx_param_count(path: str | Path) -> int:
    """Float weights of an ONNX model: initializers plus tensor-valued Constant nodes
    (Paddle exports keep their weights as Constants)."""
    import onnx

    model = onnx.load(str(path))
    tensors = list(model.graph.initializer)
    tensors += [a.t for n in model.graph.node if n.op_type == "Constant"
                for a in n.attribute if a.name == "value"]
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE)
    return int(sum(np.prod(t.dims) for t in tensors if t.data_type in floats and len(t.dims) >= 1))
