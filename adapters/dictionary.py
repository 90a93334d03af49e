"""OCR + dictionary (not in the paper): ``<engine>+dict``, the cross-lingual pipeline a
practitioner with a closed multilingual lexicon would deploy.

The engine (any transcription or scoring method) reads the word in the image's own language
and ranks that language's lexicon by its own score (edit similarity of its transcript, or its
CTC likelihood); the lexicon's semantic ids are the bilingual dictionary: each target-language
entry takes the score of its source-language synonym. It assumes a translation dictionary for
the closed vocabulary, which the benchmark's lexicon is; a target word with no synonym in the
source lexicon ranks below every word that has one.

Within a language a dictionary changes nothing (the rows would repeat the engine's), so these
methods answer cross-lingual subtasks only (``answers``). They reuse the engine's cached
transcripts or lexicon scores (the network runs once per image) and cache what they compute for
the engine too. One ``<engine>+dict`` is registered per engine its declaration names
(``COMPOSITES`` in ``adapters/__init__.py``); ``dict:<method>`` takes any other, e.g. ``dict:vlm:NAME``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from adapters.composite import OnEngine
from bench.api import (EngineOutputs, Family, MethodInfo, RunContext, ScoringRetriever, edit_similarities,
                       normalise_text)

PREFIX = "dict:"
PIVOT_VERSION = "dict-1"


def pivot_scores(source_scores: np.ndarray, source_ids: Sequence[int], target_ids: Sequence[int]) -> np.ndarray:
    """Scores against a target word list from scores against the source lexicon.

    ``source_scores`` is (n_images, len(source_ids)); each target word (by semantic id) takes the
    score of the source word with the same id; a target word without one scores below every
    source score of its image.
    """
    column = {sid: j for j, sid in enumerate(source_ids)}
    cols = np.array([column.get(sid, -1) for sid in target_ids], dtype=np.int64)
    floor = source_scores.min(axis=1, keepdims=True) - 1.0
    out = np.where(cols >= 0, source_scores[:, np.maximum(cols, 0)], floor)
    return out.astype(np.float32)


class DictionaryPivot(OnEngine, ScoringRetriever):
    prefix, suffix = PREFIX, "+dict"
    engine_families = (Family.TRANSCRIPTION, Family.SCORING)

    def __init__(self, spec=None, options=None, engine=None):
        super().__init__(spec, options, engine)
        self._dataset = None
        self._engine_outputs: EngineOutputs | None = None   # the engine's cached outputs, from prepare()

    def answers(self, subtask) -> bool:
        # Cross-lingual image queries whose own-language ranking the engine answers.
        return (subtask.query_kind == "image" and subtask.query_lang != subtask.gallery_lang
                and self.ocr.answers(replace(subtask, gallery_lang=subtask.query_lang)))

    @property
    def info(self) -> MethodInfo:
        inner = self.ocr.info
        return MethodInfo(
            name=self.method_name, group="two-stage",
            version=f"{inner.version}|{PIVOT_VERSION}",
            description=f"{inner.name} ranks the image's own-language lexicon; each target-language word takes "
                        "the score of its source-language synonym (the lexicon's semantic ids as a dictionary)",
            params=inner.params, model_bytes=inner.model_bytes, licence=inner.licence,
            requires=inner.requires, preprocessing=inner.preprocessing,
            config={"engine": inner.name, "engine_config": inner.config,
                    "dictionary": "the benchmark lexicon's semantic ids (a closed-vocabulary translation dictionary)",
                    "scope": "cross-lingual subtasks only; within a language it is the engine itself"})

    def prepare(self, context: RunContext) -> None:
        super().prepare(context)
        self._dataset = context.dataset
        self._engine_outputs = EngineOutputs(self.ocr, context.cache_dir, context.dataset)

    def _source_scores(self, items, lang: str) -> np.ndarray:
        """The engine's scores of each image against its own language's lexicon, in lexicon order."""
        ds = self._dataset
        if self.ocr.family is Family.SCORING:
            return self._engine_outputs.lexicon_scores(items, lang)
        transcripts = self._engine_outputs.transcripts(items)
        return edit_similarities([normalise_text(t) for t in transcripts],
                                 [normalise_text(e.text) for e in ds.lexicon_for(lang)])

    def score_texts(self, items, lang: str, lexicons) -> dict[str, np.ndarray]:
        if self._dataset is None:
            raise RuntimeError(f"{self.method_name}: prepare() was not called; the dictionary is the run's lexicon")
        ds = self._dataset
        source = self._source_scores(list(items), lang)
        source_ids = [e.semantic_id for e in ds.lexicon_for(lang)]
        out = {}
        for target, words in lexicons.items():
            entries = ds.lexicon_for(target)
            # ``answers`` admits cross-lingual subtasks only, whose gallery is the target lexicon.
            if [e.text for e in entries] != list(words):
                raise ValueError(f"{self.method_name} pivots into the {target} lexicon only, not another word list")
            out[target] = pivot_scores(source, source_ids, [e.semantic_id for e in entries])
        return out

