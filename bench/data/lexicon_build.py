"""Build the trilingual lexicon (en, zh, es) from CLDR data, offline.

Run ``python -m bench.data.lexicon_build`` to regenerate ``bench/data/lexicon.tsv``; the
file is committed so the benchmark does not change when a dependency updates.

Sources (all CLDR, Unicode License v3), reached through two PyPI packages:
* ``babel``: month and weekday names, territory names, names of languages with a
  two-letter ISO 639-1 code;
* ``emoji`` (BSD): CLDR short names of single, fully-qualified emoji (no skin tones,
  flags, keycaps or joined sequences), which name everyday objects, animals,
  food, places and activities.

Filters keep plain, short noun phrases: English in ASCII letters, Spanish in the
Spanish alphabet (á é í ó ú ñ ü kept), Chinese in GB2312 Han characters only, at
most three words (four in Spanish) / five characters, and every form unique within its language
(after NFC + casefold). A concept that loses any of its three forms is dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bench.core.text import normalise_text
from bench.data.lexicon import LEXICON_PATH

EN_RE = re.compile(r"^[A-Za-z]+(?: [A-Za-z]+){0,2}$")
# Spanish needs one more word than English for the same noun phrase ("barril de petróleo").
ES_RE = re.compile(r"^[A-Za-záéíóúñüÁÉÍÓÚÑÜ]+(?: [A-Za-záéíóúñüÁÉÍÓÚÑÜ]+){0,3}$")
MAX_LATIN_CHARS = 20
MAX_ZH_CHARS = 5
# Idiomatic or descriptive CLDR names rather than plain nouns.
ZH_STOP = ("的", "着", "了", "地", "得")
EN_STOP_WORDS = {"face", "with", "person", "man", "woman", "of", "and", "the", "in", "on", "for",
                 "squared"}


@dataclass(frozen=True)
class Concept:
    source: str
    en: str
    zh: str
    es: str


def _is_gb2312_han(text: str) -> bool:
    if not text or len(text) > MAX_ZH_CHARS or any(s in text for s in ZH_STOP):
        return False
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return all("\u4e00" <= ch <= "\u9fff" for ch in text)


def _latin_ok(text: str, pattern: re.Pattern) -> bool:
    return len(text) <= MAX_LATIN_CHARS and bool(pattern.match(text))


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(text.replace("_", " ").strip(":").split()))


def calendar_concepts() -> list[Concept]:
    from babel import Locale

    en, es, zh = Locale("en"), Locale("es"), Locale("zh", script="Hans", territory="CN")
    out = []
    for kind in ("months", "days"):
        en_names = getattr(en, kind)["format"]["wide"]
        for key in sorted(en_names):
            out.append(Concept(f"cldr:{kind}", en_names[key], getattr(zh, kind)["format"]["wide"][key],
                               getattr(es, kind)["format"]["wide"][key]))
    return out


def territory_and_language_concepts() -> list[Concept]:
    from babel import Locale

    en, es, zh = Locale("en"), Locale("es"), Locale("zh", script="Hans", territory="CN")
    out = []
    for code in sorted(en.territories):
        if code in es.territories and code in zh.territories:
            out.append(Concept("cldr:territory", en.territories[code], zh.territories[code],
                               es.territories[code]))
    for code in sorted(en.languages):
        if len(code) == 2 and code in es.languages and code in zh.languages:
            out.append(Concept("cldr:language", en.languages[code], zh.languages[code],
                               es.languages[code]))
    return out


def emoji_concepts() -> list[Concept]:
    import emoji

    emoji.config.load_language(["es", "zh"])
    out = []
    for char, data in sorted(emoji.EMOJI_DATA.items(), key=lambda kv: kv[1]["en"]):
        if data.get("status") != emoji.STATUS["fully_qualified"]:
            continue
        if any(c in char for c in ("\u200d", "\u20e3")) or any(
                0x1F3FB <= ord(c) <= 0x1F3FF or 0x1F1E6 <= ord(c) <= 0x1F1FF
                or 0xE0020 <= ord(c) <= 0xE007F for c in char):  # skin tones, flags, tag flags
            continue
        if not all(k in data for k in ("en", "es", "zh")):
            continue
        en_name = _clean(data["en"])
        if set(en_name.lower().split()) & EN_STOP_WORDS:
            continue
        out.append(Concept("cldr:emoji", en_name, _clean(data["zh"]), _clean(data["es"])))
    return out


def build_concepts() -> list[Concept]:
    kept: list[Concept] = []
    seen = {"en": set(), "zh": set(), "es": set()}
    for c in calendar_concepts() + territory_and_language_concepts() + emoji_concepts():
        en, zh, es = _clean(c.en), _clean(c.zh), _clean(c.es)
        if not (_latin_ok(en, EN_RE) and _latin_ok(es, ES_RE) and _is_gb2312_han(zh)):
            continue
        keys = {"en": normalise_text(en), "zh": normalise_text(zh), "es": normalise_text(es)}
        if any(keys[lang] in seen[lang] for lang in keys):
            continue
        for lang, key in keys.items():
            seen[lang].add(key)
        kept.append(Concept(c.source, en, zh, es))
    return kept


def source_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {"babel": version("babel"), "emoji": version("emoji")}


def write_lexicon(path: Path = LEXICON_PATH) -> int:
    concepts = build_concepts()
    versions = source_versions()
    lines = [
        "# hwr-bench lexicon: one concept per line, semantic_id<TAB>source<TAB>en<TAB>zh<TAB>es",
        "# Built by `python -m bench.data.lexicon_build` from CLDR data (Unicode License v3) via "
        + ", ".join(f"{k}=={v}" for k, v in sorted(versions.items())) + ".",
        "# babel and emoji are BSD-licensed; the names themselves are CLDR's.",
        "semantic_id\tsource\ten\tzh\tes",
    ]
    lines += [f"{i}\t{c.source}\t{c.en}\t{c.zh}\t{c.es}" for i, c in enumerate(concepts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(concepts)


if __name__ == "__main__":
    n = write_lexicon()
    print(f"wrote {LEXICON_PATH} with {n} concepts")
