"""Generative vision-language models as transcription methods.

A VLM is asked to transcribe the handwritten word (and, on cross-lingual
subtasks, to translate it into the lexicon's language); the answer is cleaned
(``parse_answer``) and the harness ranks the lexicon by edit similarity.
``ocr+embed:vlm:NAME`` ranks by the multilingual text embedding instead.

* ``vlm:<preset, hub name or folder>``: transformers ``AutoModelForImageTextToText`` +
  ``AutoProcessor`` and the model's chat template, greedy decoding (extra
  ``[vlm]``). Weights are looked up locally, else downloaded from the hub when
  the run is online (``adapters.hub``). The presets are the paper's six VLMs;
  the two whose architecture transformers does not ship (Phi-3.5-Vision,
  MiniCPM-o 2.6) are unavailable here with the fix: serve them with vLLM and
  run them through ``openai:``.
* ``openai:<model>@<base_url>`` (``adapters.openai_chat``): the same prompts
  through any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.hub import HubModel, HubOptions
from bench.api import MethodInfo, TranscriptionRetriever

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


# The paper's VLM rows (Table 2); greedy decoding with this module's prompts.
PRESETS: dict[str, str] = {
    "phi-3.5-vision": "microsoft/Phi-3.5-vision-instruct",
    "llama-3.2-11b-vision": "meta-llama/Llama-3.2-11B-Vision-Instruct",   # gated: accept the licence on the hub
    "minicpm-o-2.6": "openbmb/MiniCPM-o-2_6",
    "janus-pro-7b": "deepseek-community/Janus-Pro-7B",                   # transformers' conversion of deepseek-ai's
    "qwen3-vl-4b": "Qwen/Qwen3-VL-4B-Instruct",
    "internvl3.5-8b": "OpenGVLab/InternVL3_5-8B-HF",                     # the transformers-format release
}
REMOTE_CODE = frozenset({"microsoft/Phi-3.5-vision-instruct", "openbmb/MiniCPM-o-2_6"})


@dataclass(frozen=True)
class TransformersVLMOptions(HubOptions):
    max_new_tokens: int = 24

    def __post_init__(self):
        super().__post_init__()
        if self.max_new_tokens < 1:
            raise ValueError(f"option max_new_tokens must be at least 1, not {self.max_new_tokens}")


class TransformersVLM(HubModel, GenerativeVLM):
    kind = "vlm"
    PRESETS = PRESETS
    REMOTE_CODE = REMOTE_CODE
    Options = TransformersVLMOptions

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.max_new_tokens = self.options.max_new_tokens

    def remote_code_fix(self) -> str:
        # its remote code is written for its own chat API, not AutoModelForImageTextToText: vLLM runs it
        return (f"serve it with vLLM (`vllm serve {self.repo_id} --trust-remote-code --port 8000`) and run "
                f"openai:{self.repo_id}@http://localhost:8000/v1")

    @property
    def info(self) -> MethodInfo:
        return self.hub_info("vlm", "transformers image-text-to-text model prompted to transcribe (cross-lingual: "
                                    "translate) the word; lexicon ranked by normalised edit similarity",
                             {"model": self.spec, "decoding": "greedy", "max_new_tokens": self.max_new_tokens,
                              "prompt_version": PROMPT_VERSION}, version_suffix=f"/prompts-{PROMPT_VERSION}")

    def generate(self, images, prompts: list[str]) -> list[str]:
        if self._model is None:
            self._model = self._load_pretrained("AutoModelForImageTextToText")
        model, processor, torch, device = self._model
        answers = []
        for image, prompt in zip(images, prompts):
            messages = [{"role": "user", "content": [{"type": "image", "image": image.convert("RGB")},
                                                     {"type": "text", "text": prompt}]}]
            inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                   return_dict=True, return_tensors="pt").to(device, model.dtype)
            with torch.inference_mode():
                out = model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
            new = out[:, inputs["input_ids"].shape[1]:]
            answers.append(processor.batch_decode(new, skip_special_tokens=True)[0])
        return answers
