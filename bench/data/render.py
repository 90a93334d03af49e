"""Rendering one word in one handwriting style, with seeded per-sample variation.

Work happens on an ink mask (0 = paper, 255 = full ink) and is composed onto a
paper texture at the end. Two style kinds:

* font styles: handwriting fonts drawn glyph by glyph on a shared baseline, so
  baseline jitter and letter spacing vary per sample (kerning is kept by
  placing each glyph at the advance of the prefix before it);
* stroke writers (Chinese): hanzi-writer-data centre-lines drawn as pen strokes
  with per-writer slant, scale, pen width and per-stroke offsets, smoothed and
  noised per sample, so every writer seed is a different hand.

Then per sample: stroke-width change, slant and rotation, elastic distortion,
blur, ink and paper noise, random padding; greyscale, fixed height.
"""

from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

HEIGHT = 64
MAX_WIDTH = 768
RENDER_VERSION = "1"


@dataclass(frozen=True)
class StyleParams:
    size: int          # font size in px on the working canvas
    slant: float       # horizontal shear (x += slant * (baseline - y))
    weight: int        # 0 or +1 (thicker: 3x3 max filter)
    spacing: float     # extra letter spacing, fraction of size
    wobble: float      # baseline jitter per glyph, px
    ink: int           # ink grey level
    pen: float         # stroke writers: pen width in 1024-unit character box
    jitter: float      # stroke writers: per-stroke offset sigma (1024 units)
    noise: float       # stroke writers: per-point noise sigma (1024 units)


@dataclass(frozen=True)
class Style:
    id: str                  # e.g. "font:caveat", "strokes:w007"
    family: str              # asset family; decides the in-domain / OOD side
    kind: str                # "font", "font-split" or "strokes"
    files: tuple[str, ...]   # font file, split-font pieces, or the stroke-data folder
    params: StyleParams


def style_params(style_id: str, kind: str) -> StyleParams:
    """Per-style constants, a pure function of the style id."""
    seed = int.from_bytes(style_id.encode()[:32].ljust(32, b"\0"), "little") % (2 ** 63)
    rng = np.random.default_rng(seed)
    return StyleParams(
        size=int(rng.integers(40, 50)),
        slant=float(rng.normal(0.08, 0.12)),
        weight=int(rng.choice([0, 0, 1])) if kind != "strokes" else 0,
        spacing=float(rng.uniform(-0.02, 0.08)),
        wobble=float(rng.uniform(0.5, 2.5)),
        ink=int(rng.integers(0, 70)),
        pen=float(rng.uniform(50, 80)),
        jitter=float(rng.uniform(8, 30)),
        noise=float(rng.uniform(3, 10)),
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


def can_draw(style: Style, ch: str) -> bool:
    """Whether the style draws ``ch`` as a real glyph (not empty, not the missing-glyph box)."""
    if ch == " ":
        return True
    if style.kind == "strokes":
        return _strokes(style.files[0], ch) is not None
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
    from PIL import Image, ImageDraw

    size = p.size
    canvas = Image.new("L", (int(size * (len(text) + 2) * 1.6) + 40, size * 3), 0)
    draw = ImageDraw.Draw(canvas)
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
        if ch != " ":
            draw.text((x_i + rng.normal(0, 0.6), y), ch, font=font, fill=255, anchor="ls")
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
        for stroke in medians or []:
            pts = np.asarray(stroke, dtype=np.float64)
            pts[:, 1] = 900 - pts[:, 1]  # hanzi-writer's y axis points up
            pts = pts + rng.normal(0, p.jitter, size=2) + rng.normal(0, p.noise, size=pts.shape)
            pts = _chaikin(pts)
            xy = np.stack([x0 + pts[:, 0] * scale, y0 + pts[:, 1] * scale], 1)
            width = max(2, int(round(p.pen * scale * rng.uniform(0.8, 1.2))))
            coords = [tuple(map(float, q)) for q in xy]
            if len(coords) > 1:
                draw.line(coords, fill=255, width=width, joint="curve")
            r = width / 2
            for cx, cy in (coords[0], coords[-1]):
                draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        x0 += box * (1.0 + p.spacing) * (scale * 1024 / box)
    return canvas


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
    mask = _draw_strokes(text, style, p, rng) if style.kind == "strokes" else _draw_font(text, style, p, rng)

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
