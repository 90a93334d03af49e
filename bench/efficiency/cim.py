"""An analytical estimate of running a model's weight layers on a NeuRRAM-like RRAM chip.

Model (after Wan et al., "A compute-in-memory chip based on resistive
random-access memory", Nature 608, 2022): 48 cores of 256 x 256 cells per
chip; a signed weight is a differential pair of cells, so a core holds 256
rows x 128 signed columns; a layer's weight matrix (rows = dot-product length,
cols = outputs) is tiled over ceil(rows / 256) x ceil(cols / 128) cores.
Depthwise convolutions are packed block-diagonally: one channel is a
(k*k) x 1 block, so a core holds min(floor(256 / (k*k)), 128) channels.

Cost, from the chip's measured 48-core figures at each input/output bit width:

* energy = 2 x MACs / (TOPS/W) (one MAC = two operations);
* single-image latency: one matrix-vector product on a layer's cores takes
  in_bits x 0.27 us (bit-serial input integration) + out_bits x 0.3 us (ADC
  steps); a layer runs its ``applications`` one after another and layers run
  one after another (no weight duplication): convolutions with thousands of
  output positions make this long;
* pipelined time per image: the chip's measured throughput (TOPS for 48
  cores) scaled to the cores the model occupies, i.e. every mapped core kept
  busy on a stream of images.

It counts array work only: no digital operations (activations, pooling,
normalisation, attention between activations), no data movement, no
peripheral overhead. An estimate, not a measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from bench.api.layers import Layer

CORE_ROWS, CORE_COLS, CORES_PER_CHIP = 256, 256, 48
SIGNED_COLS = CORE_COLS // 2
T_INTEGRATE_US, T_ADC_US = 0.27, 0.3

# (input bits, output bits) -> (TOPS, TOPS/W), 48 cores, from the chip's measurements.
MEASURED = {(1, 3): (2.12, 43.1), (2, 4): (1.79, 40.3), (4, 6): (0.744, 15.95),
            (6, 8): (0.418, 8.26), (8, 10): (0.264, 6.44)}
PRESETS = {"int8": (8, 10), "int4": (4, 6)}


@dataclass(frozen=True)
class CIMEstimate:
    precision: str
    in_bits: int
    out_bits: int
    cores: int
    chips: int
    macs_mapped: int
    macs_not_mapped: int
    energy_uj: float
    latency_us: float
    pipelined_us_per_image: float

    def to_json(self) -> dict:
        return dict(self.__dict__)


def cores_for(layer: Layer) -> int:
    if layer.kind == "depthwise":
        per_core = min(CORE_ROWS // layer.rows, SIGNED_COLS) if layer.rows <= CORE_ROWS else 0
        if per_core == 0:
            raise ValueError(f"{layer.name}: a {layer.rows}-tap depthwise kernel does not fit a core")
        return math.ceil(layer.cols / per_core)
    return math.ceil(layer.rows / CORE_ROWS) * math.ceil(layer.cols / SIGNED_COLS)


def estimate(layers: Sequence[Layer], precision: str = "int8") -> CIMEstimate:
    in_bits, out_bits = PRESETS[precision]
    tops, tops_per_watt = MEASURED[(in_bits, out_bits)]
    mapped = [layer for layer in layers if layer.has_weights]
    macs = sum(layer.macs for layer in mapped)
    cores = sum(cores_for(layer) for layer in mapped)
    step_us = in_bits * T_INTEGRATE_US + out_bits * T_ADC_US
    return CIMEstimate(
        precision=precision, in_bits=in_bits, out_bits=out_bits, cores=cores,
        chips=math.ceil(cores / CORES_PER_CHIP) if cores else 0,
        macs_mapped=int(macs), macs_not_mapped=int(sum(layer.macs for layer in layers if not layer.has_weights)),
        energy_uj=2 * macs / (tops_per_watt * 1e12) * 1e6,
        latency_us=sum(layer.applications for layer in mapped) * step_us,
        pipelined_us_per_image=(2 * macs / (tops * 1e12 * cores / CORES_PER_CHIP) * 1e6) if cores else 0.0)
