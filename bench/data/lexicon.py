"""The committed trilingual lexicon (``lexicon.tsv``, built by ``lexicon_build``)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from bench.core.errors import DatasetError
from bench.data.schema import LANGUAGES, LexiconEntry

LEXICON_PATH = Path(__file__).parent / "lexicon.tsv"


@functools.lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> tuple[LexiconEntry, ...]:
    entries = []
    header = None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if header is None:
            header = fields
            if header != ["semantic_id", "source", *LANGUAGES]:
                raise DatasetError(path, f"line {lineno}: unexpected header {header}")
            continue
        if len(fields) != len(header):
            raise DatasetError(path, f"line {lineno}: expected {len(header)} tab-separated fields")
        sid = int(fields[0])
        entries += [LexiconEntry(sid, lang, text) for lang, text in zip(LANGUAGES, fields[2:])]
    return tuple(entries)


def lexicon_digest(path: Path = LEXICON_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def texts_by_lang(entries) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for e in entries:
        out[e.lang].append(e.text)
    return out
