"""`bench plot` figures come from results/ alone and reproduce byte for byte."""

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from bench.views import plots
from bench.api.registry import METHODS
from bench.engine.families import embeddings

ROOT = Path(__file__).resolve().parent.parent
FROM_RESULTS = {"accuracy_vs_latency.png": plots.accuracy_vs_latency, "xling_heatmap.png": plots.xling_heatmap,
                "gallery_size.png": plots.gallery_size,
                "int8_cim.png": plots.int8_cim}


@pytest.mark.parametrize("name", sorted(FROM_RESULTS))
def test_committed_figures_are_what_the_committed_results_give(tmp_path, name):
    pytest.importorskip("matplotlib")
    made = FROM_RESULTS[name](ROOT / "results", tmp_path / name)
    assert made is not None
    assert made.read_bytes() == (ROOT / "results" / "plots" / name).read_bytes(), \
        f"results/plots/{name} is out of date: run `bench plot`"


def test_projection_is_deterministic_and_never_mirrored(tmp_path, toy_dataset):
    pytest.importorskip("matplotlib")
    embed = partial(embeddings, METHODS.create("random"), toy_dataset, None)
    a = plots.projection("random", toy_dataset, embed, tmp_path / "a.png", n_ids=4)
    b = plots.projection("random", toy_dataset, embed, tmp_path / "b.png", n_ids=4)
    assert a.read_bytes() == b.read_bytes()
    x = np.random.default_rng(1).standard_normal((30, 8))
    order = np.random.default_rng(2).permutation(30)
    xy = plots.pca_2d(x)
    np.testing.assert_allclose(plots.pca_2d(x[order]), xy[order], atol=1e-9)   # same axes, same signs
    np.testing.assert_allclose(plots.pca_2d(x * 3.0), xy * 3.0, atol=1e-9)


def test_learning_curve_step_axis_names_the_runs_own_batch_size():
    from ourmodel.curves import step_axis_label

    run = lambda batch: [{"step": s, "images_seen": s * batch} for s in (150, 300)]
    assert step_axis_label([run(192), run(192)]) == "training step (batch 192)"
    assert step_axis_label([run(192), run(288)]) == "training step"   # mixed: no single batch to name
