"""The paper recipe's training loop, on any device.

Two stages (section 4.1): pre-training at ``lr_pretrain`` for ``epochs_pretrain`` epochs, then
fine-tuning at ``lr_finetune`` for ``epochs_finetune`` epochs on the fine-tuning pack (the same pack
when none is given). An epoch is one pass over the pack's images. Batches hold ``instances``
renders of as many semantic ids as there are categories (capped by ``max_batch``), the languages
taken in turn (``ourmodel.sampler``). Loss: symmetric InfoNCE with the learnable temperature plus
``lam`` times semantic consistency over the batch's images and texts (``ourmodel.losses``).

The pack lives on the device as its 4-bit bytes; each batch is unpacked and augmented there (random
affine, stroke width, contrast, noise), so a GPU is never waiting on Python. On CUDA the forward
passes run under bf16 autocast. Each stage checkpoints to ``out/<stage>/last.pt`` every
``val_every`` steps and resumes from it; a finished stage leaves ``out/<stage>/done.pt``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ourmodel.losses import total_loss
from ourmodel.paper.model import PaperModel
from ourmodel.paper.packed import Pack
from ourmodel.paper.recipe import PaperRecipe, RecipeError
from ourmodel.sampler import BalancedBatchSampler

STAGES = ("pretrain", "finetune")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RecipeError("--device cuda: torch sees no CUDA device here (torch.cuda.is_available() is False); "
                           "use --device cpu or auto")
    return torch.device(name)


class DeviceImages:
    """A pack's images on the device, unpacked and augmented per batch there."""

    def __init__(self, pack: Pack, device: torch.device):
        self.packed = torch.from_numpy(pack.images).to(device)
        self.device = device

    def batch(self, idx: np.ndarray, augment: bool, generator: torch.Generator) -> torch.Tensor:
        packed = self.packed[torch.from_numpy(idx).to(self.device)]
        grey = torch.stack((packed >> 4, packed & 15), dim=-1).flatten(-2).float() / 15.0   # (B, H, W) in [0, 1]
        x = grey[:, None]
        return augment_on_device(x, generator) if augment else x


def augment_on_device(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Writer-like variation of (B, 1, H, W) word images in [0, 1] (ink dark), batched on x's device:
    scale, shift, shear and a small rotation; thinner or thicker strokes; contrast; noise."""
    b, dev = x.shape[0], x.device

    def u(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(b, *shape, generator=g, device=g.device).to(dev)

    angle, shear, scale = u(-0.05, 0.05), u(-0.3, 0.3), u(0.85, 1.1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos / scale, (-sin + shear) / scale, u(-0.08, 0.08)], -1),
                         torch.stack([sin / scale, cos / scale, u(-0.1, 0.1)], -1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    ink = F.grid_sample(1.0 - x, grid, align_corners=False, padding_mode="zeros")
    width = u(0, 1, 1, 1, 1)
    thicker = F.max_pool2d(ink, 3, 1, 1)
    thinner = -F.max_pool2d(-ink, 3, 1, 1)
    ink = torch.where(width < 0.25, thinner, torch.where(width > 0.75, thicker, ink))
    ink = ink * u(0.6, 1.0, 1, 1, 1)
    noise = torch.randn(x.shape, generator=g, device=g.device).to(dev) * u(0, 0.08, 1, 1, 1)
    return (1.0 - ink + noise).clamp(0, 1)


def batch_size(recipe: PaperRecipe, pack: Pack) -> int:
    categories = len(np.unique(pack.ids))
    ids = recipe.ids_per_batch or categories
    return recipe.instances * max(1, min(ids, categories, recipe.max_batch // recipe.instances))


def stage_steps(recipe: PaperRecipe, stage: str, n_images: int, batch: int) -> int:
    epochs = recipe.epochs_pretrain if stage == "pretrain" else recipe.epochs_finetune
    steps = epochs * math.ceil(n_images / batch)
    return min(steps, recipe.steps) if recipe.steps else steps


def _lexicon_rows(pack: Pack) -> dict[tuple[int, str], int]:
    return {(e["semantic_id"], e["lang"]): i for i, e in enumerate(pack.lexicon)}


def _text_embeddings(model: PaperModel, pack: Pack, rows: np.ndarray, device) -> torch.Tensor:
    texts = [pack.lexicon[r]["text"] for r in rows]
    return model.encode_texts(torch.from_numpy(rows).to(device), texts)


@torch.no_grad()
def validate(model: PaperModel, pack: Pack, device, per_lang: int = 200) -> dict:
    """Acc@1 of each image of (at most ``per_lang`` per language of) ``pack`` against its language's
    lexicon words."""
    model.eval()
    rng = np.random.default_rng(0)
    lexicon_rows = np.arange(len(pack.lexicon))
    text = torch.cat([_text_embeddings(model, pack, part, device) for part in np.array_split(lexicon_rows, 8)
                      if len(part)])
    lex_lang = np.array([e["lang"] for e in pack.lexicon])
    lex_id = np.array([e["semantic_id"] for e in pack.lexicon])
    hits, total = 0, 0
    images = DeviceImages(pack, device)
    for lang in sorted(set(pack.lang_names())):
        pool = np.flatnonzero(np.array(pack.lang_names()) == lang)
        chosen = np.sort(rng.choice(pool, size=min(per_lang, len(pool)), replace=False))
        emb = model.visual(images.batch(chosen, False, None))
        cols = np.flatnonzero(lex_lang == lang)
        best = (emb.float() @ text[torch.from_numpy(cols).to(device)].float().T).argmax(1).cpu().numpy()
        hits += int((lex_id[cols[best]] == pack.ids[chosen]).sum())
        total += len(chosen)
    model.train()
    return {"acc1": round(hits / max(total, 1), 4), "queries": total}


def run_stage(model, stage: str, pack: Pack, recipe: PaperRecipe, out: Path, device, val_pack: Pack | None,
              log=print) -> None:
    folder = out / stage
    if (folder / "done.pt").exists():
        model.load_state_dict(torch.load(folder / "done.pt", map_location=device, weights_only=True))
        log(f"{stage}: done before ({folder / 'done.pt'})")
        return
    folder.mkdir(parents=True, exist_ok=True)
    batch = batch_size(recipe, pack)
    steps = stage_steps(recipe, stage, len(pack), batch)
    lr = recipe.lr_pretrain if stage == "pretrain" else recipe.lr_finetune
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=lr, weight_decay=recipe.weight_decay)
    step = 0
    if (folder / "last.pt").exists():
        state = torch.load(folder / "last.pt", map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        step = int(state["step"])
        log(f"{stage}: resuming at step {step}")
    sampler = BalancedBatchSampler(pack.ids, pack.lang_names(), batch, recipe.instances, recipe.seed)
    rows_of = _lexicon_rows(pack)
    images = DeviceImages(pack, device)
    g = torch.Generator(device=device if device.type == "cuda" else "cpu")
    g.manual_seed(recipe.seed * 1000 + STAGES.index(stage))
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast(
        "cpu", enabled=False)
    started = time.perf_counter()
    batches = sampler.batches_from(step)
    log(f"{stage}: {steps} steps of {batch} images ({len(pack)} in the pack) at lr {lr} on {device}")
    model.train()
    while step < steps:
        idx = np.array(next(batches))
        ids = torch.from_numpy(pack.ids[idx].astype(np.int64)).to(device)
        rows = np.array([rows_of[(int(pack.ids[i]), pack.lang_names()[i])] for i in idx])
        with autocast:
            img = model.visual(images.batch(idx, recipe.augment, g))
            txt = _text_embeddings(model, pack, rows, device)
            parts = total_loss(img.float(), txt.float(), ids, model.logit_scale, lam=recipe.lam)
        optim.zero_grad(set_to_none=True)
        parts["total"].backward()
        optim.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, 4.6052)
        step += 1
        if step % recipe.val_every == 0 or step == steps:
            record = {"stage": stage, "step": step, "seconds": round(time.perf_counter() - started, 1),
                      "images_seen": step * batch, "loss": {k: round(float(v.detach()), 4) for k, v in parts.items()},
                      "temperature": round(float(1 / model.logit_scale.exp()), 4)}
            if val_pack is not None:
                record["val"] = validate(model, val_pack, device)
            with open(out / "curve.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
            log(json.dumps(record))
            tmp = folder / "last.pt.tmp"
            torch.save({"model": model.state_dict(), "optim": optim.state_dict(), "step": step}, tmp)
            tmp.replace(folder / "last.pt")
    torch.save(model.state_dict(), folder / "done.pt")


def train_paper(recipe: PaperRecipe, pretrain: Pack, out: Path, device: torch.device, *, finetune: Pack | None = None,
                val_pack: Pack | None = None, log=print) -> PaperModel:
    """Both stages into ``out`` (resumable); returns the trained model."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    there = out / "recipe.json"
    if there.exists() and json.loads(there.read_text()) != recipe.to_json():
        raise RecipeError(f"{out}: a run with another recipe is there; use another --out or the same options")
    there.write_text(json.dumps(recipe.to_json(), indent=2) + "\n")
    for other in (finetune, val_pack):
        if other is not None and other.lexicon != pretrain.lexicon:
            raise RecipeError(f"{other.root}: its lexicon differs from {pretrain.root}'s; the stages and the "
                             "validation share one lexicon (pack them from datasets with the same lexicon)")
    torch.manual_seed(recipe.seed)
    anchors = torch.from_numpy(pretrain.anchors.astype(np.float32))
    model = PaperModel(recipe, anchors).to(device)
    run_stage(model, "pretrain", pretrain, recipe, out, device, val_pack, log)
    run_stage(model, "finetune", finetune or pretrain, recipe, out, device, val_pack, log)
    model.eval()
    return model
