"""Generative vision-language models as transcription methods.

A VLM is asked to transcribe the handwritten word (and, on cross-lingual
subtasks, to translate it into the lexicon's language); the answer is cleaned
(``parse_answer``) and the harness ranks the lexicon by edit similarity.
``ocr+embed:vlm:NAME`` ranks by the multilingual text embedding instead.

* ``vlm:<hub name or folder>``: transformers ``AutoModelForImageTextToText`` +
  ``AutoProcessor`` and the model's chat template, greedy decoding (extra
  ``[vlm]``). Weights are looked up locally, else downloaded from the hub when
  the run is online (``adapters.weights``).
* ``openai:<model>@<base_url>`` (``adapters.openai_chat``): the same prompts
  through any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from adapters.weights import CHECKPOINT_FILES, download, find_weights, folder_digest
from bench.api import Availability, MethodInfo, TranscriptionRetriever
from methodkit.params import folder_bytes, safetensors_param_count

LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese", "es": "Spanish"}
PROMPT_VERSION = "1"


def transcribe_prompt(lang: str) -> str:
    return (f"The image shows one handwritten word or short phrase in {LANGUAGE_NAMES[lang]}. "
            "Transcribe it exactly. Reply with the transcription only, without quotes or explanation.")


def translate_prompt(lang: str, target_lang: str) -> str:
    target = LANGUAGE_NAMES[target_lang]
    return (f"The image shows one handwritten word or short phrase in {LANGUAGE_NAMES[lang]}. "
            f"Translate it into {target}. Reply with the {target} word or phrase only, without quotes or "
            "explanation.")


_THINK = re.compile(r"<think>.*?(</think>|$)", flags=re.S | re.I)
_PREFIX = re.compile(r"^(?:the\s+)?(?:word|transcription|translation|answer|text|output|"
                     r"handwritten word|result)(?:\s+(?:is|reads))?\s*[:：]?\s*|^(?:答案|翻译|转写)\s*[:：]\s*",
                     flags=re.I)
_QUOTES = "\"'`“”‘’«»「」『』*"


def parse_answer(text: str) -> str:
    """The word in a model's reply: no reasoning block, labels, quotes, markdown or final stop."""
    text = _THINK.sub("", text or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    answer = lines[0]
    for _ in range(2):   # "Answer: **"word"**" needs two passes
        answer = _PREFIX.sub("", answer).strip().strip(_QUOTES).strip()
    return answer.rstrip(".。!！").strip().strip(_QUOTES).strip()


class GenerativeVLM(TranscriptionRetriever):
    """Prompts, parsing and translation shared by every generative adapter."""

    can_translate = True
    batch_size = 8

    def generate(self, images, prompts: list[str]) -> list[str]:
        """One raw answer per (PIL image, prompt)."""
        raise NotImplementedError

    def transcribe(self, items, lang: str) -> list[str]:
        prompt = transcribe_prompt(lang)
        return [parse_answer(a) for a in self.generate([it.image for it in items], [prompt] * len(items))]

    def translate(self, items, lang: str, target_lang: str) -> list[str]:
        prompt = translate_prompt(lang, target_lang)
        return [parse_answer(a) for a in self.generate([it.image for it in items], [prompt] * len(items))]


@dataclass(frozen=True)
class TransformersVLMOptions:
    model_path: Path | None = None   # a local copy of the weights
    max_new_tokens: int = 24

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise ValueError(f"option max_new_tokens must be at least 1, not {self.max_new_tokens}")


class TransformersVLM(GenerativeVLM):
    Options = TransformersVLMOptions

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        if not spec:
            raise ValueError("vlm needs a model, e.g. vlm:Qwen/Qwen2-VL-2B-Instruct or vlm:/path/to/folder")
        explicit = self.options.model_path or (spec if Path(spec).expanduser().is_dir() else None)
        self._explicit = explicit   # a local folder named by the user: never replaced by a download
        self.lookup = find_weights(spec, explicit)
        self.max_new_tokens = self.options.max_new_tokens
        self._model = None

    def fetch_weights(self) -> None:
        if self._explicit is None:
            self.lookup = download(self.lookup, CHECKPOINT_FILES)

    def availability(self) -> Availability:
        for module in ("torch", "transformers"):
            if importlib.util.find_spec(module) is None:
                return Availability.no(f"{module} is not installed (extra [vlm])", "pip install -e '.[vlm]'")
        if not self.lookup.found:
            return Availability.no(self.lookup.reason(), self.lookup.fix(f"vlm:{self.spec}"))
        return Availability.yes()

    @property
    def info(self) -> MethodInfo:
        found = self.lookup.path if self.lookup.found else None
        return MethodInfo(
            name=f"vlm:{self.spec}", group="vlm",
            version=f"{self.spec}@{folder_digest(found) if found else 'missing'}/prompts-{PROMPT_VERSION}",
            description="transformers image-text-to-text model prompted to transcribe (cross-lingual: "
                        "translate) the word; lexicon ranked by normalised edit similarity",
            params=safetensors_param_count(found) if found else None,
            model_bytes=folder_bytes(found) if found else None, licence="see the model card",
            requires=("extra [vlm]",), preprocessing="greyscale to RGB, then the model's processor",
            config={"model": self.spec, "decoding": "greedy", "max_new_tokens": self.max_new_tokens,
                    "prompt_version": PROMPT_VERSION})

    def _load(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForImageTextToText, AutoProcessor
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            path = str(self.lookup.path)
            processor = AutoProcessor.from_pretrained(path, local_files_only=True)
            model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True).eval()
            self._model = (model, processor, torch)
        return self._model

    def generate(self, images, prompts: list[str]) -> list[str]:
        model, processor, torch = self._load()
        answers = []
        for image, prompt in zip(images, prompts):
            messages = [{"role": "user", "content": [{"type": "image", "image": image.convert("RGB")},
                                                     {"type": "text", "text": prompt}]}]
            inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                   return_dict=True, return_tensors="pt")
            with torch.inference_mode():
                out = model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
            new = out[:, inputs["input_ids"].shape[1]:]
            answers.append(processor.batch_decode(new, skip_special_tokens=True)[0])
        return answers
