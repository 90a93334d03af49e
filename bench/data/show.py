"""A contact sheet of samples, so a person can look at the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.store import Dataset
from bench.schema import LANGUAGES, SPLITS

TILE_W, TILE_H, LABEL_W = 300, 64, 110


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
        for c, i in enumerate(rng.choice(len(samples), size=min(per_row, len(samples)), replace=False)):
            image = ds.image_item(samples[int(i)].key).image
            image.thumbnail((TILE_W - 6, TILE_H))
            sheet.paste(image, (LABEL_W + c * TILE_W, y))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
