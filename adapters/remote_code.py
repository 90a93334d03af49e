"""Embedders whose checkpoints run only with the code in their hub repositories (the paper's
MM-Embed and Nomic-Embed-Vision rows).

hwr-bench does not execute hub code unasked: each is unavailable, saying so in one line, until
``--option NAME.trust_remote_code=true`` (see ``adapters.hub``). Then the weights and the code
download with the run (online), and the model is called as its model card does:

* ``mm-embed``: ``nvidia/MM-Embed`` (LLaVA-NeXT + NV-Embed), ``model.encode`` with the card's
  instruction for image queries and text passages.
* ``nomic-embed-vision``: ``nomic-ai/nomic-embed-vision-v1.5`` for images (first token of the
  last hidden state) with its aligned text tower ``nomic-ai/nomic-embed-text-v1.5`` (mean
  pooling, layer norm, the ``search_query:`` prefix), as the card pairs them.
"""

from __future__ import annotations

import numpy as np

from adapters.hub import REMOTE_CODE_FILES, HubModel, RemoteCodeOptions
from adapters.weights import download, find_weights
from bench.api import Availability, EmbeddingRetriever, MethodInfo


class RemoteCodeEmbedding(HubModel, EmbeddingRetriever):
    Options = RemoteCodeOptions
    batch_size = 8
    description = ""

    @property
    def info(self) -> MethodInfo:
        return self.hub_info("end-to-end", f"{self.repo_id}: {self.description} (the repository's own code); cosine",
                             {}, requires=("trust_remote_code",))

    @staticmethod
    def _normalised(torch, vectors) -> np.ndarray:
        return torch.nn.functional.normalize(vectors.float(), dim=-1).cpu().numpy()


class MMEmbed(RemoteCodeEmbedding):
    kind = "mm-embed"
    PRESETS = {"8b": "nvidia/MM-Embed"}
    DEFAULT = "8b"
    REMOTE_CODE = frozenset(PRESETS.values())
    description = "MM-Embed (LLaVA-NeXT + NV-Embed) model.encode"
    instruction = "Retrieve a Wikipedia paragraph that provides an answer to the given query about the image."

    def _load(self):
        if self._model is None:
            from transformers import AutoModel

            torch, device, dtype = self._torch_setup()
            model = AutoModel.from_pretrained(str(self.lookup.path), dtype=dtype, **self._pretrained_kwargs())
            self._model = (model.to(device).eval(), torch)
        return self._model

    def embed_images(self, items) -> np.ndarray:
        model, torch = self._load()
        queries = [{"img": it.image.convert("RGB")} for it in items]
        with torch.inference_mode():
            out = model.encode(queries, is_query=True, instruction=self.instruction, max_length=4096)
        return self._normalised(torch, out["hidden_states"])

    def embed_texts(self, texts, lang: str) -> np.ndarray:
        model, torch = self._load()
        with torch.inference_mode():
            out = model.encode([{"txt": t} for t in texts], max_length=4096)
        return self._normalised(torch, out["hidden_states"])


class NomicEmbedVision(RemoteCodeEmbedding):
    kind = "nomic-embed-vision"
    PRESETS = {"v1.5": "nomic-ai/nomic-embed-vision-v1.5"}
    DEFAULT = "v1.5"
    REMOTE_CODE = frozenset(PRESETS.values())
    TEXT_REPO = "nomic-ai/nomic-embed-text-v1.5"    # the text tower the vision one was aligned to
    description = "Nomic Embed Vision v1.5 with Nomic Embed Text v1.5"

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.text_lookup = find_weights(self.TEXT_REPO)

    def fetch_weights(self) -> None:
        super().fetch_weights()
        if self.remote_code_trusted:
            self.text_lookup = download(self.text_lookup, REMOTE_CODE_FILES)

    def availability(self) -> Availability:
        available = super().availability()
        if available.ok and not self.text_lookup.found:
            return Availability.no(self.text_lookup.reason(), self.text_lookup.fix(self.method_name))
        return available

    def _load(self):
        if self._model is None:
            from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

            torch, device, dtype = self._torch_setup()
            kwargs = self._pretrained_kwargs()
            vision, text = str(self.lookup.path), str(self.text_lookup.path)
            self._model = (AutoImageProcessor.from_pretrained(vision, **kwargs),
                           AutoModel.from_pretrained(vision, dtype=dtype, **kwargs).to(device).eval(),
                           AutoTokenizer.from_pretrained(text, **kwargs),
                           AutoModel.from_pretrained(text, dtype=dtype, **kwargs).to(device).eval(), torch, device)
        return self._model

    def embed_images(self, items) -> np.ndarray:
        processor, vision, _, _, torch, device = self._load()
        inputs = processor([it.image.convert("RGB") for it in items], return_tensors="pt").to(device, vision.dtype)
        with torch.inference_mode():
            return self._normalised(torch, vision(**inputs).last_hidden_state[:, 0])

    def embed_texts(self, texts, lang: str) -> np.ndarray:
        _, _, tokenizer, text, torch, device = self._load()
        inputs = tokenizer([f"search_query: {t}" for t in texts], padding=True, truncation=True,
                           return_tensors="pt").to(device)
        with torch.inference_mode():
            hidden = text(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return self._normalised(torch, torch.nn.functional.layer_norm(pooled, pooled.shape[-1:]))
