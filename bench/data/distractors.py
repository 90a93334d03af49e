"""Distractor words: the vocabulary an archive's gallery holds beyond the benchmark's lexicon.

Taken in frequency order from the word lists the pinned ``wordfreq`` wheel ships (large
lists for en, zh and es; nothing is downloaded), kept only if written in the language's
script, and never a word that normalises to a lexicon word of that language, so the hits of
every query are unchanged. A distractor is a ``LexiconEntry`` with a negative semantic id:
it can be ranked, it can never be relevant.
"""

from __future__ import annotations

import functools
import re

from bench.core.errors import DatasetError
from bench.core.text import normalise_text
from bench.data.schema import LexiconEntry

WORDFREQ_VERSION = "3.1.1"       # pinned in pyproject.toml; part of the gallery protocols' versions
SCRIPT = {"en": re.compile(r"^[a-z]+$"), "es": re.compile(r"^[a-záéíóúñü]+$"),
          "zh": re.compile(r"^[\u4e00-\u9fff]+$")}


@functools.lru_cache(maxsize=8)
def _ranked_words(lang: str, n: int) -> tuple[str, ...]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("wordfreq")
        import wordfreq
    except (ImportError, PackageNotFoundError) as exc:  # a core dependency; only a broken install lacks it
        raise DatasetError("wordfreq", f"not importable ({exc}); reinstall hwr-bench") from None
    if installed != WORDFREQ_VERSION:
        raise DatasetError("wordfreq", f"version {installed} installed, the galleries are defined "
                           f"with {WORDFREQ_VERSION} (pip install wordfreq=={WORDFREQ_VERSION})")
    return tuple(wordfreq.top_n_list(lang, n, wordlist="best"))


def distractors(lang: str, lexicon_texts: list[str], count: int) -> list[LexiconEntry]:
    """The ``count`` most frequent usable words of ``lang`` that are not lexicon words."""
    if lang not in SCRIPT:
        raise DatasetError("gallery", f"no distractor word list for language {lang!r} (have {', '.join(SCRIPT)})")
    if count <= 0:
        return []
    taken = {normalise_text(t) for t in lexicon_texts}
    out: list[LexiconEntry] = []
    for word in _ranked_words(lang, 4 * count + 10_000):
        norm = normalise_text(word)
        if norm in taken or not SCRIPT[lang].match(norm):
            continue
        taken.add(norm)
        out.append(LexiconEntry(-(len(out) + 1), lang, norm))
        if len(out) == count:
            return out
    raise DatasetError("gallery", f"wordfreq {lang} list has only {len(out)} usable distractors, {count} wanted")
