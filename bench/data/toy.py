"""A toy benchmark for plumbing checks: a few dozen words, rendered with installed fonts.

This is not the embedded default benchmark (that builder renders handwriting
styles from a ~1,400-concept lexicon); it exists so the harness can be tested
end to end in seconds. Styles are font-size/slant/stroke/rotation variants;
in-domain and out-of-domain styles are disjoint.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np

from bench.core.cache import is_default_dataset_location
from bench.data.schema import LANGUAGES, LexiconEntry
from bench.data.store import SampleRecord, check_output, write_dataset

# (en, zh, es) forms sharing one semantic id.
TOY_CONCEPTS: tuple[tuple[str, str, str], ...] = (
    ("apple", "苹果", "manzana"), ("water", "水", "agua"), ("house", "房子", "casa"),
    ("book", "书", "libro"), ("dog", "狗", "perro"), ("cat", "猫", "gato"),
    ("sun", "太阳", "sol"), ("moon", "月亮", "luna"), ("tree", "树", "árbol"),
    ("flower", "花", "flor"), ("bread", "面包", "pan"), ("milk", "牛奶", "leche"),
    ("heart", "心", "corazón"), ("year", "年", "año"), ("child", "孩子", "niño"),
    ("bird", "鸟", "pájaro"), ("fish", "鱼", "pez"), ("river", "河", "río"),
    ("mountain", "山", "montaña"), ("city", "城市", "ciudad"), ("road", "路", "camino"),
    ("door", "门", "puerta"), ("window", "窗户", "ventana"), ("table", "桌子", "mesa"),
    ("chair", "椅子", "silla"), ("music", "音乐", "música"), ("friend", "朋友", "amigo"),
    ("school", "学校", "escuela"), ("car", "汽车", "coche"), ("train", "火车", "tren"),
    ("rain", "雨", "lluvia"), ("snow", "雪", "nieve"), ("fire", "火", "fuego"),
    ("star", "星星", "estrella"), ("money", "钱", "dinero"), ("time", "时间", "tiempo"),
    ("morning", "早上", "mañana"), ("night", "夜晚", "noche"), ("question", "问题", "pregunta"),
    ("lemon", "柠檬", "limón"),
)

# (size, shear, stroke, rotation degrees): a "style" of the toy set.
TOY_STYLES: tuple[tuple[int, float, int, float], ...] = (
    (30, 0.0, 0, 0.0), (28, 0.25, 0, -2.0), (32, -0.15, 1, 1.5), (26, 0.1, 0, 3.0),
    (30, 0.35, 1, -1.0), (34, -0.3, 0, 2.0), (27, 0.45, 1, -3.0), (31, 0.0, 1, 4.0),
)
N_ID_STYLES = 5
HEIGHT = 48


def find_font(lang: str) -> str | None:
    """A font file that can draw the language, via fontconfig; None if none is installed."""
    pattern = ":lang=zh-cn" if lang == "zh" else ":lang=es"
    try:
        out = subprocess.run(["fc-list", pattern, "file"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in out.stdout.splitlines() if line.strip())
    files = [f for f in files if f.lower().endswith((".ttf", ".otf", ".ttc"))]
    return files[0] if files else None


def render_word(text: str, font_path: str | None, style, rng: np.random.Generator) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    size, shear, stroke, rotation = style
    font = (ImageFont.truetype(font_path, size) if font_path else ImageFont.load_default(size=size))
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    pad = 8
    canvas = Image.new("L", (right - left + 2 * pad + int(abs(shear) * HEIGHT), HEIGHT + 2 * pad), 255)
    draw = ImageDraw.Draw(canvas)
    jitter = rng.integers(-2, 3, size=2)
    draw.text((pad - left + int(jitter[0]) + (int(abs(shear) * HEIGHT) if shear > 0 else 0),
               pad - top + (HEIGHT - (bottom - top)) // 2 + int(jitter[1])),
              text, font=font, fill=int(rng.integers(0, 60)), stroke_width=stroke,
              stroke_fill=int(rng.integers(0, 60)))
    canvas = canvas.transform(canvas.size, Image.AFFINE, (1, shear, -shear * canvas.size[1] / 2, 0, 1, 0),
                              resample=Image.BILINEAR, fillcolor=255)
    canvas = canvas.rotate(rotation + float(rng.normal(0, 0.5)), resample=Image.BILINEAR,
                           expand=False, fillcolor=255)
    noise = rng.normal(0, 8, size=(canvas.size[1], canvas.size[0]))
    pixels = np.clip(np.asarray(canvas, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L")
    image = image.resize((max(1, round(image.width * HEIGHT / image.height)), HEIGHT), Image.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def build_toy(out: Path, *, seed: int = 0, n_concepts: int | None = None, replace: bool = False) -> str:
    """Write the toy dataset to ``out``; returns its fingerprint.

    An existing dataset at ``out`` is replaced only with ``replace`` or at the default location
    (see ``store.check_output`` and ``cache.is_default_dataset_location``).
    """
    replace = replace or is_default_dataset_location(out)
    check_output(out, replace=replace)
    concepts = TOY_CONCEPTS[:n_concepts] if n_concepts else TOY_CONCEPTS
    fonts = {lang: find_font(lang) for lang in LANGUAGES}
    lexicon = [LexiconEntry(sid, lang, forms[i]) for sid, forms in enumerate(concepts)
               for i, lang in enumerate(LANGUAGES)]
    records = []
    for sid, forms in enumerate(concepts):
        for li, lang in enumerate(LANGUAGES):
            for si, style in enumerate(TOY_STYLES):
                splits = ("train", "test_id") if si < N_ID_STYLES else ("test_ood",)
                for split in splits:
                    rng = np.random.default_rng([seed, sid, li, si, len(split)])
                    key = f"toy-{lang}-{sid:03d}-s{si}-{split}"
                    records.append(SampleRecord(key, render_word(forms[li], fonts[lang], style, rng),
                                                forms[li], sid, lang, f"toy-style-{si}", split))
    builder = {"name": "toy", "seed": seed, "fonts": {k: v or "Pillow default" for k, v in fonts.items()},
               "note": "40-word toy set for plumbing checks, not a benchmark; a language "
               "without an installed font is drawn as boxes"}
    return write_dataset(out, "toy", records, lexicon, builder, replace=replace)
