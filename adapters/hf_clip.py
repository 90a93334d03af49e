"""CLIP-style dual encoders through transformers: ``siglip[:PRESET]`` and ``clip[:PRESET]``.

A preset is a hub name (table below); ``siglip:NAME`` also takes any hub name
or local folder, and ``--option siglip.model_path=DIR`` (or ``bench run
--model-path DIR``) points a preset at a local copy. Weights not found locally
are downloaded from the hub when the run is online (``adapters.weights``); with
``--offline`` or ``HF_HUB_OFFLINE=1`` the method is unavailable instead, naming
every place it looked and the fix.

Word images are greyscale and wide; CLIP processors centre-crop a square, which
would cut most of the word away. Each image is therefore letterboxed onto a
white square first (option ``fit=pad``; ``fit=processor`` leaves it to the
model's processor), converted to RGB, then given to the model's own (PIL, not
torchvision) image processor. Texts are the bare lexicon words (option
``template``, e.g. ``'the handwritten word "{}"'``). The result metadata
records all of it.

Works with any checkpoint whose ``AutoModel`` has ``get_image_features`` and
``get_text_features``: SigLIP, SigLIP 2, CLIP, Chinese-CLIP, AltCLIP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adapters.hub import HubModel, HubOptions
from bench.api import EmbeddingRetriever, MethodInfo

PRESETS: dict[str, str] = {
    "siglip2-b": "google/siglip2-base-patch16-224",
    "siglip2-l": "google/siglip2-large-patch16-256",
    "siglip2-so400m": "google/siglip2-so400m-patch14-384",
    "siglip2-g": "google/siglip2-giant-opt-patch16-256",
    "siglip-b": "google/siglip-base-patch16-224",
    "clip-b": "openai/clip-vit-base-patch32",
    "clip-l": "openai/clip-vit-large-patch14",
    "chinese-clip-b": "OFA-Sys/chinese-clip-vit-base-patch16",
    "chinese-clip-l": "OFA-Sys/chinese-clip-vit-large-patch14",
    "chinese-clip-h": "OFA-Sys/chinese-clip-vit-huge-patch14",
    "altclip": "BAAI/AltCLIP",
}
SIGLIP_TYPES = ("siglip", "siglip2")
FITS = ("pad", "processor")


@dataclass(frozen=True)
class HFContrastiveOptions(HubOptions):
    fit: str = "pad"                 # pad: letterbox onto a white square; processor: the processor's own
    template: str = "{}"             # how a lexicon word becomes the text prompt

    def __post_init__(self):
        super().__post_init__()
        if self.fit not in FITS:
            raise ValueError(f"option fit must be {' or '.join(map(repr, FITS))}, not {self.fit!r}")
        if "{}" not in self.template:
            raise ValueError(f"option template must hold the word's placeholder {{}}, e.g. "
                             f"'the handwritten word \"{{}}\"' (got {self.template!r})")


def letterbox(image, fill: int = 255):
    """The image centred on a square canvas of its longer side (no crop, no distortion)."""
    from PIL import Image

    grey = image.convert("L")
    side = max(grey.size)
    canvas = Image.new("L", (side, side), fill)
    canvas.paste(grey, ((side - grey.width) // 2, (side - grey.height) // 2))
    return canvas


def pil_image_processor(path: str):
    """The model's image processor in its PIL/numpy form (the torchvision one may not import)."""
    import transformers
    from transformers import AutoImageProcessor

    if int(transformers.__version__.split(".")[0]) >= 5:
        return AutoImageProcessor.from_pretrained(path, local_files_only=True, backend="pil")
    return AutoImageProcessor.from_pretrained(path, local_files_only=True, use_fast=False)


def pooled(output):
    """transformers < 5 returns the embedding tensor; 5.x a ModelOutput holding it as pooler_output."""
    return output if hasattr(output, "detach") else output.pooler_output


class HFContrastive(HubModel, EmbeddingRetriever):
    kind = "siglip"     # registered name: "siglip" or "clip"
    PRESETS = PRESETS
    extra = "clip"
    Options = HFContrastiveOptions
    batch_size = 32

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.fit = self.options.fit
        self.template = self.options.template

    @property
    def info(self) -> MethodInfo:
        found = self.found_path
        return self.hub_info(
            "end-to-end", f"{self.repo_id} via transformers AutoModel" + (f" (weights from {found})" if found else "")
            + ": cosine between image and text features", {"fit": self.fit, "template": self.template},
            preprocessing=("greyscale letterboxed to a white square, RGB, then the model's image processor"
                           if self.fit == "pad" else "greyscale to RGB, then the model's image processor"))

    def _load(self):
        if self._model is None:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            path = str(self.lookup.path)
            _, device, dtype = self._torch_setup()
            model = AutoModel.from_pretrained(path, local_files_only=True, dtype=dtype).to(device).eval()
            if not hasattr(model, "get_image_features") or not hasattr(model, "get_text_features"):
                raise TypeError(f"{self.repo_id} ({type(model).__name__}) is not a dual encoder")
            processor = pil_image_processor(path)
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self._model = (model, processor, tokenizer, device)
        return self._model

    def embed_images(self, items) -> np.ndarray:
        import torch

        model, processor, _, device = self._load()
        prepared = [(letterbox(it.image) if self.fit == "pad" else it.image).convert("RGB") for it in items]
        inputs = processor(images=prepared, return_tensors="pt").to(device, model.dtype)
        with torch.inference_mode():
            return pooled(model.get_image_features(**inputs)).float().cpu().numpy()

    def embed_texts(self, texts, lang: str) -> np.ndarray:
        import torch

        model, _, tokenizer, device = self._load()
        words = [self.template.format(t) for t in texts]
        if getattr(model.config, "model_type", "") in SIGLIP_TYPES:
            # SigLIP was trained on texts padded to 64 tokens; shorter padding changes its embeddings.
            inputs = tokenizer(words, padding="max_length", max_length=64, truncation=True, return_tensors="pt")
        else:
            inputs = tokenizer(words, padding=True, truncation=True, return_tensors="pt")
        inputs = {k: v.to(device) for k, v in inputs.items() if k in ("input_ids", "attention_mask", "position_ids")}
        with torch.inference_mode():
            return pooled(model.get_text_features(**inputs)).float().cpu().numpy()


class SigLIP(HFContrastive):
    kind = "siglip"
    DEFAULT = "siglip2-b"


class CLIP(HFContrastive):
    kind = "clip"
    DEFAULT = "clip-b"
