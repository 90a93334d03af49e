"""A contact sheet of samples, so a person can look at the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.schema import LANGUAGES, SPLITS
from bench.data.store import Dataset

TILE_W, TILE_H, LABEL_W = 300, 64, 110


def _style_kind(style: str) -> str:
    return style.split(":", 1)[0]


def _pick(samples: list, n: int, rng: np.random.Generator) -> list:
    """``n`` samples of a row: first one of each style kind (font, stroke writer, ...), preferring
    words with accents or marks so that they show, then the rest at random."""
    chosen = []
    for kind in sorted({_style_kind(s.style) for s in samples}):
        of_kind = [s for s in samples if _style_kind(s.style) == kind]
        marked = [s for s in of_kind if not s.text.isascii()] or of_kind
        chosen.append(marked[int(rng.integers(len(marked)))])
    rest = [s for s in samples if s not in chosen]
    extra = rng.choice(len(rest), size=max(0, min(n - len(chosen), len(rest))), replace=False) if rest else []
    return (chosen + [rest[int(i)] for i in extra])[:n]


def contact_sheet(ds: Dataset, out: Path, *, per_row: int = 6, seed: int = 0) -> Path:
    from PIL import Image, ImageDraw

    rows = [(lang, split) for lang in LANGUAGES for split in SPLITS if ds.select(split=split, lang=lang)]
    sheet = Image.new("L", (LABEL_W + per_row * TILE_W, len(rows) * (TILE_H + 6)), 255)
    draw = ImageDraw.Draw(sheet)
    rng = np.random.default_rng(seed)
    for r, (lang, split) in enumerate(rows):
        y = r * (TILE_H + 6)
        draw.text((6, y + TILE_H // 2 - 6), f"{lang} {split}", fill=0)
        samples = ds.select(split=split, lang=lang)
        for c, sample in enumerate(_pick(samples, per_row, rng)):
            image = ds.image_item(sample.key).image
            image.thumbnail((TILE_W - 6, TILE_H))
            sheet.paste(image, (LABEL_W + c * TILE_W, y))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
