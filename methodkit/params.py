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


def safetensors_param_count(folder: str | Path) -> int | None:
    """Parameters of every ``*.safetensors`` file in a folder, read from the headers only."""
    import json
    import struct

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        with file.open("rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        total += sum(int(np.prod(v["shape"])) for k, v in header.items() if k != "__metadata__")
    return total


def folder_bytes(folder: str | Path, suffixes=(".safetensors", ".bin", ".pt", ".pth", ".onnx")) -> int | None:
    sizes = [p.stat().st_size for p in Path(folder).rglob("*") if p.is_file() and p.suffix in suffixes]
    return sum(sizes) or None
