"""The paper's text encoder: multilingual DistilBERT, bottom layers frozen, top layers trained.

``distilbert-base-multilingual-cased`` by default, from a local folder or the hub
(``from_pretrained``; offline, a missing checkpoint raises with the name looked
for). Sentence vector: attention-masked mean of the last hidden states. Not the
default anchor here (see README: we use a frozen multilingual USE, which needs
no download); kept so the paper's configuration can be trained where the
weights are available.
"""

from __future__ import annotations

import torch
from torch import nn

DEFAULT_NAME = "distilbert-base-multilingual-cased"


class DistilBertAnchor(nn.Module):
    def __init__(self, name_or_path: str = DEFAULT_NAME, trainable_layers: int = 2):
        super().__init__()
        try:
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise RuntimeError("the DistilBERT anchor needs transformers (pip install transformers)") from None
        self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        self.encoder = AutoModel.from_pretrained(name_or_path)
        self.dim = self.encoder.config.dim
        layers = self.encoder.transformer.layer
        frozen = [self.encoder.embeddings] + list(layers[: max(0, len(layers) - trainable_layers)])
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)

    def forward(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=32, return_tensors="pt")
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
