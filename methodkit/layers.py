"""A model's weight layers (``bench.api.layers.Layer``, what ``Retriever.compute_layers`` returns),
read from its files.

Sources: an ONNX file (shapes read by running onnxruntime once with every
intermediate tensor exposed, so dynamic-shape exports work), or a torch module
(forward hooks on Conv/Linear). ``torch_macs`` cross-checks a module with
``torch.utils.flop_counter`` (FLOPs / 2), which also sees attention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from bench.api import Layer


# -- ONNX -------------------------------------------------------------------------------------

def onnx_layers(model, input_shape: Sequence[int]) -> list[Layer]:
    """Conv, MatMul and Gemm layers of an ONNX model (a path or a ModelProto) for one input of
    ``input_shape`` (batch 1)."""
    import onnx
    import onnxruntime as ort

    if isinstance(model, (str, Path)):
        model = onnx.load(str(model))
    else:
        model = onnx.ModelProto.FromString(model.SerializeToString())   # we add outputs: work on a copy
    graph = model.graph
    weights = {i.name: tuple(i.dims) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    weights[node.output[0]] = tuple(a.t.dims)
    wanted = {o for n in graph.node if n.op_type in ("Conv", "MatMul", "Gemm") for o in list(n.input) + list(n.output)}
    wanted -= set(weights)
    existing = {o.name for o in graph.output}
    for name in sorted(wanted - existing - {i.name for i in graph.input}):
        graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {feed_name: np.zeros(tuple(input_shape), dtype=np.float32)})
    shapes = dict(zip(names, (v.shape for v in values)))
    shapes[feed_name] = tuple(input_shape)

    layers = []
    for i, node in enumerate(graph.node):
        label = node.name or f"{node.op_type}_{i}"
        if node.op_type == "Conv":
            w = weights[node.input[1]]
            out = shapes[node.output[0]]
            groups = next((a.i for a in node.attribute if a.name == "group"), 1)
            kernel = int(np.prod(w[2:]))
            positions = int(np.prod(out[2:]))
            if groups > 1 and groups == w[0] and w[1] == 1:
                layers.append(Layer(label, "depthwise", kernel, w[0], positions))
            else:
                layers.append(Layer(label, "conv", w[1] * kernel, w[0], positions))
        elif node.op_type in ("MatMul", "Gemm"):
            a, b = node.input[0], node.input[1]
            out = shapes[node.output[0]]
            trans_b = node.op_type == "Gemm" and any(x.name == "transB" and x.i for x in node.attribute)
            if b in weights:
                k, n = (weights[b][-1], weights[b][-2]) if trans_b else (weights[b][-2], weights[b][-1])
                layers.append(Layer(label, "linear", int(k), int(n), int(np.prod(out[:-1]))))
            else:
                k = shapes[a][-1]
                layers.append(Layer(label, "matmul", int(k), int(out[-1]), int(np.prod(out[:-1]))))
    return layers


# -- torch ------------------------------------------------------------------------------------

def torch_layers(module, *example_inputs) -> list[Layer]:
    """Conv and Linear layers of a torch module, from one forward pass on batch-1 inputs."""
    import torch

    layers: list[Layer] = []
    hooks = []

    def hook(name):
        def record(mod, inputs, output):
            if isinstance(mod, torch.nn.modules.conv._ConvNd):
                kernel = int(np.prod(mod.kernel_size))
                positions = int(np.prod(output.shape[2:]))
                if mod.groups > 1 and mod.groups == mod.in_channels == mod.out_channels:
                    layers.append(Layer(name, "depthwise", kernel, mod.out_channels, positions))
                else:
                    layers.append(Layer(name, "conv", mod.in_channels // mod.groups * kernel, mod.out_channels,
                                        positions))
            else:
                layers.append(Layer(name, "linear", mod.in_features, mod.out_features,
                                    int(np.prod(output.shape[:-1]))))
        return record

    for name, mod in module.named_modules():
        if isinstance(mod, (torch.nn.modules.conv._ConvNd, torch.nn.Linear)):
            hooks.append(mod.register_forward_hook(hook(name)))
    try:
        with torch.inference_mode():
            module(*example_inputs)
    finally:
        for h in hooks:
            h.remove()
    return layers


def torch_macs(module, *example_inputs) -> int:
    """MACs of one forward pass by torch's FLOP counter (FLOPs / 2), attention included."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, register_flop_formula

    _register_cpu_attention(register_flop_formula)
    # The fused MHA fast path bypasses the counted ops: force the plain path.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            module(*example_inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return int(counter.get_total_flops() // 2)


_REGISTERED = False


def _register_cpu_attention(register_flop_formula) -> None:
    """torch counts the CUDA flash/efficient attention kernels but not the CPU one."""
    global _REGISTERED
    if _REGISTERED:
        return
    import torch
    from torch.utils.flop_counter import sdpa_flop_count

    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if op is not None:
        @register_flop_formula(op, get_raw=True)
        def _cpu_attention_flops(query, key, value, *args, out_val=None, **kwargs) -> int:
            return sdpa_flop_count(query.shape, key.shape, value.shape)
    _REGISTERED = True
