"""Adapting the frozen recogniser's last stage to a tier's writers (issue #31).

``ours`` reads PP-OCRv6's posteriors through its classifier, a linear map from the recogniser's
120-d per-frame sequence feature to 18,710 classes, cut to the lexicon's (``ourmodel.ppocr``). The
paper adapts its whole visual tower to handwriting; on this CPU the cheapest part to adapt is that
last stage: ``RecogniserTail`` is the classifier in torch, initialised from the ONNX graph's own
weights (so at step 0 it computes exactly the frozen recogniser's posteriors), optionally after a
residual adapter on the feature whose last layer starts at zero. Trained with CTC on the tier's
training transcriptions, it gives adapted posteriors in the head's input format.
``benchmarks/adapt_hand.py`` measures what each choice buys.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from methodkit.wheel_model import PPOCR_V6_WHEEL
from ourmodel.ppocr import LOG_FLOOR, Backbone, charset_of, classes

FEATURES = Backbone("ppocrv6-features", PPOCR_V6_WHEEL, "PP-OCRv6",
                    "PP-OCRv6 small rec (rapidocr 3.10.0), frozen, cut at its 120-d sequence feature",
                    feature_tensor="p2o.pd_op.transpose.8.0", batch=8)
CLASSIFIER = ("linear_8.w_0", "linear_8.b_0")   # the ONNX graph's classifier: (120, 18,710) and (18,710,)


class RecogniserTail(nn.Module):
    """(B, T, 120) sequence features -> (B, T, groups) group posteriors over blank, space and the
    alphabet's characters (a letter's case variants summed), as ``ourmodel.ppocr.PosteriorGroups``."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, groups: list[list[int]], adapter: int = 0):
        super().__init__()
        keep = np.array([i for g in groups for i in g], dtype=np.int64)
        self.classifier = nn.Linear(weight.shape[0], len(keep))
        with torch.no_grad():
            self.classifier.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight[:, keep].T)))
            self.classifier.bias.copy_(torch.from_numpy(bias[keep]))
        self.register_buffer("group_of", torch.from_numpy(np.repeat(np.arange(len(groups)), [len(g) for g in groups])))
        self.n_groups = len(groups)
        self.adapter = None
        if adapter:
            self.adapter = nn.Sequential(nn.LayerNorm(weight.shape[0]), nn.Linear(weight.shape[0], adapter),
                                         nn.GELU(approximate="tanh"), nn.Linear(adapter, weight.shape[0]))
            nn.init.zeros_(self.adapter[-1].weight)
            nn.init.zeros_(self.adapter[-1].bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features if self.adapter is None else features + self.adapter(features)
        probs = torch.softmax(self.classifier(x), dim=-1)
        grouped = torch.zeros(*probs.shape[:-1], self.n_groups, dtype=probs.dtype, device=probs.device)
        return grouped.index_add_(-1, self.group_of, probs)

    def head_inputs(self, features: torch.Tensor) -> torch.Tensor:
        """What ``ours``' head reads: ``log(p + LOG_FLOOR)`` of the group posteriors."""
        return torch.log(self(features) + LOG_FLOOR)


def tail_from_onnx(alphabet: str, adapter: int = 0) -> RecogniserTail:
    """The frozen recogniser's classifier over ``alphabet``'s groups (plus an adapter of that width)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(FEATURES.path()))
    inits = {t.name: t for t in model.graph.initializer}
    weight, bias = (numpy_helper.to_array(inits[name]).astype(np.float32) for name in CLASSIFIER)
    return RecogniserTail(weight, bias, classes(charset_of(model), alphabet), adapter)


def ctc_targets(texts: list[str], alphabet: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Each text's group indices (space 1, the alphabet's characters from 2; case-folded; characters
    outside the alphabet left out) concatenated, and their lengths: ``F.ctc_loss``'s targets."""
    column = {c: i + 2 for i, c in enumerate(alphabet)}
    column[" "] = 1
    labels = [[column[c] for c in text.lower() if c in column] for text in texts]
    return (torch.tensor([i for row in labels for i in row], dtype=torch.long),
            torch.tensor([len(row) for row in labels], dtype=torch.long))


def ctc_loss(tail: RecogniserTail, features: torch.Tensor, texts: list[str], alphabet: str) -> torch.Tensor:
    """Mean CTC loss of ``texts`` under the tail's group posteriors (blank is group 0)."""
    log_probs = torch.log(tail(features).clamp_min(1e-30)).transpose(0, 1)      # (T, B, groups)
    targets, lengths = ctc_targets(texts, alphabet)
    frames = torch.full((features.shape[0],), features.shape[1], dtype=torch.long)
    return F.ctc_loss(log_probs, targets, frames, lengths, blank=0, zero_infinity=True)
