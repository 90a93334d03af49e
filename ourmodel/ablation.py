"""The paper's Table 5 at a reduced budget: the same training with one signal switched off.

Every variant trains from scratch with the shipped recipe (``TrainConfig``'s defaults) on the
default benchmark's train split only, for the same (small) number of steps, so the variants are
comparable with each other, not with the shipped ``ours``. ``bench ablate`` trains them (resumably) and evaluates each as ``ours-ablate:NAME``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ourmodel.train import TrainConfig
from ourmodel.training_run import run_training

# name -> (what is switched off, TrainConfig overrides)
ABLATIONS: dict[str, tuple[str, dict]] = {
    "full": ("nothing (InfoNCE i2t + t2i, L_sem, full-lexicon i2t, stage 2)", {}),
    "no-sem": ("the semantic-consistency loss L_sem (λ = 0)", {"lam": 0.0}),
    "no-lexicon-i2t": ("the full-lexicon image→text term (the paper's objective)", {"lexicon_i2t": 0.0}),
    "infonce-only": ("L_sem and the full-lexicon term: symmetric InfoNCE alone", {"lam": 0.0, "lexicon_i2t": 0.0}),
    "no-stage2": ("stage 2 (the 10x lower learning rate for the last 30% of steps)", {"stage2_fraction": 0.0}),
    # Not in the paper: what generation 3's pyramid head stands on.
    "no-spelled-i2t": ("the lexicon words' exact pyramids read as images (the image side learns from its images "
                       "alone)", {"spelled_i2t": 0.0}),
    "levels-1": ("the pyramid's levels 2-4 (level 1 alone: a learned bag of characters)", {"pyramid_levels": [1]}),
    "no-char-dropout": ("the characters dropped from the images' pyramids in training (char_dropout 0)",
                        {"char_dropout": 0.0}),
}


def ablation_config(name: str, steps: int, concepts: int | None = None) -> TrainConfig:
    """Variant ``name``'s options at ``steps`` steps; on training data of fewer ``concepts`` than
    the recipe's batch holds (``batch_size / instances``), the batch shrinks to hold each concept once."""
    if name not in ABLATIONS:
        raise ValueError(f"unknown ablation {name!r} (known: {', '.join(ABLATIONS)})")
    base = TrainConfig(steps=steps, val_every=steps, checkpoint_every=max(50, steps // 4))
    if concepts is not None and 0 < concepts < base.batch_size // base.instances:
        base = replace(base, batch_size=concepts * base.instances)
    return replace(base, **ABLATIONS[name][1])


def train_ablations(dataset, out: Path, cache_root: Path | None, steps: int, names, *, log=print) -> dict[str, Path]:
    """Train every named variant into ``out/NAME`` (resuming where a run stopped)."""
    concepts = len({s.semantic_id for s in dataset.select(split="train")})
    recipe = TrainConfig()
    if concepts < recipe.batch_size // recipe.instances:
        log(f"note: {dataset.name}'s train split has {concepts} concepts, fewer than the recipe's batch of "
            f"{recipe.batch_size} ({recipe.batch_size // recipe.instances} concepts x {recipe.instances}); "
            f"each variant trains on batches of {concepts * recipe.instances}")
    done = {}
    for name in names:
        folder = Path(out) / name
        if not (folder / "final" / "model.safetensors").is_file():
            log(f"training ablation {name} ({steps} steps)")
            run_training(dataset, folder, ablation_config(name, steps, concepts), cache_root, log=log)
        done[name] = folder / "final"
    return done
