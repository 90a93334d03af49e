"""The two towers of the asymmetric dual encoder and their projectors into the shared space."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ourmodel.mobilenetv3 import MobileNetV3Small
from ourmodel.ppocr import GROUPS_BEFORE_ALPHABET, LOG_FLOOR
from ourmodel.pyramid import pyramid_regions

EMBED_DIM = 128
# GELU in its tanh form everywhere: the numpy inference path reproduces it exactly.


class AttentionPool(nn.Module):
    """Mean and learned-query attention pooling over a sequence, concatenated."""

    def __init__(self, dim: int):
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, 2D)
        weights = torch.softmax(self.score(x).squeeze(-1), dim=1)
        return torch.cat([x.mean(1), (weights.unsqueeze(-1) * x).sum(1)], dim=-1)


class Projector(nn.Module):
    def __init__(self, din: int, dout: int = EMBED_DIM, hidden: int = 512, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(din, hidden), nn.GELU(approximate="tanh"), nn.Dropout(dropout), nn.Linear(hidden, dout))

    def forward(self, x):
        return self.net(x)


class MobileNetTower(nn.Module):
    """The paper's visual tower: MobileNetV3-Small on the word image, pooled over width, projected."""

    def __init__(self, dim: int = EMBED_DIM):
        super().__init__()
        self.backbone = MobileNetV3Small()
        self.pool = AttentionPool(self.backbone.out_channels)
        # hidden=256 puts the tower at the paper's 1.29M parameters.
        self.proj = Projector(2 * self.backbone.out_channels, dim, hidden=256)

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (B, 1, H, W) in [0, 1], ink dark
        fmap = self.backbone(1.0 - images)                   # ink as signal, paper as zero
        seq = fmap.mean(2).transpose(1, 2)                   # (B, W', C)
        return F.normalize(self.proj(self.pool(seq)), dim=-1)


class SequenceHeadTower(nn.Module):
    """Visual tower over a frozen recogniser's per-frame features (B, T, C): conv, pool, project."""

    def __init__(self, feature_dim: int, dim: int = EMBED_DIM, width: int = 384, input_proj: int = 0):
        super().__init__()
        self.norm = nn.LayerNorm(feature_dim)
        # Wide per-frame inputs (a recogniser's posteriors over the lexicon's ~1,150 characters)
        # first go through a per-frame linear map, a learned character embedding: the conv that
        # follows then costs as much as on a 120-d feature.
        self.input_proj = nn.Linear(feature_dim, input_proj) if input_proj else None
        conv_in = input_proj or feature_dim
        self.conv = nn.Sequential(nn.Conv1d(conv_in, width, 3, padding=1), nn.GELU(approximate="tanh"),
                                  nn.Conv1d(width, width, 3, padding=1), nn.GELU(approximate="tanh"))
        self.pool = AttentionPool(width)
        self.proj = Projector(2 * width, dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.norm(features)
        if self.input_proj is not None:
            x = self.input_proj(x)
        x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        return F.normalize(self.proj(self.pool(x)), dim=-1)


class TextProjector(nn.Module):
    """Frozen anchor vectors (e.g. multilingual USE, 512-d) into the shared space.

    A linear map initialised to the anchor's top principal directions (so the
    projected geometry, and with it the anchor's cross-lingual alignment, is
    kept at the start) plus a residual MLP whose last layer starts at zero.
    """

    def __init__(self, anchor_dim: int, dim: int = EMBED_DIM, hidden: int = 512):
        super().__init__()
        self.linear = nn.Linear(anchor_dim, dim, bias=False)
        self.residual = nn.Sequential(nn.Linear(anchor_dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        nn.init.zeros_(self.residual[-1].weight)
        nn.init.zeros_(self.residual[-1].bias)

    @torch.no_grad()
    def init_from_anchors(self, anchors: np.ndarray) -> None:
        x = np.asarray(anchors, dtype=np.float64)
        # With fewer anchors than output dims, the full basis completes the top directions.
        full = x.shape[0] < self.linear.out_features
        _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=full)
        self.linear.weight.copy_(torch.from_numpy(vt[: self.linear.out_features]).float())

    def project(self, anchors: torch.Tensor) -> torch.Tensor:
        return self.linear(anchors) + self.residual(anchors)

    def forward(self, anchors: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.project(anchors), dim=-1)


class SpellingEncoder(nn.Module):
    """A pyramid of character presence (B, regions, characters) -> the 128-d space, shared by both
    towers (generation 3). One embedding per character, the same in every region and for image and
    word: an image's soft presence and a word's exact 0/1 pyramid go through the same maps, so a
    character learns from every lexicon word that has it, not only from its images. Returns the
    spelling part and a semantic part (what the spelling means, to meet the other languages' words;
    only the image tower adds it, the text tower has its anchor)."""

    def __init__(self, characters: int, regions: int, char_dim: int = 128, dim: int = EMBED_DIM, hidden: int = 512):
        super().__init__()
        self.chars = nn.Parameter(torch.randn(characters, char_dim) / char_dim ** 0.5)
        self.region_scale = nn.Parameter(torch.ones(regions, 1))
        self.hidden = nn.Sequential(nn.Linear(regions * char_dim, hidden), nn.GELU(approximate="tanh"))
        self.spelling = nn.Linear(hidden, dim)
        self.semantic = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))

    def forward(self, presence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden((torch.einsum("brc,cd->brd", presence, self.chars) * self.region_scale).flatten(1))
        return self.spelling(h), self.semantic(h)


class PyramidTower(nn.Module):
    """Visual tower of generation 3: a posterior recogniser's log-posteriors (B, T, groups) -> their
    pyramid of character presence (``ourmodel.pyramid``, nothing learned) -> ``SpellingEncoder``."""

    def __init__(self, characters: int, levels: tuple[int, ...], char_dim: int = 128, dim: int = EMBED_DIM):
        super().__init__()
        self.regions = pyramid_regions(levels)
        self.encoder = SpellingEncoder(characters, len(self.regions), char_dim, dim)

    def presence(self, x: torch.Tensor, warp: torch.Tensor | None = None) -> torch.Tensor:
        """``ourmodel.pyramid.Pyramid.images`` in torch, for a batch of equal-length inputs.
        ``warp`` (B,), training only: each image's frame positions bent by t + a sin(pi t) / pi
        (monotone for |a| < 1, ends fixed), as a hand that crowds or stretches part of a word moves
        characters across region borders."""
        probs = (x.double().exp() - LOG_FLOOR).clamp(0.0, 1.0)
        mass = 1.0 - probs[..., 0]
        position = (mass.cumsum(-1) - 0.5 * mass) / mass.sum(-1, keepdim=True).clamp_min(1e-6)
        if warp is not None:
            position = position + warp.double()[:, None] * torch.sin(torch.pi * position) / torch.pi
        inside = torch.stack([(position >= lo) & ((position < hi) | (hi >= 1.0)) for lo, hi in self.regions], -1)
        log_absent = torch.log1p(-probs[..., len(GROUPS_BEFORE_ALPHABET):].clamp(0.0, 1.0 - 1e-7))
        return (1.0 - torch.exp(inside.double().transpose(1, 2) @ log_absent)).float()

    def from_presence(self, presence: torch.Tensor) -> torch.Tensor:
        spelling, semantic = self.encoder(presence)
        return F.normalize(spelling + semantic, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_presence(self.presence(x))
