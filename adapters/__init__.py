"""Method adapters, one module per family. Heavy dependencies are imported inside them.

``register`` is this package's ``hwr_bench.plugins`` hook (see pyproject.toml): it puts every
built-in method into the harness's registry exactly as a third-party plugin would.
"""

from __future__ import annotations

from adapters.composite import Composite, register_composite
from bench.api import DEFAULT, EFFICIENCY, Registry

# name -> ("module:Class", tags). DEFAULT: runs offline from a plain install (plus Debian's
# tesseract), so the main job never rewrites the committed "unavailable" records of methods that
# need extras or weights with this machine's reasons. EFFICIENCY: `bench efficiency` measures it.
# Registered in this order (the default run's order), the composites right after their engines.
BUILTIN_METHODS: dict[str, tuple[str, frozenset[str]]] = {
    "random": ("adapters.baselines:RandomEmbedding", frozenset({DEFAULT})),
    "oracle-text": ("adapters.baselines:OracleText", frozenset({DEFAULT})),
    "rapidocr": ("adapters.rapidocr:RapidOCR", frozenset({DEFAULT, EFFICIENCY})),
    "rapidocr-ctc": ("adapters.rapidocr:RapidOCRCTC", frozenset({DEFAULT, EFFICIENCY})),
    "ppocrv6": ("adapters.rapidocr:PPOCRv6", frozenset({DEFAULT, EFFICIENCY})),
    "ppocrv6-ctc": ("adapters.rapidocr:PPOCRv6CTC", frozenset({DEFAULT, EFFICIENCY})),
    "ppocrv6-ctc-shortlist": ("adapters.rapidocr:PPOCRv6CTCShortlist", frozenset()),
    "tesseract": ("adapters.tesseract:Tesseract", frozenset({DEFAULT, EFFICIENCY})),
    "tesseract-latn": ("adapters.tesseract:TesseractLatin", frozenset({DEFAULT})),
    "easyhtr": ("adapters.easyhtr:EasyHTR", frozenset()),
    "easyhtr-ctc": ("adapters.easyhtr:EasyHTRCTC", frozenset()),
    "easyocr": ("adapters.easyocr:EasyOCR", frozenset()),
    # the paper's other recognisers (Table 2, two-stage rows)
    "trocr": ("adapters.hub_ocr:TrOCR", frozenset()),
    "trocr:": ("adapters.hub_ocr:TrOCR", frozenset()),
    "florence2": ("adapters.hub_ocr:Florence2", frozenset()),
    "florence2:": ("adapters.hub_ocr:Florence2", frozenset()),
    "parseq": ("adapters.ocr_packages:DocTRParseq", frozenset()),
    "surya": ("adapters.ocr_packages:Surya", frozenset()),
    "deepseek-ocr": ("adapters.openai_chat:DeepSeekOCR", frozenset()),
    "deepseek-ocr:": ("adapters.openai_chat:DeepSeekOCR", frozenset()),
    "abinet": ("adapters.unmaintained:ABINet", frozenset()),
    "transcripts:": ("adapters.transcripts_file:TranscriptsFile", frozenset()),
    # (the COMPOSITES below are registered here)
    "siglip": ("adapters.hf_clip:SigLIP", frozenset()),
    "siglip:": ("adapters.hf_clip:SigLIP", frozenset()),
    "clip": ("adapters.hf_clip:CLIP", frozenset()),
    "clip:": ("adapters.hf_clip:CLIP", frozenset()),
    "openclip:": ("adapters.openclip:OpenCLIP", frozenset()),
    # the paper's other embedders (Table 2, end-to-end rows)
    "gme": ("adapters.mllm_embed:GME", frozenset()),
    "gme:": ("adapters.mllm_embed:GME", frozenset()),
    "e5-v": ("adapters.mllm_embed:E5V", frozenset()),
    "e5-v:": ("adapters.mllm_embed:E5V", frozenset()),
    "bge-visualized": ("adapters.bge_visualized:BGEVisualized", frozenset()),
    "mm-embed": ("adapters.remote_code:MMEmbed", frozenset()),
    "nomic-embed-vision": ("adapters.remote_code:NomicEmbedVision", frozenset()),
    "vlm:": ("adapters.vlm:TransformersVLM", frozenset()),
    "openai:": ("adapters.openai_chat:OpenAIChat", frozenset()),
    "ours": ("adapters.ours:Ours", frozenset({DEFAULT, EFFICIENCY})),
    "ours-int8": ("adapters.ours:OursInt8", frozenset({DEFAULT, EFFICIENCY})),
    "ours+rerank": ("adapters.ours:OursRerank", frozenset()),
    "ours-hand": ("adapters.ours:OursHand", frozenset()),
    "ours-paper": ("adapters.ours_paper:OursPaper", frozenset()),
    "ours-ablate:": ("adapters.ours:OursAblation", frozenset()),
}


# Methods built on the ones above, one declaration per kind: `<engine>+embed` and `<engine>+dict`
# for each engine named (in the default run exactly when the engine is), and the prefix that
# takes any other (`ocr+embed:NAME`, `dict:NAME`).
COMPOSITES: tuple[Composite, ...] = (
    Composite("adapters.ocr_embed:OCRThenEmbed", prefix="ocr+embed:", suffix="+embed",
              engines=("rapidocr", "tesseract", "easyocr"), measured=("rapidocr",)),
    Composite("adapters.dictionary:DictionaryPivot", prefix="dict:", suffix="+dict",
              engines=("rapidocr", "rapidocr-ctc", "ppocrv6", "ppocrv6-ctc", "ppocrv6-ctc-shortlist", "tesseract",
                       "tesseract-latn", "easyocr", "easyhtr", "easyhtr-ctc", "ours+rerank", "trocr", "florence2",
                       "parseq", "surya", "deepseek-ocr", "abinet")),
)
COMPOSITES_AFTER = "transcripts:"   # the last engine: composites follow it in the registration order


def register(registry: Registry) -> None:
    tags = {name: tags for name, (_, tags) in BUILTIN_METHODS.items()}
    for name, (target, method_tags) in BUILTIN_METHODS.items():
        registry.register(name, target, source="builtin", tags=method_tags)
        if name == COMPOSITES_AFTER:
            for composite in COMPOSITES:
                register_composite(registry, composite, tags)
