"""Multimodal LLMs used as embedders (the paper's GME and E5-V rows): the last token's final hidden
state under a prompt, L2-normalised, ranked by cosine.

* ``gme[:PRESET]``: GME (Qwen2-VL, ``Qwen2VLForConditionalGeneration``) with the prompts of its
  model card's ``gme_inference.py``: a system instruction, the image or text as the user turn, and
  ``<|endoftext|>`` after the assistant header, whose hidden state is the embedding. Text queries
  carry the card's text-to-image instruction; images carry the default one.
* ``e5-v``: E5-V (LLaVA-NeXT on Llama 3, ``LlavaNextForConditionalGeneration``) with its card's
  one-word summary prompts for images and for sentences.

The prompts are data (``MLLMPrompts``) recorded with every result; nothing here needs the models'
remote code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from adapters.hub import HubModel, HubOptions
from bench.api import EmbeddingRetriever, MethodInfo


@dataclass(frozen=True)
class MLLMPrompts:
    image: str          # the whole prompt for an image; the image's placeholder is in it
    text: str           # the whole prompt for a text, with {} for the word


_GME_SYSTEM = "<|im_start|>system\n{}<|im_end|>\n<|im_start|>user\n"
_GME_END = "<|im_end|>\n<|im_start|>assistant\n<|endoftext|>"
GME_PROMPTS = MLLMPrompts(
    image=_GME_SYSTEM.format("You are a helpful assistant.") + "<|vision_start|><|image_pad|><|vision_end|>" + _GME_END,
    text=_GME_SYSTEM.format("Find an image that matches the given text.") + "{}" + _GME_END)

_LLAMA3 = "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n \n"
E5V_PROMPTS = MLLMPrompts(image=_LLAMA3.format("<image>\nSummary above image in one word: "),
                          text=_LLAMA3.replace("{}", "{}\nSummary above sentence in one word: ", 1))


def last_token_states(hidden, attention_mask):
    """The hidden state of each row's last attended token, whichever side the batch was padded on."""
    import torch

    length = attention_mask.shape[1]
    last = length - 1 - torch.flip(attention_mask, dims=[1]).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0]), last]


class MLLMEmbedding(HubModel, EmbeddingRetriever):
    Options = HubOptions
    batch_size = 8
    prompts: MLLMPrompts
    model_class: str
    description = ""

    @property
    def info(self) -> MethodInfo:
        return self.hub_info("end-to-end", f"{self.repo_id}: {self.description}; the last token's final hidden "
                                           "state, cosine",
                             {"prompts": asdict(self.prompts), "pooling": "last token, L2"})

    def _embed(self, **processor_inputs) -> np.ndarray:
        if self._model is None:
            self._model = self._load_pretrained(self.model_class)
        model, processor, torch, device = self._model
        inputs = processor(return_tensors="pt", padding=True, **processor_inputs).to(device, model.dtype)
        with torch.inference_mode():
            hidden = model(**inputs, output_hidden_states=True, return_dict=True).hidden_states[-1]
        vectors = last_token_states(hidden, inputs["attention_mask"]).float()
        return torch.nn.functional.normalize(vectors, dim=-1).cpu().numpy()

    def embed_images(self, items) -> np.ndarray:
        return self._embed(text=[self.prompts.image] * len(items), images=[it.image.convert("RGB") for it in items])

    def embed_texts(self, texts, lang: str) -> np.ndarray:
        return self._embed(text=[self.prompts.text.format(t) for t in texts])


class GME(MLLMEmbedding):
    kind = "gme"
    PRESETS = {"2b": "Alibaba-NLP/gme-Qwen2-VL-2B-Instruct", "7b": "Alibaba-NLP/gme-Qwen2-VL-7B-Instruct"}
    DEFAULT = "2b"
    model_class = "Qwen2VLForConditionalGeneration"
    prompts = GME_PROMPTS
    description = "GME, Qwen2-VL as a universal multimodal embedder"


class E5V(MLLMEmbedding):
    kind = "e5-v"
    PRESETS = {"8b": "royokong/e5-v"}
    DEFAULT = "8b"
    model_class = "LlavaNextForConditionalGeneration"
    prompts = E5V_PROMPTS
    description = "E5-V, LLaVA-NeXT (Llama 3 8B) with one-word summary prompts"
