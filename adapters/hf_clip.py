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

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adapters.weights import CHECKPOINT_FILES, download, find_weights, folder_digest
from bench.api import Availability, EmbeddingRetriever, MethodInfo, UnknownMethodError, did_you_mean
from methodkit.params import folder_bytes, safetensors_param_count

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
    "altclip": "BAAI/AltCLIP",
}
DEFAULT_PRESET = {"siglip": "siglip2-b", "clip": "clip-b"}
SIGLIP_TYPES = ("siglip", "siglip2")
FITS = ("pad", "processor")


@dataclass(frozen=True)
class HFContrastiveOptions:
    fit: str = "pad"                 # pad: letterbox onto a white square; processor: the processor's own
    template: str = "{}"             # how a lexicon word becomes the text prompt
    model_path: Path | None = None   # a local copy of the weights

    def __post_init__(self):
        if self.fit not in FITS:
            raise ValueError(f"option fit must be {' or '.join(map(repr, FITS))}, not {self.fit!r}")
        if "{}" not in self.template:
            raise ValueError(f"option template must hold the word's placeholder {{}}, e.g. "
                             f"'the handwritten word \"{{}}\"' (got {self.template!r})")


def check_spec(kind: str, spec: str | None) -> None:
    """A spec is a preset, a hub name (``org/name``) or a local folder; anything else is refused
    with the presets listed (it would otherwise surface as "weights not found")."""
    if spec is None or spec in PRESETS or "/" in spec or Path(spec).expanduser().is_dir():
        return
    raise UnknownMethodError(f"{kind}:{spec}: {spec!r} is not a preset{did_you_mean(spec, PRESETS)}, a hub name "
                             f"(org/name) or a local folder; presets: {', '.join(PRESETS)}")


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


class HFContrastive(EmbeddingRetriever):
    kind = "siglip"     # registered name: "siglip" or "clip"
    Options = HFContrastiveOptions
    batch_size = 32

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.target = spec or DEFAULT_PRESET[self.kind]
        self.repo_id = PRESETS.get(self.target, self.target)
        self.fit = self.options.fit
        self.template = self.options.template
        explicit = self.options.model_path
        if explicit is None and self.target not in PRESETS and Path(self.target).expanduser().is_dir():
            explicit = self.target
        self._explicit = explicit   # a local folder named by the user: never replaced by a download
        self.lookup = find_weights(self.repo_id, explicit)
        self._model = None

    @classmethod
    def parse_options(cls, spec, raw):
        check_spec(cls.kind, spec)   # a mistyped preset is a bad name, said before any work
        return super().parse_options(spec, raw)

    @property
    def method_name(self) -> str:
        """The name it was requested under: ``siglip``, or ``siglip:SPEC`` with SPEC as given."""
        return self.kind if self.spec is None else f"{self.kind}:{self.spec}"

    def fetch_weights(self) -> None:
        if self._explicit is None:
            self.lookup = download(self.lookup, CHECKPOINT_FILES)

    def availability(self) -> Availability:
        for module in ("torch", "transformers"):
            if importlib.util.find_spec(module) is None:
                return Availability.no(f"{module} is not installed (extra [clip])", "pip install -e '.[clip]'")
        if not self.lookup.found:
            return Availability.no(self.lookup.reason(), self.lookup.fix(self.method_name))
        return Availability.yes()

    @property
    def info(self) -> MethodInfo:
        found = self.lookup.path if self.lookup.found else None
        digest = folder_digest(found) if found else "missing"
        return MethodInfo(
            name=self.method_name, group="end-to-end",
            version=f"{self.repo_id}@{digest}",
            description=f"{self.repo_id} via transformers AutoModel"
                        + (f" (weights from {found})" if found else "")
                        + ": cosine between image and text features",
            params=safetensors_param_count(found) if found else None,
            model_bytes=folder_bytes(found) if found else None,
            licence="see the model card", requires=("extra [clip]",),
            preprocessing=("greyscale letterboxed to a white square, RGB, then the model's image processor"
                           if self.fit == "pad" else "greyscale to RGB, then the model's image processor"),
            config={"repo_id": self.repo_id, "fit": self.fit, "template": self.template})

    def _load(self):
        if self._model is None:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            path = str(self.lookup.path)
            model = AutoModel.from_pretrained(path, local_files_only=True).eval()
            if not hasattr(model, "get_image_features") or not hasattr(model, "get_text_features"):
                raise TypeError(f"{self.repo_id} ({type(model).__name__}) is not a dual encoder")
            processor = pil_image_processor(path)
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self._model = (model, processor, tokenizer)
        return self._model

    def embed_images(self, items) -> np.ndarray:
        import torch

        model, processor, _ = self._load()
        prepared = [(letterbox(it.image) if self.fit == "pad" else it.image).convert("RGB") for it in items]
        inputs = processor(images=prepared, return_tensors="pt")
        with torch.inference_mode():
            return pooled(model.get_image_features(**inputs)).float().numpy()

    def embed_texts(self, texts, lang: str) -> np.ndarray:
        import torch

        model, _, tokenizer = self._load()
        words = [self.template.format(t) for t in texts]
        if getattr(model.config, "model_type", "") in SIGLIP_TYPES:
            # SigLIP was trained on texts padded to 64 tokens; shorter padding changes its embeddings.
            inputs = tokenizer(words, padding="max_length", max_length=64, truncation=True, return_tensors="pt")
        else:
            inputs = tokenizer(words, padding=True, truncation=True, return_tensors="pt")
        inputs = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask", "position_ids")}
        with torch.inference_mode():
            return pooled(model.get_text_features(**inputs)).float().numpy()


class SigLIP(HFContrastive):
    kind = "siglip"


class CLIP(HFContrastive):
    kind = "clip"
