"""Ablation variants switch off exactly one learning signal each, at one shared budget."""

import json
from dataclasses import asdict

import pytest

pytest.importorskip("torch")

from adapters.ours import SHIPPED
from bench.api.registry import create
from bench.api.retriever import Group
from ourmodel.ablation import ABLATIONS, ablation_config
from ourmodel.train import TrainConfig


def test_each_variant_changes_only_its_switches_and_shares_the_budget():
    full = ablation_config("full", 123)
    assert full.steps == 123 and full.lam > 0 and full.lexicon_i2t > 0 and full.stage2_fraction > 0
    for name, (_, overrides) in ABLATIONS.items():
        cfg = ablation_config(name, 123)
        changed = {k for k in TrainConfig.__dataclass_fields__ if getattr(cfg, k) != getattr(full, k)}
        assert changed == set(overrides), name
    assert ablation_config("infonce-only", 10).lam == 0 and ablation_config("infonce-only", 10).lexicon_i2t == 0
    with pytest.raises(ValueError, match="unknown ablation"):
        ablation_config("no-such-thing", 10)


def test_the_training_defaults_are_the_shipped_recipe():
    """`bench train --out DIR` reproduces the shipped checkpoint and `bench ablate` starts from it."""
    shipped = json.loads((SHIPPED / "config.json").read_text())["extra"]["train_config"]
    # Every option the shipped run recorded has its value as the default (options newer than
    # the checkpoint take their defaults, which leave its recipe as it was).
    assert asdict(TrainConfig(**shipped)) == asdict(TrainConfig())
    assert ablation_config("full", 300).pyramid_levels == shipped["pyramid_levels"] == [1, 2, 3, 4]


def test_ablation_method_is_named_and_grouped_apart_from_ours():
    method = create("ours-ablate:no-sem", {"checkpoint": str(SHIPPED)})
    info = method.info
    assert info.name == "ours-ablate:no-sem" and info.group is Group.ABLATION
    assert "semantic-consistency" in info.description and info.config["ablation"] == "no-sem"
    assert info.cache_key() != create("ours").info.cache_key()
