"""Rendering one word in one handwriting style, with seeded per-sample variation.

Work happens on an ink mask (0 = paper, 255 = full ink) and is composed onto a
paper texture at the end. Two style kinds:

* font styles: handwriting fonts drawn glyph by glyph on a shared baseline, so
  baseline jitter and letter spacing vary per sample (kerning is kept by
  placing each glyph at the advance of the prefix before it);
  and each glyph's position, size and rotation are jittered per sample (as the
  ``handright`` package does), so a font is not a perfectly regular printer;
* stroke writers: centre-lines drawn as pen strokes with per-writer slant,
  scale, pen width and pressure, per-stroke offsets and joins, smoothed and
  noised per sample, so every writer seed is a different hand. Chinese
  writers draw hanzi-writer-data medians; Latin writers draw single-stroke
  Hershey fonts (script, cursive and simplex families) with per-writer letter
  width, spacing and baseline drift, and compose accents (á é í ó ú ñ ü) and
  inverted marks (¿ ¡) from strokes of their own.

A writer's constants come from its side's region of the parameter space
(``WRITER_REGIONS``): OOD writers differ from in-domain writers in slant, pen
width and cursiveness, not only in seed.

Then per sample: stroke-width change, slant and rotation, elastic distortion,
blur, ink and paper noise, random padding; greyscale, fixed height.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

HEIGHT = 64
MAX_WIDTH = 768
RENDER_VERSION = "2"


@dataclass(frozen=True)
class StyleParams:
    size: int          # font size in px on the working canvas (Latin writers: cap height ~0.7 size)
    slant: float       # horizontal shear (x += slant * (baseline - y))
    weight: int        # 0 or +1 (thicker: 3x3 max filter)
    spacing: float     # extra letter spacing, fraction of size
    wobble: float      # baseline jitter per glyph, px
    ink: int           # ink grey level
    pen: float         # stroke writers: pen width in 1024-unit character box
    jitter: float      # stroke writers: per-stroke offset sigma (1024 units)
    noise: float       # stroke writers: per-point noise sigma (1024 units)
    glyph: float = 0.0     # per-glyph jitter of position, size and rotation (fonts; 1 = strong)
    width: float = 1.0     # Latin writers: letter width factor
    drift: float = 0.0     # Latin writers: baseline drift amplitude, fraction of size
    pressure: float = 0.0  # stroke writers: pen-width swing along a stroke (0 = constant)
    joins: float = 0.0     # stroke writers: probability of a pen-down join to the next stroke/letter


@dataclass(frozen=True)
class Style:
    id: str                  # e.g. "font:caveat", "strokes:w007", "hershey:scripts:w003"
    family: str              # asset family; decides the in-domain / OOD side
    kind: str                # "font", "font-split", "strokes" (hanzi), "hershey" (Latin) or "hand" (hand tier)
    files: tuple[str, ...]   # font file, split-font pieces, the stroke-data folder, or the Hershey font name
    params: Any              # StyleParams; a hand-tier style carries a bench.data.hand.Writer


# Writer-parameter regions (uniform ranges; a tuple of ranges is a union). OOD writers lean
# backwards or far forwards, hold thinner or heavier pens and join strokes far more often than
# in-domain writers: disjoint regions of slant, pen and joins, so OOD is a new kind of hand.
WRITER_REGIONS = {
    "id": {"slant": ((-0.06, 0.22),), "pen": ((50.0, 78.0),), "joins": ((0.0, 0.25),),
           "jitter": ((8.0, 26.0),), "pressure": ((0.0, 0.3),)},
    "ood": {"slant": ((-0.34, -0.14), (0.30, 0.48)), "pen": ((34.0, 46.0), (84.0, 100.0)),
            "joins": ((0.45, 0.9),), "jitter": ((26.0, 40.0),), "pressure": ((0.3, 0.6),)},
}


def _uniform(rng: np.random.Generator, ranges: tuple[tuple[float, float], ...]) -> float:
    lo, hi = ranges[int(rng.integers(len(ranges)))] if len(ranges) > 1 else ranges[0]
    return float(rng.uniform(lo, hi))


def _style_seed(style_id: str) -> int:
    # A hash of the whole id: render version 1 kept only the first 8 bytes ("strokes:", "font:cav"),
    # so every Chinese writer shared one set of constants.
    return int.from_bytes(hashlib.sha256(style_id.encode()).digest()[:8], "little")


def style_params(style_id: str, kind: str, side: str = "id") -> StyleParams:
    """Per-style constants, a pure function of the style id, its kind and (writers) its side."""
    rng = np.random.default_rng(_style_seed(style_id))
    if kind in ("strokes", "hershey"):
        region = WRITER_REGIONS[side]
        return StyleParams(
            size=int(rng.integers(40, 50)), slant=_uniform(rng, region["slant"]), weight=0,
            spacing=float(rng.uniform(-0.02, 0.1)), wobble=float(rng.uniform(0.5, 2.5)),
            ink=int(rng.integers(0, 70)), pen=_uniform(rng, region["pen"]),
            jitter=_uniform(rng, region["jitter"]), noise=float(rng.uniform(3, 10)),
            width=float(rng.uniform(0.8, 1.25)), drift=float(rng.uniform(0.0, 0.12)),
            pressure=_uniform(rng, region["pressure"]), joins=_uniform(rng, region["joins"]))
    # Fonts: the family decides the side (disjoint families), so one range serves both.
    return StyleParams(
        size=int(rng.integers(40, 50)),
        slant=float(rng.normal(0.08, 0.12)),
        weight=int(rng.choice([0, 0, 1])),
        spacing=float(rng.uniform(-0.02, 0.08)),
        wobble=float(rng.uniform(0.5, 2.5)),
        ink=int(rng.integers(0, 70)),
        pen=float(rng.uniform(50, 80)),
        jitter=float(rng.uniform(8, 30)),
        noise=float(rng.uniform(3, 10)),
        glyph=float(rng.uniform(0.3, 1.0)),
    )


# -- glyph sources --------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _font(path: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=64)
def _split_ranges(files: tuple[str, ...]) -> tuple[tuple[int, int, str], ...]:
    """(start, end, piece file) from a fontsource unicode.json beside the pieces."""
    pieces = {Path(f).name: f for f in files if f.endswith(".woff2")}
    meta = next(f for f in files if f.endswith("unicode.json"))
    ranges = []
    for key, spec in json.loads(Path(meta).read_text()).items():
        index = key.strip("[]")
        match = [p for name, p in pieces.items() if name.endswith(f"-{index}-400-normal.woff2")]
        if not match:
            continue
        for part in spec.split(","):
            part = part.strip().removeprefix("U+")
            lo, _, hi = part.partition("-")
            ranges.append((int(lo, 16), int(hi or lo, 16), match[0]))
    return tuple(sorted(ranges))


def font_file_for(style: Style, ch: str) -> str | None:
    if style.kind == "font":
        return style.files[0]
    code = ord(ch)
    for lo, hi, path in _split_ranges(style.files):
        if lo <= code <= hi:
            return path
    return None


@functools.lru_cache(maxsize=8192)
def _strokes(folder: str, ch: str):
    path = Path(folder) / f"{ch}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())["medians"]


HERSHEY_ASCENT = 21.0   # Hershey units from cap line (-12) to baseline (9)
# Accents drawn as strokes of their own (Hershey fonts are ASCII): polylines in units of the
# x-height box, y up from the top of the base letter.
_MARKS = {
    "\u0301": [[(-0.15, 0.25), (0.25, 0.85)]],                                        # acute
    "\u0300": [[(0.15, 0.25), (-0.25, 0.85)]],                                        # grave
    "\u0303": [[(-0.45, 0.35), (-0.25, 0.6), (0.0, 0.45), (0.25, 0.3), (0.45, 0.55)]],  # tilde
    "\u0308": [[(-0.3, 0.45), (-0.25, 0.55)], [(0.25, 0.45), (0.3, 0.55)]],           # diaeresis
}
_INVERTED = {"¿": "?", "¡": "!"}


@functools.lru_cache(maxsize=16)
def _hershey_font(name: str):
    from HersheyFonts import HersheyFonts

    font = HersheyFonts()
    font.load_default_font(name)
    return font


@functools.lru_cache(maxsize=4096)
def hershey_glyph(name: str, ch: str):
    """(strokes as float arrays, advance) of ``ch`` in Hershey font ``name``, or None.

    Accented letters are the base glyph plus mark strokes above it; ¿ and ¡ are ? and !
    turned half a circle and dropped to the baseline, as they are written.
    """
    if ch in _INVERTED:
        base = hershey_glyph(name, _INVERTED[ch])
        if base is None:
            return None
        strokes, advance = base
        top = min(float(p[:, 1].min()) for p in strokes)
        bottom = max(float(p[:, 1].max()) for p in strokes)
        # Turned about the glyph's centre, then lowered so the tail hangs below the baseline.
        return [np.stack([advance - p[:, 0], top + bottom - p[:, 1] + 6.0], 1) for p in strokes], advance
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if not base.isascii() or any(m not in _MARKS for m in marks):
        return None
    glyph = next(iter(_hershey_font(name).glyphs_for_text(base)), None)
    if glyph is None or (not glyph.strokes and base != " "):
        return None
    strokes = [np.asarray(st, dtype=np.float64) - [glyph.left_offset, 0.0] for st in glyph.strokes if len(st) > 0]
    advance = float(glyph.char_width)
    if marks:
        top = min(float(p[:, 1].min()) for p in strokes)
        centre = float(np.mean([p[:, 0].mean() for p in strokes]))
        box = 9.0  # the x-height in Hershey units
        for m in marks:
            strokes += [np.array([(centre + x * box, top - 1.0 - y * box) for x, y in line]) for line in _MARKS[m]]
    return strokes, advance


def can_draw(style: Style, ch: str) -> bool:
    """Whether the style draws ``ch`` as a real glyph (not empty, not the missing-glyph box)."""
    if ch == " ":
        return True
    if style.kind == "strokes":
        return _strokes(style.files[0], ch) is not None
    if style.kind == "hershey":
        return hershey_glyph(style.files[0], ch) is not None
    path = font_file_for(style, ch)
    if path is None:
        return False
    font = _font(path, 40)
    mask = font.getmask(ch)
    if mask.getbbox() is None:
        return False
    return bytes(mask) != bytes(font.getmask("\U0010fffd"))  # the font's .notdef glyph


# -- drawing ----------------------------------------------------------------------------------

def _draw_font(text: str, style: Style, p: StyleParams, rng: np.random.Generator):
    from PIL import Image, ImageChops, ImageDraw

    size = p.size
    canvas = Image.new("L", (int(size * (len(text) + 2) * 1.6) + 40, size * 3), 0)
    baseline = size * 2
    x = 20.0
    spacing = p.spacing + rng.normal(0, 0.015)
    prev_font = None
    for i, ch in enumerate(text):
        path = font_file_for(style, ch) if ch != " " else (prev_font or font_file_for(style, "a") or style.files[0])
        font = _font(path, size)
        if style.kind == "font":
            # Advance of the whole prefix keeps the font's kerning between glyphs.
            x_i = 20.0 + font.getlength(text[:i]) + i * spacing * size
        else:
            x_i = x
        y = baseline + rng.normal(0, p.wobble)
        # Per-glyph variation: each glyph its own size, rotation and offset.
        scale = float(np.clip(rng.normal(1.0, 0.06 * p.glyph), 0.8, 1.2))
        angle = float(rng.normal(0, 4.0 * p.glyph))
        dx, dy = rng.normal(0, 0.04 * p.glyph * size, size=2)
        if ch != " ":
            glyph_font = _font(path, max(8, int(round(size * scale))))
            tile = Image.new("L", (size * 3, size * 3), 0)
            ImageDraw.Draw(tile).text((size, size * 2), ch, font=glyph_font, fill=255, anchor="ls")
            tile = tile.rotate(angle, resample=Image.BILINEAR, center=(size, size * 2))
            ox, oy = int(round(x_i + dx + rng.normal(0, 0.6))) - size, int(round(y + dy)) - size * 2
            region = (max(ox, 0), max(oy, 0), min(ox + tile.width, canvas.width), min(oy + tile.height, canvas.height))
            part = tile.crop((region[0] - ox, region[1] - oy, region[2] - ox, region[3] - oy))
            canvas.paste(ImageChops.lighter(canvas.crop(region), part), region[:2])
        x = x_i + font.getlength(ch) + spacing * size
        prev_font = path
    return canvas


def _chaikin(points: np.ndarray, rounds: int = 2) -> np.ndarray:
    for _ in range(rounds):
        if len(points) < 3:
            break
        q = 0.75 * points[:-1] + 0.25 * points[1:]
        r = 0.25 * points[:-1] + 0.75 * points[1:]
        points = np.concatenate([points[:1], np.stack([q, r], 1).reshape(-1, 2), points[-1:]])
    return points


def _pen(draw, xy: np.ndarray, width: float, pressure: float, rng: np.random.Generator) -> None:
    """A pen stroke along ``xy`` whose width swings with ``pressure`` (0 = a constant pen)."""
    coords = [tuple(map(float, q)) for q in xy]
    if pressure <= 0 or len(coords) < 4:
        pieces = [(coords, width)]
    else:
        # Pressure rises into the stroke and falls off its end, with a little wander.
        n = len(coords)
        phase = np.sin(np.linspace(0.15, np.pi - 0.15, n)) + rng.normal(0, 0.15, n)
        widths = width * (1 - pressure + pressure * np.clip(phase, 0, 1.2))
        step = max(2, n // 8)
        pieces = [(coords[i:i + step + 1], float(widths[min(n - 1, i + step // 2)])) for i in range(0, n - 1, step)]
    for piece, w in pieces:
        w = max(1, int(round(w)))
        if len(piece) > 1:
            draw.line(piece, fill=255, width=w, joint="curve")
        r = w / 2
        for cx, cy in (piece[0], piece[-1]):
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)


def _draw_strokes(text: str, style: Style, p: StyleParams, rng: np.random.Generator):
    from PIL import Image, ImageDraw

    box = 96  # px per character on the working canvas
    canvas = Image.new("L", (int(box * 1.25 * len(text)) + 2 * box, box * 2), 0)
    draw = ImageDraw.Draw(canvas)
    x0 = box * 0.5
    for ch in text:
        scale = box / 1024 * float(np.clip(rng.normal(1.0, 0.06), 0.8, 1.2))
        y0 = box * 0.5 + rng.normal(0, p.wobble * 2)
        medians = _strokes(style.files[0], ch) if ch != " " else None
        previous = None
        for stroke in medians or []:
            pts = np.asarray(stroke, dtype=np.float64)
            pts[:, 1] = 900 - pts[:, 1]  # hanzi-writer's y axis points up
            pts = pts + rng.normal(0, p.jitter, size=2) + rng.normal(0, p.noise, size=pts.shape)
            pts = _chaikin(pts)
            xy = np.stack([x0 + pts[:, 0] * scale, y0 + pts[:, 1] * scale], 1)
            width = p.pen * scale * rng.uniform(0.8, 1.2)
            # A cursive hand leaves the pen down between strokes: a thin connecting hairline.
            if previous is not None and rng.random() < p.joins:
                _pen(draw, np.stack([previous, xy[0]]), max(1.0, width * 0.35), 0.0, rng)
            _pen(draw, xy, max(2.0, width), p.pressure, rng)
            previous = xy[-1]
        x0 += box * (1.0 + p.spacing) * (scale * 1024 / box)
    return canvas


def _draw_hershey(text: str, style: Style, p: StyleParams, rng: np.random.Generator):
    """A Latin stroke writer: Hershey single-stroke glyphs written with this writer's hand."""
    from PIL import Image, ImageDraw

    unit = p.size * 0.7 / HERSHEY_ASCENT * float(np.clip(rng.normal(1.0, 0.04), 0.9, 1.1))
    canvas = Image.new("L", (int(p.size * 1.3 * p.width * (len(text) + 2)) + 60, p.size * 3), 0)
    draw = ImageDraw.Draw(canvas)
    baseline = p.size * 1.9
    x = 20.0
    drift_phase, drift_len = rng.uniform(0, 2 * np.pi), rng.uniform(3.0, 8.0)
    pen = max(1.5, p.pen / 1024 * p.size * 1.2)
    previous = None
    for i, ch in enumerate(text):
        glyph = hershey_glyph(style.files[0], ch) if ch != " " else None
        advance = 16.0 if glyph is None else glyph[1]
        width = p.width * float(np.clip(rng.normal(1.0, 0.05), 0.85, 1.15))
        y = baseline + p.drift * p.size * np.sin(drift_phase + i / drift_len * 2 * np.pi) + rng.normal(0, p.wobble)
        shift = rng.normal(0, p.jitter / 1024 * p.size, size=2)
        for k, stroke in enumerate(glyph[0] if glyph else []):
            pts = stroke + rng.normal(0, p.noise / 1024 * 21, size=stroke.shape)
            pts = _chaikin(pts) if len(pts) > 2 else pts
            xy = np.stack([x + pts[:, 0] * unit * width + shift[0], y + (pts[:, 1] - 9.0) * unit + shift[1]], 1)
            # Joins: the pen stays down from the last letter's exit to this letter's entry.
            if k == 0 and previous is not None and rng.random() < p.joins:
                _pen(draw, np.stack([previous, xy[0]]), pen * 0.7, 0.0, rng)
            _pen(draw, xy, pen * rng.uniform(0.85, 1.15), p.pressure, rng)
        if glyph and glyph[0]:
            previous = np.stack([x + glyph[0][-1][-1, 0] * unit * width, y + (glyph[0][-1][-1, 1] - 9.0) * unit])
        if ch == " ":
            previous = None
        x += (advance * width + p.spacing * HERSHEY_ASCENT) * unit
    return canvas


DRAW = {"font": _draw_font, "font-split": _draw_font, "strokes": _draw_strokes, "hershey": _draw_hershey}


def _elastic(mask: np.ndarray, alpha: float, cell: int, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image

    h, w = mask.shape
    gh, gw = max(2, h // cell), max(2, w // cell)
    fields = [np.asarray(Image.fromarray(rng.normal(0, alpha, (gh, gw)).astype(np.float32), mode="F")
                         .resize((w, h), Image.BICUBIC)) for _ in range(2)]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sx = np.clip(xx + fields[0], 0, w - 1.001)
    sy = np.clip(yy + fields[1], 0, h - 1.001)
    x0, y0 = sx.astype(np.int64), sy.astype(np.int64)
    fx, fy = sx - x0, sy - y0
    m = mask.astype(np.float32)
    top = m[y0, x0] * (1 - fx) + m[y0, x0 + 1] * fx
    bottom = m[y0 + 1, x0] * (1 - fx) + m[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def render(text: str, style: Style, rng: np.random.Generator) -> "Image.Image":
    """One sample of ``text`` in ``style``; all randomness comes from ``rng``."""
    from PIL import Image, ImageFilter

    p = style.params
    mask = DRAW[style.kind](text, style, p, rng)

    # Only thickening: thinning erased the strokes of light fonts entirely.
    if p.weight + int(rng.choice([0, 0, 0, 1])) > 0:
        mask = mask.filter(ImageFilter.MaxFilter(3))

    slant = p.slant + rng.normal(0, 0.06)
    w, h = mask.size
    mask = mask.transform((w + int(abs(slant) * h), h), Image.AFFINE,
                          (1, slant, -max(slant, 0) * h, 0, 1, 0), resample=Image.BILINEAR)
    mask = mask.rotate(rng.normal(0, 1.5), resample=Image.BILINEAR, expand=True)

    bbox = mask.getbbox()
    if bbox is None:
        raise ValueError(f"style {style.id} drew nothing for {text!r}")
    mask = mask.crop(bbox)
    arr = np.asarray(mask, dtype=np.float32)
    pad = rng.integers(4, 14, size=4)
    arr = np.pad(arr, ((pad[0], pad[1]), (pad[2], pad[3])))
    arr = _elastic(arr, alpha=float(rng.uniform(0.0, 2.0)), cell=int(rng.integers(12, 28)), rng=rng)
    mask = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode="L")
    blur = float(rng.uniform(0.0, 0.9))
    if blur > 0.15:
        mask = mask.filter(ImageFilter.GaussianBlur(blur))

    width = max(8, min(MAX_WIDTH, round(mask.width * HEIGHT / mask.height)))
    mask = mask.resize((width, HEIGHT), Image.BILINEAR)
    alpha = np.asarray(mask, dtype=np.float32) / 255.0
    paper = float(rng.uniform(215, 252))
    texture = Image.fromarray(rng.normal(0, 1, (max(2, HEIGHT // 8), max(2, width // 8))).astype(np.float32),
                              mode="F").resize((width, HEIGHT), Image.BICUBIC)
    background = paper + np.asarray(texture) * rng.uniform(0, 6) + rng.normal(0, rng.uniform(1, 7), alpha.shape)
    ink = p.ink + rng.normal(0, 12)
    pixels = background * (1 - alpha) + ink * alpha
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L")


def encode_png(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
