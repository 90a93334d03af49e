"""Recognisers from the transformers hub, as transcription methods (the paper's two-stage rows).

* ``trocr[:PRESET]``: TrOCR (``VisionEncoderDecoderModel`` + its processor), the handwritten
  checkpoints by default. It reads Latin script only, as the paper ran it on all three languages.
* ``florence2[:PRESET]``: Florence-2 with its ``<OCR>`` task prompt, through transformers' own
  ``Florence2ForConditionalGeneration`` (the ``florence-community`` conversions; Microsoft's
  original repositories need their remote code).

Each image goes whole (greyscale to RGB) to the model's processor; decoding is greedy unless
``num_beams`` says otherwise; the harness ranks the lexicon by normalised edit similarity.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.hub import HubModel, HubOptions
from bench.api import MethodInfo, TranscriptionRetriever


@dataclass(frozen=True)
class HubOCROptions(HubOptions):
    max_new_tokens: int = 24
    num_beams: int = 1

    def __post_init__(self):
        super().__post_init__()
        if self.max_new_tokens < 1 or self.num_beams < 1:
            raise ValueError(f"options max_new_tokens and num_beams must be at least 1 "
                             f"(got {self.max_new_tokens}, {self.num_beams})")


class HubOCR(HubModel, TranscriptionRetriever):
    """A transformers image-to-text recogniser; subclasses name the model class and the prompt."""

    Options = HubOCROptions
    batch_size = 16
    model_class = "AutoModelForImageTextToText"
    task_prompt: str | None = None     # a text prompt the processor takes with the image
    description = ""

    @property
    def info(self) -> MethodInfo:
        o = self.options
        return self.hub_info("two-stage", f"{self.repo_id}: {self.description}; lexicon ranked by normalised edit "
                                          "similarity",
                             {"task_prompt": self.task_prompt, "max_new_tokens": o.max_new_tokens,
                              "num_beams": o.num_beams})

    def transcribe(self, items, lang: str) -> list[str]:
        if self._model is None:
            self._model = self._load_pretrained(self.model_class)
        model, processor, torch, device = self._model
        images = [it.image.convert("RGB") for it in items]
        if self.task_prompt is None:
            inputs = processor(images=images, return_tensors="pt")
        else:
            inputs = processor(text=[self.task_prompt] * len(images), images=images, return_tensors="pt")
        inputs = inputs.to(device, model.dtype)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=self.options.max_new_tokens,
                                 num_beams=self.options.num_beams, do_sample=False)
        if "input_ids" in inputs and not model.config.is_encoder_decoder:
            out = out[:, inputs["input_ids"].shape[1]:]
        return [t.strip() for t in processor.batch_decode(out, skip_special_tokens=True)]


class TrOCR(HubOCR):
    kind = "trocr"
    PRESETS = {"base-handwritten": "microsoft/trocr-base-handwritten",
               "large-handwritten": "microsoft/trocr-large-handwritten",
               "small-handwritten": "microsoft/trocr-small-handwritten",
               "base-printed": "microsoft/trocr-base-printed"}
    DEFAULT = "base-handwritten"   # 334M parameters, the paper's figure
    model_class = "VisionEncoderDecoderModel"
    description = "TrOCR (vision encoder, text decoder), greedy transcription"


class Florence2(HubOCR):
    kind = "florence2"
    PRESETS = {"large": "florence-community/Florence-2-large", "base": "florence-community/Florence-2-base"}
    DEFAULT = "large"
    model_class = "Florence2ForConditionalGeneration"
    task_prompt = "<OCR>"
    description = "Florence-2 with the <OCR> task prompt"
