"""The paper's text encoder: multilingual DistilBERT, bottom layers frozen, top layers trained.

``distilbert-base-multilingual-cased`` by default, from a local folder or the hub
(``from_pretrained``: it downloads when online). Offline and not found, it raises
``DistilBertUnavailable`` with the name looked for and the fix. Sentence vector:
attention-masked mean of the last hidden states. The paper recipe's text tower
(``ourmodel.paper``); ``ours`` anchors on the frozen multilingual USE instead,
which needs no download.
"""

from __future__ import annotations

import torch
from torch import nn

DEFAULT_NAME = "distilbert-base-multilingual-cased"


class DistilBertUnavailable(RuntimeError):
    pass


class DistilBertAnchor(nn.Module):
    def __init__(self, name_or_path: str = DEFAULT_NAME, trainable_layers: int = 2, max_length: int = 32):
        super().__init__()
        try:
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise DistilBertUnavailable("the DistilBERT text tower needs transformers (pip install -e '.[train]'); "
                                        "or train with --set text_model=anchors") from None
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(name_or_path)
            self.encoder = AutoModel.from_pretrained(name_or_path)
        except OSError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise DistilBertUnavailable(
                f"DistilBERT {name_or_path!r} is not available here ({first}); online it downloads itself; "
                "offline, pass --set text_model=DIR (a local copy) or --set text_model=anchors") from None
        self.max_length = max_length
        self.dim = self.encoder.config.dim
        layers = self.encoder.transformer.layer
        frozen = [self.encoder.embeddings] + list(layers[: max(0, len(layers) - trainable_layers)])
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)

    def forward(self, texts: list[str], device: torch.device | None = None) -> torch.Tensor:
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt")
        if device is not None:
            batch = batch.to(device)
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
