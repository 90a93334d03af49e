"""Inference of a trained ``ppocr``-backbone dual encoder with numpy and onnxruntime only.

The shipped ``ours`` runs without torch: the frozen PP-OCRv4 backbone in
onnxruntime, then this module's numpy forward pass of the trained head and
text projector (checked against the torch modules in the tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.api import Layer, one_blas_thread, timing_calls
from ourmodel.anchors import checkpoint_pyramid

_ENC = "visual.encoder"   # generation 3's SpellingEncoder, shared by both towers
_GELU_C = np.float32(np.sqrt(2.0 / np.pi))


ANCHOR_BATCH = 256   # rows of every text-projector product (see NumpyDualEncoder.encode_anchors)


def _gelu(x: np.ndarray) -> np.ndarray:
    # tanh approximation, as the torch head uses; x*x*x, not x**3 (a float power is ~10x slower).
    inner = x * x
    inner *= np.float32(0.044715) * x
    inner += x
    inner *= _GELU_C
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= 0.5 * x
    return inner


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True).clip(min=1e-12)


def _linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


class NumpyDualEncoder:
    def __init__(self, folder: Path):
        from safetensors.numpy import load_file

        folder = Path(folder)
        self.config = json.loads((folder / "config.json").read_text())
        if self.config["backbone"] != "ppocr":
            raise ValueError(f"{folder}: numpy inference supports the ppocr backbone, not {self.config['backbone']!r}")
        self.w = {k: v.astype(np.float32) for k, v in load_file(str(folder / "model.safetensors")).items()}
        self.pyramid = checkpoint_pyramid(self.config)   # generation 3; None: the conv head
        # Conv1d weights as one (3 * in, out) matrix, laid out once rather than on every call.
        self._conv = {name[:-len(".weight")]: np.ascontiguousarray(w.transpose(2, 1, 0).reshape(-1, w.shape[0]))
                      for name, w in self.w.items() if name.startswith("visual.conv.") and name.endswith(".weight")}

    @property
    def embed_dim(self) -> int:
        return self.w["text.linear.weight"].shape[0]

    @property
    def text_input_width(self) -> int:
        """Columns of ``encode_anchors``' input: anchor [+ spelling vector] [+ flattened pyramid]."""
        width = self.w["text.linear.weight"].shape[1]
        return width + (int(np.prod(self.pyramid.shape)) if self.pyramid is not None else 0)

    def n_params(self, prefix: str) -> int:
        return int(sum(v.size for k, v in self.w.items() if k.startswith(prefix)))

    def head_layers(self, frames: int = 40) -> list:
        """The visual head's weight layers for one image of ``frames`` feature frames."""
        w = self.w
        if self.pyramid is not None:
            return self._pyramid_layers()
        layers = []
        if "visual.input_proj.weight" in w:
            out_f, in_f = w["visual.input_proj.weight"].shape
            layers.append(Layer("visual.input_proj", "linear", in_f, out_f, frames))
        for name in ("visual.conv.0", "visual.conv.2"):
            out_c, in_c, k = w[f"{name}.weight"].shape
            layers.append(Layer(name, "conv", in_c * k, out_c, frames))
        score = w["visual.pool.score.weight"]
        layers.append(Layer("visual.pool.score", "linear", score.shape[1], score.shape[0], frames))
        for name in ("visual.proj.net.0", "visual.proj.net.3"):
            out_f, in_f = w[f"{name}.weight"].shape
            layers.append(Layer(name, "linear", in_f, out_f, 1))
        return layers

    def _pyramid_layers(self) -> list:
        # The pyramid itself (presence per region from the frames) multiplies no weights.
        chars, width = self.w[f"{_ENC}.chars"].shape
        layers = [Layer(f"{_ENC}.chars", "linear", chars, width, len(self.pyramid.regions))]
        for name in ("hidden.0", "spelling", "semantic.0", "semantic.2"):
            out_f, in_f = self.w[f"{_ENC}.{name}.weight"].shape
            layers.append(Layer(f"{_ENC}.{name}", "linear", in_f, out_f, 1))
        return layers

    def _spelling(self, presence: np.ndarray, semantic: bool) -> np.ndarray:
        """``ourmodel.towers.SpellingEncoder`` on (B, regions, characters): its spelling part, plus
        its semantic part if ``semantic`` (the image side), not normalised."""
        w = self.w
        regions = (presence @ w[f"{_ENC}.chars"]) * w[f"{_ENC}.region_scale"]
        h = _gelu(_linear(regions.reshape(len(presence), -1), w[f"{_ENC}.hidden.0.weight"], w[f"{_ENC}.hidden.0.bias"]))
        out = _linear(h, w[f"{_ENC}.spelling.weight"], w[f"{_ENC}.spelling.bias"])
        if semantic:
            hidden = _gelu(_linear(h, w[f"{_ENC}.semantic.0.weight"], w[f"{_ENC}.semantic.0.bias"]))
            out = out + _linear(hidden, w[f"{_ENC}.semantic.2.weight"], w[f"{_ENC}.semantic.2.bias"])
        return out

    def _conv1d(self, x: np.ndarray, name: str) -> np.ndarray:
        """Conv1d, kernel 3, padding 1, over (B, T, C) -> (B, T, out)."""
        padded = np.pad(x, ((0, 0), (1, 1), (0, 0)))
        stacked = np.concatenate([padded[:, k:k + x.shape[1]] for k in range(3)], axis=-1)
        return stacked @ self._conv[name] + self.w[f"{name}.bias"]

    def encode_features(self, features: np.ndarray) -> np.ndarray:
        # One image at a time, on one BLAS thread: BLAS picks kernels by matrix size and splits
        # work by thread count, so a batched or multi-threaded head would give an image bits that
        # depend on its batch-mates or the machine; this way the output is the image's own.
        # ``features``: (N, T, C), or N arrays (T_i, C) of their own lengths.
        if not len(features):
            return np.zeros((0, self.embed_dim), np.float32)
        with one_blas_thread():
            return np.concatenate([self._encode_one(np.asarray(f)[None]) for f in features])

    def encode_presence(self, presence: np.ndarray) -> np.ndarray:
        """A pyramid head's image vectors from the images' pyramids (``self.pyramid.images``; what
        ``encode_features`` computes first), one image at a time as there."""
        with one_blas_thread():
            return np.concatenate([_l2(self._spelling(p[None], semantic=True)) for p in presence]
                                  or [np.zeros((0, self.embed_dim), np.float32)])

    def _encode_one(self, features: np.ndarray) -> np.ndarray:
        w = self.w
        if self.pyramid is not None:
            return self.encode_presence(self.pyramid.images(features))
        x = features.astype(np.float32)
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        x = (x - mu) / np.sqrt(var + 1e-5) * w["visual.norm.weight"] + w["visual.norm.bias"]
        if "visual.input_proj.weight" in w:
            x = _linear(x, w["visual.input_proj.weight"], w["visual.input_proj.bias"])
        x = _gelu(self._conv1d(x, "visual.conv.0"))
        x = _gelu(self._conv1d(x, "visual.conv.2"))
        scores = _linear(x, w["visual.pool.score.weight"], w["visual.pool.score.bias"])[..., 0]
        scores = np.exp(scores - scores.max(1, keepdims=True))
        weights = scores / scores.sum(1, keepdims=True)
        pooled = np.concatenate([x.mean(1), (weights[..., None] * x).sum(1)], axis=-1)
        h = _gelu(_linear(pooled, w["visual.proj.net.0.weight"], w["visual.proj.net.0.bias"]))
        return _l2(_linear(h, w["visual.proj.net.3.weight"], w["visual.proj.net.3.bias"]))

    def encode_anchors(self, anchors: np.ndarray) -> np.ndarray:
        # Every product has ANCHOR_BATCH rows (zero rows pad the last), on one BLAS thread: one
        # shape, one kernel, so a text's vector is the same in any batch (a lone row would take
        # the matrix-vector kernel, ~2e-7 apart) and 6x faster than one text at a time. A timed
        # call (bench efficiency) runs a lone text alone: its true cost, and it stores nothing.
        if not len(anchors):
            return np.zeros((0, self.embed_dim), np.float32)
        anchors = np.asarray(anchors, dtype=np.float32)
        with one_blas_thread():
            if timing_calls():
                return np.concatenate([self._encode_anchor(anchors[i:i + 1]) for i in range(len(anchors))])
            out = []
            for start in range(0, len(anchors), ANCHOR_BATCH):
                chunk = anchors[start:start + ANCHOR_BATCH]
                padded = np.zeros((ANCHOR_BATCH, anchors.shape[1]), np.float32)
                padded[:len(chunk)] = chunk
                out.append(self._encode_anchor(padded)[:len(chunk)])
            return np.concatenate(out)

    def _encode_anchor(self, inputs: np.ndarray) -> np.ndarray:
        # ``inputs``: ``ourmodel.anchors.text_inputs``' rows: anchor [+ spelling vector] [+ pyramid].
        w = self.w
        width = w["text.linear.weight"].shape[1]
        a = inputs[:, :width].astype(np.float32)
        residual = _linear(_gelu(_linear(a, w["text.residual.0.weight"], w["text.residual.0.bias"])),
                           w["text.residual.2.weight"], w["text.residual.2.bias"])
        out = _linear(a, w["text.linear.weight"]) + residual
        if self.pyramid is not None:
            out = out + self._spelling(inputs[:, width:].reshape(len(inputs), *self.pyramid.shape), semantic=False)
        return _l2(out)
