"""MAC counting against hand-computed values; the compute-in-memory estimate against the chip's
published figures."""

import json
import math

import pytest

from bench.efficiency.cim import estimate
from bench.api.layers import Layer, total_macs
from methodkit.layers import onnx_layers, torch_layers, torch_macs
from helpers import plugin_site
from test_cli import bench

torch = pytest.importorskip("torch")

# The NeuRRAM chip's measured figures for all 48 cores, in the paper's units: Wan et al., "A
# compute-in-memory chip based on resistive random-access memory", Nature 608, 504-512 (2022),
# Extended Data Fig. 12 (d: peak throughput, GOPS; e: throughput-power efficiency, TOPS/W; one
# multiply-accumulate counts as two operations; outputs are two bits wider than inputs).
# precision -> ((input bits, output bits), peak GOPS, TOPS/W)
NEURRAM_48_CORES = {"int8": ((8, 10), 264, 6.44), "int4": ((4, 6), 744, 15.95)}
CHIP_LAYER = Layer("chip", "linear", rows=6 * 256, cols=8 * 128, applications=1000)   # 6 x 8 = all 48 cores

# 1x8x8 input: conv 3x3 (1->4, pad 1): 4*9*64 = 2304; depthwise 3x3 (4 ch): 4*9*64 = 2304;
# pointwise 1x1 stride 2 (4->8): 8*4*16 = 512; linear 128->10: 1280.
HAND_MACS = 2304 + 2304 + 512 + 1280


def small_net():
    nn = torch.nn
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, groups=4),
                         nn.Conv2d(4, 8, 1, stride=2), nn.Flatten(), nn.Linear(128, 10)).eval()


def test_torch_counts_match_the_hand_count():
    x = torch.zeros(1, 1, 8, 8)
    layers = torch_layers(small_net(), x)
    assert [layer.kind for layer in layers] == ["conv", "depthwise", "conv", "linear"]
    assert total_macs(layers) == HAND_MACS
    assert torch_macs(small_net(), x) == HAND_MACS


def test_onnx_counts_match_the_hand_count(tmp_path):
    pytest.importorskip("onnx")
    path = tmp_path / "net.onnx"
    torch.onnx.export(small_net(), (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False,
                      input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    layers = onnx_layers(path, (1, 1, 8, 8))
    assert total_macs(layers) == HAND_MACS
    assert sorted(layer.kind for layer in layers) == ["conv", "conv", "depthwise", "linear"]


def test_attention_is_counted_on_cpu():
    # E = 8, 5 tokens: input projections 3*5*8*8 = 960, QK^T 5*5*8 = 200, AV 200, output 5*8*8 = 320.
    attention = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    x = torch.zeros(1, 5, 8)
    assert torch_macs(lambda t: attention(t, t, t, need_weights=False), x) == 960 + 200 + 200 + 320


@pytest.mark.parametrize("precision", sorted(NEURRAM_48_CORES))
def test_cim_presets_reproduce_the_published_chip_figures(precision):
    (in_bits, out_bits), gops, tops_per_watt = NEURRAM_48_CORES[precision]
    est = estimate([CHIP_LAYER], precision)
    assert (est.in_bits, est.out_bits) == (in_bits, out_bits) and est.out_bits == est.in_bits + 2
    assert est.cores == 48 and est.chips == 1
    # Energy per MAC: X TOPS/W is 1000 / X fJ per operation, two operations per MAC.
    fj_per_mac = est.energy_uj * 1e9 / est.macs_mapped
    assert fj_per_mac == pytest.approx(2 * 1000 / tops_per_watt, rel=1e-3)
    # A model filling the chip, pipelined, runs at the chip's peak throughput.
    ops_per_second = 2 * est.macs_mapped / (est.pipelined_us_per_image * 1e-6)
    assert ops_per_second == pytest.approx(gops * 1e9, rel=1e-3)


def test_cim_estimate_of_a_single_layer():
    fc = Layer("fc", "linear", rows=300, cols=200, applications=10)
    est = estimate([fc], "int8")
    assert est.cores == 2 * 2 and est.chips == 1                      # 300 rows -> 2, 200 signed cols -> 2
    chip = estimate([CHIP_LAYER], "int8")
    assert est.energy_uj / est.macs_mapped == pytest.approx(chip.energy_uj / chip.macs_mapped)   # energy is per MAC
    # Latency: one matrix-vector product per application, one after another.
    assert est.latency_us == pytest.approx(10 * estimate([Layer("fc", "linear", 300, 200, 1)], "int8").latency_us)
    # Pipelined: the chip's published throughput, scaled to the 4 of its 48 cores the layer occupies.
    gops = NEURRAM_48_CORES["int8"][1]
    assert est.pipelined_us_per_image == pytest.approx(2 * 300 * 200 * 10 / (gops * 1e9 * 4 / 48) * 1e6, rel=1e-3)
    # The same figures by hand, as literals (not re-derived from the module's constants): 600,000 MACs
    # at 6.44 TOPS/W; 10 x (8 bits x 0.27 us + 10 ADC steps x 0.3 us); 1.2 M ops at 264 GOPS x 4/48.
    assert (round(est.energy_uj, 5), round(est.latency_us, 3), round(est.pipelined_us_per_image, 3)) == \
        (0.18634, 51.6, 54.545)
    low = estimate([fc], "int4")
    assert low.energy_uj < est.energy_uj and low.latency_us < est.latency_us   # fewer bits: cheaper, faster


def test_cim_packs_depthwise_block_diagonally_and_skips_activation_products():
    dw = Layer("dw", "depthwise", rows=9, cols=200, applications=100)
    attn = Layer("qk", "matmul", rows=64, cols=10, applications=10)
    est = estimate([dw, attn], "int8")
    assert est.cores == math.ceil(200 / 28)                          # 28 channels of 9 taps per core
    assert est.macs_mapped == 9 * 200 * 100 and est.macs_not_mapped == 64 * 10 * 10
    assert estimate([Layer("big", "conv", 256 * 48, 128, 1)], "int8").chips == 1
    assert estimate([Layer("big", "conv", 256 * 49, 128, 1)], "int8").chips == 2


PLUGIN = '''
from dataclasses import dataclass

import numpy as np
from bench.api.layers import Layer
from bench.api.retriever import EmbeddingRetriever, MethodInfo


@dataclass(frozen=True)
class WidthOptions:
    int8: bool = False


class WidthEmbedding(EmbeddingRetriever):
    Options = WidthOptions

    @property
    def info(self):
        name = "width-int8" if self.options.int8 else "width-fp32"
        config = {"quantized_from": "width-fp32"} if self.options.int8 else {}
        return MethodInfo(name=name, group="end-to-end", version="1", params=300 * 200, config=config)

    def compute_layers(self):
        return [Layer("fc", "linear", 300, 200, 10)]

    def embed_images(self, items):
        return np.array([[it.image.width / 10.0, 1.0] for it in items])

    def embed_texts(self, texts, lang):
        return np.array([[len(t), 1.0] for t in texts])
'''


def test_efficiency_command_writes_records_the_leaderboard_shows(tmp_path, toy_dataset_path):
    site = plugin_site(tmp_path / "site", "hwr_eff_demo", PLUGIN, {"width-fp32": "hwr_eff_demo:WidthEmbedding",
                                                                  "width-int8": "hwr_eff_demo:WidthEmbedding"})
    common = dict(cwd=tmp_path, extra_path=site)
    bench("run", "--methods", "width-fp32,width-int8", "-o", "width-int8.int8=1", "--dataset", str(toy_dataset_path),
          "--quiet", "--bootstrap", "0", **common)
    bench("efficiency", "--methods", "width-fp32,width-int8", "-o", "width-int8.int8=1",
          "--dataset", str(toy_dataset_path), "-q", **common)
    unknown = bench("efficiency", "--methods", "no-such-method", "--dataset", str(toy_dataset_path), "-q",
                    **common, check=False)
    assert unknown.returncode == 2 and "no-such-method" in unknown.stderr
    record = json.loads((tmp_path / "results" / "width-fp32" / "efficiency.json").read_text())
    assert record["status"] == "ok" and record["macs_per_image"] == 300 * 200 * 10
    assert record["latency_ms"]["batch1"] > 0 and record["peak_rss_mb"] > 0
    assert record["cim"]["int8"]["cores"] == 4
    bench("plot", "--projection", "width-fp32", "--dataset", str(toy_dataset_path), "-q", **common)
    for name in ("accuracy_vs_latency.png", "xling_heatmap.png", "projection_width-fp32.png"):
        assert (tmp_path / "results" / "plots" / name).stat().st_size > 1000
    bench("leaderboard", **common)
    board = (tmp_path / "leaderboard.md").read_text()
    assert "## Efficiency" in board and "| `width-fp32` | 0.06 |" in board
    assert "| `width-int8` | `width-fp32` | +0.0000 |" in board          # int8 row beside its fp32 base
    assert "results/plots/accuracy_vs_latency.png" in board
