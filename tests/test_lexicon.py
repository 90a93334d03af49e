from collections import Counter
from importlib.metadata import version

import pytest

from bench.data import lexicon_build
from bench.data.lexicon import LEXICON_PATH, load_lexicon
from bench.core.text import normalise_text


def test_committed_lexicon_is_trilingual_unique_and_large():
    entries = load_lexicon()
    by_lang = Counter(e.lang for e in entries)
    assert by_lang["en"] == by_lang["zh"] == by_lang["es"] >= 1200
    for lang in ("en", "zh", "es"):
        texts = [normalise_text(e.text) for e in entries if e.lang == lang]
        assert len(texts) == len(set(texts)), f"{lang} texts are not unique"
    zh = "".join(e.text for e in entries if e.lang == "zh")
    zh.encode("gb2312")  # every Chinese character is in GB2312
    es = "".join(e.text for e in entries if e.lang == "es")
    assert all(ch in es for ch in "áéíóúñü")


def test_lexicon_build_reproduces_the_committed_file(tmp_path):
    recorded = LEXICON_PATH.read_text(encoding="utf-8").splitlines()[1]
    for package in ("babel", "emoji"):
        if f"{package}=={version(package)}" not in recorded:
            pytest.skip(f"installed {package} {version(package)} differs from the one the lexicon was built with")
    out = tmp_path / "lexicon.tsv"
    lexicon_build.write_lexicon(out)
    assert out.read_text(encoding="utf-8") == LEXICON_PATH.read_text(encoding="utf-8")


def test_filters_reject_non_plain_forms():
    assert lexicon_build._is_gb2312_han("胡萝卜")
    assert not lexicon_build._is_gb2312_han("AB型血")      # Latin letters
    assert not lexicon_build._is_gb2312_han("笑着的脸")    # descriptive, not a noun
    assert not lexicon_build._is_gb2312_han("長頸鹿長頸鹿")  # too long, traditional
    assert lexicon_build._latin_ok("barril de petróleo", lexicon_build.ES_RE)
    assert not lexicon_build._latin_ok("flag: Spain", lexicon_build.EN_RE)
