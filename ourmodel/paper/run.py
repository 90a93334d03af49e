"""``bench train --recipe paper`` and ``bench pack``: datasets to packs, packs to a trained and
exported model. The trainer itself (``trainer``) reads packs only."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ourmodel.paper.packed import FORMAT, Pack, PackError, load_pack, write_pack
from ourmodel.paper.recipe import PAPER, PaperRecipe


def is_pack(path: Path | None) -> bool:
    try:
        return path is not None and json.loads((Path(path) / "manifest.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def cached_pack(ds, split: str, recipe: PaperRecipe, cache_root: Path, log=print) -> Pack:
    """``ds``'s ``split`` packed at the recipe's image size, once, under the cache's packs/ folder."""
    folder = Path(cache_root) / "packs" / f"{ds.fingerprint[:16]}-{split}-{recipe.image_height}x{recipe.image_width}"
    if not folder.exists():
        started = time.perf_counter()
        write_pack(ds, split, folder, recipe.image_height, recipe.image_width, cache_root)
        log(f"packed {ds.name} {split} into {folder} ({time.perf_counter() - started:.0f}s)")
    return load_pack(folder)


def check_pack_size(pack: Pack, recipe: PaperRecipe) -> None:
    h, w = pack.manifest["height"], pack.manifest["width"]
    if (h, w) != (recipe.image_height, recipe.image_width):
        raise PackError(f"{pack.root}: packed at {h}x{w}, the recipe wants {recipe.image_height}x"
                        f"{recipe.image_width}; re-pack, or --set image_height={h} --set image_width={w}")


def run_paper_training(recipe: PaperRecipe, out: Path, device_name: str, pretrain: Pack, finetune: Pack | None,
                       val_pack: Pack | None, log=print) -> Path:
    """Train both stages on the device, then export ``out/final`` for ``ours-paper``."""
    import torch

    from ourmodel.paper.export import export
    from ourmodel.paper.trainer import pick_device, train_paper

    for pack in (pretrain, finetune, val_pack):
        if pack is not None:
            check_pack_size(pack, recipe)
    device = pick_device(device_name)
    started = time.perf_counter()
    model = train_paper(recipe, pretrain, out, device, finetune=finetune, val_pack=val_pack, log=log)
    meta = {"smoke": recipe.steps > 0 or recipe != PAPER.with_overrides({"text_model": recipe.text_model}),
            "device": str(device), "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "seconds": round(time.perf_counter() - started, 1), "pretrain": pretrain.manifest["dataset"],
            "finetune": (finetune or pretrain).manifest["dataset"], "torch": torch.__version__}
    return export(model, pretrain, Path(out) / "final", meta)
