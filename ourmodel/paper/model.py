"""The paper's asymmetric dual encoder: MobileNetV3-Small from scratch for images, a multilingual
DistilBERT with its bottom layers frozen for words, each projected into the shared 128-d space.

``text_model="anchors"`` replaces DistilBERT by the frozen anchors packed with the data (one row
per lexicon entry) and trains the projector only: the departure for machines without
transformers (``recipe.DEPARTURES``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ourmodel.mobilenetv3 import MobileNetV3Small
from ourmodel.paper.recipe import PaperRecipe


class VisualTower(nn.Module):
    """(B, 1, H, W) grey in [0, 1], ink dark -> (B, embed_dim) L2-normalised."""

    def __init__(self, embed_dim: int):
        super().__init__()
        self.backbone = MobileNetV3Small(in_channels=1)
        self.project = nn.Linear(MobileNetV3Small.out_channels, embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pooled = self.backbone(1.0 - images).mean((2, 3))   # ink as signal: white paper is zero
        return F.normalize(self.project(pooled), dim=-1)


class AnchorTextTower(nn.Module):
    """Lexicon rows -> (B, embed_dim): a trained projector over frozen anchor vectors."""

    def __init__(self, anchors: torch.Tensor, embed_dim: int):
        super().__init__()
        self.register_buffer("anchors", anchors.float())
        self.project = nn.Sequential(nn.Linear(anchors.shape[1], 512), nn.GELU(), nn.Linear(512, embed_dim))

    def forward(self, rows: torch.Tensor, texts=None) -> torch.Tensor:
        return F.normalize(self.project(self.anchors[rows]), dim=-1)


class DistilBertTextTower(nn.Module):
    """Words -> (B, embed_dim): DistilBERT's masked mean, bottom layers frozen, then a projector."""

    def __init__(self, name_or_path: str, trainable_layers: int, max_length: int, embed_dim: int):
        super().__init__()
        from ourmodel.distilbert import DistilBertAnchor

        self.encoder = DistilBertAnchor(name_or_path, trainable_layers, max_length=max_length)
        self.project = nn.Linear(self.encoder.dim, embed_dim)

    def forward(self, rows: torch.Tensor, texts) -> torch.Tensor:
        device = self.project.weight.device
        return F.normalize(self.project(self.encoder(list(texts), device=device)), dim=-1)


class PaperModel(nn.Module):
    def __init__(self, recipe: PaperRecipe, anchors: torch.Tensor | None = None):
        super().__init__()
        self.recipe = recipe
        self.visual = VisualTower(recipe.embed_dim)
        if recipe.text_model == "anchors":
            if anchors is None:
                raise ValueError("text_model=anchors needs the pack's anchors")
            self.text = AnchorTextTower(anchors, recipe.embed_dim)
        else:
            self.text = DistilBertTextTower(recipe.text_model, recipe.text_trainable_layers, recipe.text_max_length,
                                            recipe.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / recipe.temperature_init)))

    def encode_texts(self, rows: torch.Tensor, texts) -> torch.Tensor:
        """The lexicon entries ``rows`` (their ``texts``, for a text tower that reads words)."""
        return self.text(rows, texts)
