"""Invariants a mutation run showed no test held (#27 item 8): each test here fails on one of the
deliberate bugs that survived the suite (named in the test's docstring)."""


import numpy as np
import pytest

import fake_methods
from bench.store import results as results_mod
from bench.data.store import load_dataset
from bench.views.leaderboard import _best
from bench.evaluation.metrics import paired_bootstrap
from bench.evaluation.protocols import Column, get_protocol
from bench.store.results import read_result, result_path
from bench.engine.runner import RunConfig, run
from bench.data.schema import XLING_DIRECTIONS


def _config(tmp_path, methods, protocols, **kw):
    return RunConfig(methods=methods, protocols=protocols, results_dir=tmp_path / "results", cache_dir=None,
                     n_boot=50, **kw)


def test_a_cross_lingual_hit_is_the_same_semantic_id_in_another_script(toy_dataset):
    """Mutant: hits matched by text instead of semantic id (every direction then has no query)."""
    task = get_protocol("xling").task(toy_dataset)
    assert len(task.subtasks) == len(XLING_DIRECTIONS)
    for st in task.subtasks:
        assert st.query_keys, st.name                                  # no vacuous loop below
        for q, (hit,) in zip(st.query_keys, st.relevant):
            sample, entry = toy_dataset.sample(q), toy_dataset.lexicon_entry(st.gallery_keys[hit])
            assert entry.semantic_id == sample.semantic_id and entry.lang == st.gallery_lang != sample.lang
            assert entry.text != sample.text


def test_the_run_key_names_the_dataset(tmp_path, toy_dataset, toy_dataset_path):
    """Mutant: the run key without the dataset fingerprint (a result on another dataset reused)."""
    run(toy_dataset, _config(tmp_path, ["random"], ["ood"]))
    other_path = tmp_path / "toy-other"
    from bench.data.toy import build_toy

    build_toy(other_path, seed=1, n_concepts=12)
    other = load_dataset(other_path)
    assert other.fingerprint != toy_dataset.fingerprint
    outcomes = run(other, _config(tmp_path, ["random"], ["ood"]))
    assert [o.status for o in outcomes] == ["ok"]
    assert read_result(result_path(tmp_path / "results", "random", "ood")).dataset.fingerprint == other.fingerprint


def test_a_failed_result_is_never_up_to_date(tmp_path, toy_dataset, register_methods, monkeypatch):
    """Mutant: a failed result with a matching run key counted as up to date."""
    register_methods(crashing="fake_methods:Crashing")
    first = run(toy_dataset, _config(tmp_path, ["crashing"], ["ood"]))
    assert [o.status for o in first] == ["failed"]
    monkeypatch.setattr(fake_methods.Crashing, "embed_images", lambda self, items: np.ones((len(items), 4)))
    again = run(toy_dataset, _config(tmp_path, ["crashing"], ["ood"]))
    assert [o.status for o in again] == ["ok"]


def test_the_sidecar_is_written_before_the_result(tmp_path, toy_dataset, monkeypatch):
    """Mutant: the result written before its sidecar (a crash between leaves a result without evidence)."""
    def crash(path, obj):
        raise OSError("disk full")

    monkeypatch.setattr(results_mod, "write_json_gz_atomic", crash)
    with pytest.raises(OSError):
        results_mod.write_result(tmp_path / "random" / "ood.json",
                                 _a_record(tmp_path, toy_dataset), {"en": {}})
    assert not (tmp_path / "random" / "ood.json").exists()


def _a_record(tmp_path, toy_dataset):
    run(toy_dataset, _config(tmp_path, ["random"], ["ood"]))
    return read_result(result_path(tmp_path / "results", "random", "ood"))


def test_the_paired_p_value_is_two_sided():
    """Mutant: a one-sided p-value (B better than A would read p = 1)."""
    rng = np.random.default_rng(0)
    a = (rng.random(400) < 0.8).astype(float)
    b = (rng.random(400) < 0.5).astype(float)
    ab, ba = paired_bootstrap(a, b, n_boot=2000), paired_bootstrap(b, a, n_boot=2000)
    assert 0 < ab.p_value == ba.p_value < 0.01
    assert ab.mean_difference == -ba.mean_difference > 0


@pytest.mark.parametrize("higher,expected", [(True, 0.5), (False, 0.2)])
def test_bold_marks_the_best_value_in_the_columns_direction(higher, expected):
    """Mutant: the worst value bolded (max and min swapped)."""
    rows = [type("R", (), {})() for _ in range(3)]
    values = {id(r): [v] for r, v in zip(rows, (0.2, 0.5, 0.3))}
    assert _best(rows, (Column("x", ("x",), higher_is_better=higher),), values, lambda r: True) == [expected]
    assert _best(rows, (Column("x", ("x",), higher_is_better=None),), values, lambda r: True) == [None]
    assert _best(rows[:1], (Column("x", ("x",)),), values, lambda r: False) == [None]   # none may be bold
