"""A model as a list of weight layers: what ``Retriever.compute_layers`` returns, for MAC counts
and the compute-in-memory estimate (``bench.efficiency``).

A ``Layer`` is one weight matrix applied ``applications`` times per image (a
convolution: once per output position; a linear layer: once per token). Its
multiply-accumulates are ``rows x cols x applications``. Products of two
activations (attention) have no stored weights: kind ``matmul``, counted in
MACs but never mapped to a crossbar. ``methodkit.layers`` reads them from ONNX
files and torch modules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str            # "conv", "depthwise", "linear" (stored weights) or "matmul" (activation x activation)
    rows: int            # length of one dot product: Cin/groups x kh x kw, or K
    cols: int            # dot products per application: Cout, or N
    applications: int    # applications per image: output positions, or tokens

    @property
    def macs(self) -> int:
        return self.rows * self.cols * self.applications

    @property
    def has_weights(self) -> bool:
        return self.kind != "matmul"

    def to_json(self) -> dict:
        return {**asdict(self), "macs": self.macs}


def total_macs(layers: Sequence[Layer]) -> int:
    return int(sum(layer.macs for layer in layers))
