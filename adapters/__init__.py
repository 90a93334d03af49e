"""Method adapters, one module per family. Heavy dependencies are imported inside them.

``register`` is this package's ``hwr_bench.plugins`` hook (see pyproject.toml): it puts every
built-in method into the harness's registry exactly as a third-party plugin would.
"""

from __future__ import annotations

from bench.api import DEFAULT, EFFICIENCY, Registry

# name -> ("module:Class", tags). DEFAULT: runs offline from a plain install (plus Debian's
# tesseract), so the main job never rewrites the committed "unavailable" records of methods that
# need extras or weights with this machine's reasons. EFFICIENCY: `bench efficiency` measures it.
BUILTIN_METHODS: dict[str, tuple[str, frozenset[str]]] = {
    "random": ("adapters.baselines:RandomEmbedding", frozenset({DEFAULT})),
    "oracle-text": ("adapters.baselines:OracleText", frozenset({DEFAULT})),
    "rapidocr": ("adapters.rapidocr:RapidOCR", frozenset({DEFAULT, EFFICIENCY})),
    "rapidocr-ctc": ("adapters.rapidocr:RapidOCRCTC", frozenset({DEFAULT, EFFICIENCY})),
    "ppocrv6": ("adapters.rapidocr:PPOCRv6", frozenset({DEFAULT, EFFICIENCY})),
    "ppocrv6-ctc": ("adapters.rapidocr:PPOCRv6CTC", frozenset({DEFAULT, EFFICIENCY})),
    "tesseract": ("adapters.tesseract:Tesseract", frozenset({DEFAULT, EFFICIENCY})),
    "tesseract-latn": ("adapters.tesseract:TesseractLatin", frozenset({DEFAULT})),
    "easyhtr": ("adapters.easyhtr:EasyHTR", frozenset()),
    "easyhtr-ctc": ("adapters.easyhtr:EasyHTRCTC", frozenset()),
    "easyocr": ("adapters.easyocr:EasyOCR", frozenset()),
    "rapidocr+embed": ("adapters.ocr_embed:RapidOCRThenEmbed", frozenset({DEFAULT, EFFICIENCY})),
    "tesseract+embed": ("adapters.ocr_embed:TesseractThenEmbed", frozenset({DEFAULT})),
    "easyocr+embed": ("adapters.ocr_embed:EasyOCRThenEmbed", frozenset()),
    "ocr+embed:": ("adapters.ocr_embed:OCRThenEmbed", frozenset()),
    "rapidocr+dict": ("adapters.dictionary:RapidOCRDict", frozenset({DEFAULT})),
    "rapidocr-ctc+dict": ("adapters.dictionary:RapidOCRCTCDict", frozenset({DEFAULT})),
    "ppocrv6+dict": ("adapters.dictionary:PPOCRv6Dict", frozenset({DEFAULT})),
    "ppocrv6-ctc+dict": ("adapters.dictionary:PPOCRv6CTCDict", frozenset({DEFAULT})),
    "tesseract+dict": ("adapters.dictionary:TesseractDict", frozenset({DEFAULT})),
    "tesseract-latn+dict": ("adapters.dictionary:TesseractLatinDict", frozenset({DEFAULT})),
    "easyocr+dict": ("adapters.dictionary:EasyOCRDict", frozenset()),
    "easyhtr+dict": ("adapters.dictionary:EasyHTRDict", frozenset()),
    "easyhtr-ctc+dict": ("adapters.dictionary:EasyHTRCTCDict", frozenset()),
    "dict:": ("adapters.dictionary:DictionaryPivot", frozenset()),
    "siglip": ("adapters.hf_clip:SigLIP", frozenset()),
    "siglip:": ("adapters.hf_clip:SigLIP", frozenset()),
    "clip": ("adapters.hf_clip:CLIP", frozenset()),
    "clip:": ("adapters.hf_clip:CLIP", frozenset()),
    "openclip:": ("adapters.openclip:OpenCLIP", frozenset()),
    "vlm:": ("adapters.vlm:TransformersVLM", frozenset()),
    "openai:": ("adapters.openai_chat:OpenAIChat", frozenset()),
    "ours": ("adapters.ours:Ours", frozenset({DEFAULT, EFFICIENCY})),
    "ours-int8": ("adapters.ours:OursInt8", frozenset({DEFAULT, EFFICIENCY})),
    "ours-ablate:": ("adapters.ours:OursAblation", frozenset()),
}


def register(registry: Registry) -> None:
    for name, (target, tags) in BUILTIN_METHODS.items():
        registry.register(name, target, source="builtin", tags=tags)
