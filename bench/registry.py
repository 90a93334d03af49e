"""Where method names resolve to adapter classes.

Built-in methods live in a lazy table (nothing is imported until a method is
used); third-party adapters register through the ``hwr_bench.adapters``
entry-point group, e.g. in their pyproject.toml::

    [project.entry-points."hwr_bench.adapters"]
    my-method = "my_package.module:MyRetriever"

A name ending in ``:`` is a prefix: ``openclip:ViT-B-32/laion`` resolves to the
``openclip:`` adapter with ``spec="ViT-B-32/laion"``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from bench.errors import UnknownMethodError

ENTRY_POINT_GROUP = "hwr_bench.adapters"

BUILTIN_METHODS: dict[str, str] = {
    "random": "adapters.baselines:RandomEmbedding",
    "oracle-text": "adapters.baselines:OracleText",
    "rapidocr": "adapters.rapidocr:RapidOCR",
    "rapidocr-ctc": "adapters.rapidocr:RapidOCRCTC",
    "tesseract": "adapters.tesseract:Tesseract",
    "easyocr": "adapters.easyocr:EasyOCR",
    "rapidocr+embed": "adapters.ocr_embed:RapidOCRThenEmbed",
    "tesseract+embed": "adapters.ocr_embed:TesseractThenEmbed",
    "easyocr+embed": "adapters.ocr_embed:EasyOCRThenEmbed",
    "ocr+embed:": "adapters.ocr_embed:OCRThenEmbed",
    "siglip": "adapters.hf_clip:SigLIP",
    "siglip:": "adapters.hf_clip:SigLIP",
    "clip": "adapters.hf_clip:CLIP",
    "clip:": "adapters.hf_clip:CLIP",
    "openclip:": "adapters.openclip:OpenCLIP",
    "vlm:": "adapters.vlm:TransformersVLM",
    "openai:": "adapters.openai_chat:OpenAIChat",
    "ours": "adapters.ours:Ours",
    "ours-int8": "adapters.ours:OursInt8",
    "ours-ablate:": "adapters.ours:OursAblation",
}

# What `bench run` runs with no --methods: the built-in methods that run offline from a plain
# install (plus Debian's tesseract). Methods needing extras or weights are asked for by name, so
# the main job never rewrites their committed "unavailable" records with this machine's reasons.
DEFAULT_METHODS: tuple[str, ...] = ("random", "oracle-text", "rapidocr", "rapidocr-ctc", "tesseract",
                                    "rapidocr+embed", "ours", "ours-int8")


@dataclass(frozen=True)
class Registration:
    name: str
    target: str  # "module:Class"
    source: str  # "builtin" or the distribution that registered it


def registrations() -> dict[str, Registration]:
    regs = {name: Registration(name, target, "builtin") for name, target in BUILTIN_METHODS.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in regs:
            continue  # a plugin cannot shadow a built-in name
        dist = getattr(ep, "dist", None)
        regs[ep.name] = Registration(ep.name, ep.value, dist.name if dist else "entry point")
    return regs


def resolve(name: str) -> tuple[Registration, str | None]:
    regs = registrations()
    if name in regs:
        return regs[name], None
    prefix, sep, spec = name.partition(":")
    if sep and f"{prefix}:" in regs:
        return regs[f"{prefix}:"], spec
    known = ", ".join(sorted(regs))
    raise UnknownMethodError(f"unknown method {name!r} (known: {known}; see `bench methods`)")


def load_class(target: str):
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def create(name: str, options: dict[str, Any] | None = None):
    """Instantiate a method by name. Raises UnknownMethodError or the adapter's own error."""
    registration, spec = resolve(name)
    cls = load_class(registration.target)
    method = cls(spec=spec, options=options)
    return method
