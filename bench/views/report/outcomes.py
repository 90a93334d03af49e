"""Per-query outcomes read back from a result's rankings sidecar: what the report's failure
galleries and compare pages show (the query, its truth, the top predictions and their scores)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from bench.data.store import Dataset
from bench.store.records import ResultRecord
from bench.store.results import read_rankings

TOP = 5   # predictions shown per query


@dataclass(frozen=True)
class Prediction:
    key: str              # a lexicon key (image query) or an image key (text query)
    label: str            # the word, or the image's key
    score: float
    hit: bool             # same semantic id as the query


@dataclass(frozen=True)
class Outcome:
    subtask: str          # "en", "en→zh", ...
    key: str              # the query: an image key, or a lexicon key for text->image
    kind: str             # "image" (image -> words) or "text" (word -> images)
    lang: str
    style: str | None     # the query image's style (None for a text query)
    truth: str            # the true word in the gallery's language, or the query word
    rank: int | None      # rank of the first relevant item (None: it was not ranked)
    top: tuple[Prediction, ...]
    transcript: str | None = None   # a transcription method's raw output

    @property
    def correct(self) -> bool:
        return self.rank == 1

    def order(self) -> int:
        return order_key(self.subtask, self.key)


def order_key(subtask: str, key: str) -> int:
    """A fixed pseudo-random order of queries, the same for every method, so that galleries capped
    at N show overlapping queries across methods (and share thumbnails)."""
    return zlib.crc32(f"{subtask}/{key}".encode())


@dataclass(frozen=True)
class SubtaskRankings:
    """One subtask of a rankings sidecar; outcomes are built only for the queries asked for."""
    name: str
    data: dict

    @property
    def kind(self) -> str:
        return "image" if "query_styles" in self.data or "truth_text" in self.data else "text"

    @property
    def keys(self) -> list[str]:
        return self.data["query_keys"]

    def rank(self, i: int) -> int | None:
        ranks = self.data["relevant_ranks"][i]
        return min(ranks) if ranks else None

    def outcome(self, i: int, dataset: Dataset) -> Outcome:
        st, text_query = self.data, self.kind == "text"
        qid, key = st["query_ids"][i], st["query_keys"][i]
        top = []
        for gkey, score in list(zip(st["top_keys"][i], st["top_scores"][i]))[:TOP]:
            if text_query:
                top.append(Prediction(gkey, gkey, score, dataset.sample(gkey).semantic_id == qid))
            else:
                entry = dataset.lexicon_entry(gkey)
                top.append(Prediction(gkey, entry.text, score, entry.semantic_id == qid))
        return Outcome(subtask=self.name, key=key, kind=self.kind, lang=st["query_lang"],
                       style=None if text_query else st["query_styles"][i],
                       truth=dataset.lexicon_entry(key).text if text_query else st["truth_text"][i],
                       rank=self.rank(i), top=tuple(top),
                       transcript=st["transcripts"][i] if "transcripts" in st else None)


def rankings(record: ResultRecord) -> dict[str, SubtaskRankings]:
    """The record's sidecar by subtask; a missing, truncated or malformed sidecar raises
    ``bench.store.results.RankingsError`` naming it."""
    return {name: SubtaskRankings(name, st) for name, st in read_rankings(record.path, validate=True).items()}


@dataclass(frozen=True)
class Failures:
    shown: list[Outcome]      # at most the cap, in the shared order
    failed: int               # how many of the subtask's queries failed
    queries: int


def failures(subtasks: dict[str, SubtaskRankings], dataset: Dataset, per_subtask: int) -> dict[str, Failures]:
    """Subtask -> its failed queries (the right item not ranked first), capped in the shared order."""
    out = {}
    for name, st in subtasks.items():
        failed = [i for i in range(len(st.keys)) if st.rank(i) != 1]
        picked = sorted(failed, key=lambda i: (order_key(name, st.keys[i]), st.keys[i]))[:per_subtask]
        out[name] = Failures([st.outcome(i, dataset) for i in picked], len(failed), len(st.keys))
    return out
