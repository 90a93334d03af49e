"""The style pool: which handwriting styles exist here, which languages each can draw,
and which side (in-domain or OOD) each family is on.

A family is on one side only, fixed by name in this file, so no font family and
no stroke-writer seed is ever in both pools. Coverage is checked by rendering
every character the language's lexicon uses: a font that lists a character but
draws an empty or placeholder glyph is left out of that language.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.data.assets import SOURCES, assets_dir, load_asset, read_lock, verify_files
from bench.data.render import Style, can_draw, style_params
from bench.data.schema import LANGUAGES

# Families held out for the OOD split; everything else available is in-domain.
OOD_FAMILIES = frozenset({
    "zeyada", "homemade-apple", "rock-salt", "yellowtail", "reenie-beanie", "kristi",
    "gloria-hallelujah", "permanent-marker",                      # Latin
    "arphic-gkai00mp", "zhi-mang-xing", "liu-jian-mao-cao",       # Chinese fonts
})
SCRIPT_LANGS = {"latin": ("en", "es"), "han": ("zh",)}
# Stroke writers (Chinese from hanzi-writer medians, Latin from Hershey fonts): seeds below 100
# are in-domain, from 100 up OOD, and each side draws its constants from its own region of the
# writer-parameter space (``render.WRITER_REGIONS``).
ID_WRITER_SEEDS = range(0, 100)
OOD_WRITER_SEEDS = range(100, 200)
# Latin writers' Hershey families, disjoint like the font families: print and simple script
# in-domain, the joined cursive OOD.
HERSHEY_FAMILIES = {"id": ("scripts", "futural"), "ood": ("cursive",)}
LATIN_WRITERS = {"id": 8, "ood": 4}          # how many join the default Latin style pool
TARGET_STYLES = {"id": 16, "ood": 8}
MIN_STYLES = {"id": 12, "ood": 6}


@dataclass(frozen=True)
class StylePool:
    styles: dict[str, dict[str, list[Style]]]   # lang -> "id"/"ood" -> styles
    notes: list[str]                             # what was left out and why

    def counts(self) -> dict[str, dict[str, int]]:
        return {lang: {side: len(v) for side, v in sides.items()} for lang, sides in self.styles.items()}


def _pick_font_file(files: list[str]) -> str:
    """The regular weight of a family when it ships several."""
    fonts = sorted(f for f in files if f.lower().endswith((".ttf", ".otf", ".ttc", ".woff2")))
    regular = [f for f in fonts if "regular" in f.lower() or "book" in f.lower()]
    plain = [f for f in fonts if not any(w in f.lower() for w in ("bold", "light", "italic", "oblique", "mono"))]
    return (regular or plain or fonts)[0]


def _asset_styles(cache_root: Path, notes: list[str]) -> list[Style]:
    lock = read_lock()
    styles = []
    for source in SOURCES:
        if source.kind == "strokes":
            continue
        record = load_asset(cache_root, source.name, lock)
        if record is None:
            notes.append(f"{source.name}: not fetched (run `bench data assets`)")
            continue
        if not verify_files(cache_root, record):
            notes.append(f"{source.name}: cached files differ from their recorded hashes; refused "
                         "(re-run `bench data assets`)")
            continue
        folder = assets_dir(cache_root) / source.name
        if source.kind == "font-split":
            files = tuple(str(folder / f) for f in sorted(record["files"]))
        else:
            files = (str(folder / _pick_font_file(list(record["files"]))),)
        sid = f"font:{source.name}"
        side = "ood" if source.name in OOD_FAMILIES else "id"
        styles.append(Style(sid, source.name, source.kind, files, style_params(sid, source.kind, side)))
    return styles


def writer_side(seed: int) -> str:
    return "ood" if seed in OOD_WRITER_SEEDS else "id"


def hanzi_writer(folder: str, seed: int) -> Style:
    sid = f"strokes:w{seed:03d}"
    return Style(sid, f"hanzi-writer/w{seed:03d}", "strokes", (folder,),
                 style_params(sid, "strokes", writer_side(seed)))


def hershey_writer(seed: int) -> Style:
    """Latin stroke writer ``seed``: a Hershey family of its side, with that side's hand."""
    side = writer_side(seed)
    fonts = HERSHEY_FAMILIES[side]
    font = fonts[seed % len(fonts)]
    sid = f"hershey:{font}:w{seed:03d}"
    return Style(sid, f"hershey-{font}", "hershey", (font,), style_params(sid, "hershey", side))


def _writer_styles(cache_root: Path, notes: list[str]) -> tuple[list[Style], list[Style]]:
    record = load_asset(cache_root, "hanzi-writer")
    if record is None:
        notes.append("hanzi-writer: not fetched; no Chinese stroke writers (run `bench data assets`)")
        return [], []
    folder = str(assets_dir(cache_root) / "hanzi-writer")
    return [hanzi_writer(folder, s) for s in ID_WRITER_SEEDS], [hanzi_writer(folder, s) for s in OOD_WRITER_SEEDS]


def _latin_writers(chars: dict[str, list[str]], pool: dict, notes: list[str]) -> None:
    for side, seeds in (("id", ID_WRITER_SEEDS), ("ood", OOD_WRITER_SEEDS)):
        for seed in list(seeds)[:LATIN_WRITERS[side]]:
            style = hershey_writer(seed)
            for lang in SCRIPT_LANGS["latin"]:
                missing = [ch for ch in chars.get(lang, []) if not can_draw(style, ch)]
                if missing:
                    notes.append(f"{style.id}: cannot draw {''.join(missing[:5])!r}; left out of {lang}")
                else:
                    pool[lang][side].append(style)


def lexicon_chars(texts: list[str]) -> set[str]:
    return {ch for t in texts for ch in t if not ch.isspace()}


def build_pool(cache_root: Path, lexicon_by_lang: dict[str, list[str]],
               zh_id_writers: int | None = None) -> StylePool:
    """``zh_id_writers``: total in-domain Chinese styles wanted (extra training data); default the target."""
    notes: list[str] = []
    fonts = _asset_styles(cache_root, notes)
    id_writers, ood_writers = _writer_styles(cache_root, notes)
    chars = {lang: sorted(lexicon_chars(texts)) for lang, texts in lexicon_by_lang.items()}
    pool = {lang: {"id": [], "ood": []} for lang in LANGUAGES}
    for style in fonts:
        script = next(s.script for s in SOURCES if s.name == style.family)
        for lang in SCRIPT_LANGS[script]:
            missing = [ch for ch in chars.get(lang, []) if not can_draw(style, ch)]
            if missing:
                notes.append(f"{style.family}: cannot draw {len(missing)} {lang} character(s) "
                             f"(e.g. {''.join(missing[:5])!r}); left out of {lang}")
                continue
            pool[lang]["ood" if style.family in OOD_FAMILIES else "id"].append(style)
    _latin_writers(chars, pool, notes)
    # Stroke writers top Chinese up to the targets; all writers share one stroke database,
    # so one coverage check serves them all.
    if id_writers:
        missing = [ch for ch in chars.get("zh", []) if not can_draw(id_writers[0], ch)]
        if missing:
            notes.append(f"hanzi-writer: no stroke data for {len(missing)} zh character(s) "
                         f"(e.g. {''.join(missing[:5])!r}); stroke writers not used")
        else:
            for side, writers in (("id", id_writers), ("ood", ood_writers)):
                target = zh_id_writers if side == "id" and zh_id_writers else TARGET_STYLES[side]
                need = max(0, target - len(pool["zh"][side]))
                pool["zh"][side].extend(writers[:need])
    for lang in LANGUAGES:
        for side in ("id", "ood"):
            pool[lang][side].sort(key=lambda s: s.id)
            if len(pool[lang][side]) < MIN_STYLES[side]:
                notes.append(f"{lang}: only {len(pool[lang][side])} {side} styles "
                             f"(target at least {MIN_STYLES[side]})")
    return StylePool(pool, notes)
