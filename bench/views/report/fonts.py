"""The Chinese glyphs the report needs, shipped with the site.

A computer without a CJK font draws every Chinese word of the site as boxes, and neither set-up
command installs one. So the site carries its own: LXGW WenKai Regular (SIL Open Font License
1.1, no reserved font name), the most neutral of the Chinese fonts the dataset builder already
pins (Debian's ``fonts-lxgw-wenkai``, fetched by ``bench data assets`` into the asset cache; the
others are Arphic's licence or brush scripts), cut down to exactly the characters that the site's
text uses outside ASCII and written as WOFF2 (``assets/cjk.woff2``, a few KB to a few hundred).
The stylesheet names it last in its font stacks, after the system fonts and the usual system CJK
fonts, so it only supplies what the computer lacks.

When the font cannot be had (not in the asset cache, not what was pinned, fontTools or brotli
missing) the site is still written, and when its pages have Chinese text every page says which
font is missing and how to get it.

The bytes depend only on the pinned font and the characters: the subset keeps the font's own
``head`` dates (fontTools would otherwise stamp the time of the build) and WOFF2's Brotli
compression is deterministic, so two builds stay byte-identical.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

from bench.core.io import file_sha256
from bench.data.assets import SOURCES_BY_NAME, assets_dir, load_asset

ASSET = "lxgw-wenkai"
FILE = "LXGWWenKai-Regular.ttf"
NAME = "LXGW WenKai"                  # as the page tells a reader (the stylesheet's family is html.CJK_FAMILY)
OUT = "assets/cjk.woff2"              # where the subset goes in the site
LICENCE_OUT = "assets/cjk-font.txt"   # the font's copyright and licence notice, beside it
# Name records kept in the subset: copyright, family, style, ids, version, PostScript name,
# licence and licence URL (the OFL asks that the notice travel with the font).
NAME_IDS = (0, 1, 2, 3, 4, 5, 6, 13, 14)
# Han, CJK punctuation and symbols, kana, Hangul, full-width forms: text that a typical Western
# system font lacks, so a page with any of it and no shipped font says so.
CJK = re.compile("[\u2e80-\u2fdf\u3000-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
                 "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")


@dataclass(frozen=True)
class FontSource:
    path: Path | None      # the verified TTF, or None
    missing: str = ""      # why it cannot be used (empty when it can)
    sha256: str = ""       # the TTF's hash, as pinned


def locate(cache_root: Path) -> FontSource:
    """The pinned TTF in the asset cache, checked against its recorded hash, and the libraries
    the subset needs; never raises."""
    try:
        from fontTools import subset  # noqa: F401
    except ImportError:
        return FontSource(None, "the Python package fonttools is not installed (pip install fonttools)")
    try:
        import brotli  # noqa: F401  (fontTools' WOFF2 writer takes brotli or brotlicffi)
    except ImportError:
        try:
            import brotlicffi  # noqa: F401
        except ImportError:
            return FontSource(None, "the Python package brotli is not installed (pip install brotli)")
    source = SOURCES_BY_NAME[ASSET]
    folder = assets_dir(cache_root) / ASSET
    try:
        record = load_asset(cache_root, ASSET)
        digest = record["files"][FILE] if record is not None else None
        ok = digest is not None and file_sha256(folder / FILE) == digest
    except (OSError, KeyError, TypeError):
        ok = False
    if not ok:
        return FontSource(None, f"{FILE} is not in the asset cache {folder} as pinned (Debian {source.package} "
                                f"{source.version}; `bench data assets --only {ASSET}` fetches it)")
    return FontSource(folder / FILE, sha256=digest)


class _Text(HTMLParser):
    """The text a reader sees: character data outside <script> and <style>, entities decoded."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(document: str) -> str:
    parser = _Text()
    parser.feed(document)
    parser.close()
    return "".join(parser.parts)


def needed_characters(texts) -> str:
    """The characters outside ASCII in ``texts``, sorted (every system font has ASCII)."""
    return "".join(sorted({c for text in texts for c in text if ord(c) > 0x7F}))


def has_cjk(text: str) -> bool:
    return CJK.search(text) is not None


def subset_woff2(path: Path, characters: str) -> tuple[bytes, str, str]:
    """The font cut down to those of ``characters`` it has, as WOFF2 bytes; also the characters
    it covers and its copyright and licence notice."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    # recalcTimestamp=False: keep head.modified as the font has it, not the time of this build.
    font = TTFont(path, lazy=True, recalcTimestamp=False)
    cmap = font.getBestCmap()
    covered = "".join(c for c in characters if ord(c) in cmap)
    names = font["name"]
    notice = "\n\n".join(str(r) for i in (1, 5, 0, 13, 14)
                         for r in [names.getName(i, 3, 1, 0x409)] if r is not None)
    options = subset.Options()
    options.flavor = "woff2"
    options.name_IDs = list(NAME_IDS)
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in covered])
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.flavor = "woff2"
    font.save(buffer)
    return buffer.getvalue(), covered, notice


@lru_cache(maxsize=4)
def cached_subset(sha256: str, path: Path, characters: str) -> tuple[bytes, str, str]:
    """``subset_woff2``, once per font content and characters (a process building several reports)."""
    return subset_woff2(path, characters)


def missing_note(reason: str) -> str:
    return (f"Font missing: {NAME}. Chinese text on this site needs a CJK font; the report ships the "
            f"characters it uses from {NAME} (SIL OFL 1.1), but that font could not be had when it was made: "
            f"{reason}. Where this computer has no CJK font of its own, Chinese words show as boxes.")
