"""Hostile result folders (#27 items 2, 3, 7): tampered numbers, torn result/sidecar pairs, stale
temporary files, bombs and wrong types. Each case is a row of a corpus; add one by adding a row."""

import gzip
import json
import os

import pytest

from bench.store.results import read_result, result_path, rankings_path
from test_cli import _error_line, bench

RUN = ("run", "-m", "random", "-p", "ood", "--bootstrap", "50", "--quiet")


@pytest.fixture
def stored(tmp_path, toy_dataset_path):
    """A results folder holding random's ood result and its sidecar, made by `bench run`."""
    bench(*RUN, "--dataset", str(toy_dataset_path), cwd=tmp_path)
    return tmp_path, result_path(tmp_path / "results", "random", "ood")


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _edit_sidecar(path, change):
    side = rankings_path(path)
    payload = json.loads(gzip.decompress(side.read_bytes()))
    change(payload)
    side.write_bytes(gzip.compress(json.dumps(payload).encode()))


# -- 2. --verify checks the headline numbers against the sidecar ---------------------------------
TAMPERED_NUMBERS = [
    ("headline Acc@1", lambda d: d["metrics"]["overall"]["acc@1"].update(value=0.9512), "overall.acc@1"),
    ("interval", lambda d: d["metrics"]["overall"]["mrr"].update(ci95=[0.5, 0.9]), "overall.mrr"),
    ("a language's value", lambda d: d["metrics"]["subtasks"]["en"]["acc@5"].update(value=1.0), "subtasks.en"),
    ("a style's Acc@1", lambda d: d["metrics"]["by_style"].update({"made-up": 1.0}), "by_style"),
]


@pytest.mark.parametrize("label,change,where", TAMPERED_NUMBERS, ids=[c[0] for c in TAMPERED_NUMBERS])
def test_verify_recomputes_metrics_from_the_sidecar(stored, toy_dataset_path, label, change, where):
    cwd, path = stored
    _edit_json(path, change)
    proc = bench(*RUN, "--dataset", str(toy_dataset_path), "--verify", "5", cwd=cwd, check=False)
    assert proc.returncode == 1
    text = " ".join(proc.stdout.split())
    assert "DISAGREE random" in text and where in text


def test_verify_agrees_on_an_untouched_result_and_says_it_checked_the_metrics(stored, toy_dataset_path):
    cwd, _ = stored
    text = " ".join(bench(*RUN, "--dataset", str(toy_dataset_path), "--verify", "5", cwd=cwd).stdout.split())
    assert "agree random" in text and "the metrics of 1 stored result(s) match their rankings" in text


# -- 3. a result and its sidecar are one pair ----------------------------------------------------
TORN_PAIRS = [
    ("sidecar missing", lambda path: rankings_path(path).unlink()),
    ("sidecar from another run", lambda path: _edit_sidecar(path, lambda p: p["en"]["top_keys"].reverse())),
    ("sidecar of a --limit run", lambda path: _edit_sidecar(path, lambda p: [p.pop(k) for k in ("zh", "es")])),
]


@pytest.mark.parametrize("label,tear", TORN_PAIRS, ids=[c[0] for c in TORN_PAIRS])
def test_a_torn_pair_is_stale_and_recomputed(stored, toy_dataset_path, label, tear):
    cwd, path = stored
    before = path.read_bytes()
    tear(path)
    proc = bench(*RUN, "--dataset", str(toy_dataset_path), cwd=cwd)
    assert "computed 1 result(s)" in " ".join(proc.stdout.split())
    record = read_result(path)
    assert record.ok and rankings_path(path).is_file()
    assert json.loads(path.read_text())["metrics"] == json.loads(before)["metrics"]   # the same answer again


def test_stale_temporary_files_are_swept_and_nothing_else(stored, toy_dataset_path):
    cwd, path = stored
    leftovers = [path.parent / ".ood.json.k2j4h1.tmp", path.parent / ".ood.rankings.json.gz.abc_9.tmp"]
    mine = [path.parent / ".notes.tmp", path.parent / "draft.json.tmp"]   # not names bench writes
    for p in leftovers + mine:
        p.write_text("x")
    proc = bench(*RUN, "--dataset", str(toy_dataset_path), cwd=cwd)
    assert "reused 1 stored result(s)" in " ".join(proc.stdout.split())
    assert not any(p.exists() for p in leftovers) and all(p.exists() for p in mine)


# -- 7. bounded and typed loads -------------------------------------------------------------------
def _bomb(path):
    side = rankings_path(path)
    with gzip.open(side, "wb") as fh:          # a few KB on disk, far past the bound unpacked
        zeros = b" " * (1 << 20)
        for _ in range(600):
            fh.write(zeros)


HOSTILE_FILES = [
    ("truncated sidecar", lambda p: rankings_path(p).write_bytes(rankings_path(p).read_bytes()[:40]),
     "truncated or corrupt gzip"),
    ("sidecar that is no gzip", lambda p: rankings_path(p).write_text("{}"), "truncated or corrupt gzip"),
    ("gzip bomb sidecar", _bomb, "expands past 512 MiB"),
    ("metrics a list", lambda p: _edit_json(p, lambda d: d.update(metrics=[1, 2])), "field 'metrics': expected an object"),
    ("value a string", lambda p: _edit_json(p, lambda d: d["metrics"]["overall"]["acc@1"].update(value="0.9")),
     "field 'metrics.overall.acc@1.value': expected a number"),
    ("method name a number", lambda p: _edit_json(p, lambda d: d["method"].update(name=7)),
     "field 'method.name': expected a string"),
    ("subtasks a string", lambda p: _edit_json(p, lambda d: d["metrics"].update(subtasks="en")),
     "field 'metrics.subtasks': expected an object"),
]


@pytest.mark.parametrize("label,spoil,message", HOSTILE_FILES, ids=[c[0] for c in HOSTILE_FILES])
def test_hostile_result_files_give_one_line_naming_the_file(stored, toy_dataset_path, label, spoil, message):
    cwd, path = stored
    spoil(path)
    if "sidecar" in label:
        proc = bench("compare", "random", "random", "--results-dir", "results", cwd=cwd, check=False)
    else:
        proc = bench("leaderboard", cwd=cwd, check=False)
    line = _error_line(proc)
    assert message in line and "results/random/ood" in line


def test_the_bomb_bound_holds_in_memory_terms(tmp_path):
    from bench.core.io import CompressedFileError, read_json_gz

    path = tmp_path / "x.json.gz"
    path.write_bytes(gzip.compress(b"[" + b"0," * (1 << 20) + b"0]"))
    assert len(read_json_gz(path)) == (1 << 20) + 1
    with pytest.raises(CompressedFileError, match="expands past 1 MiB"):
        read_json_gz(path, max_bytes=1 << 20)
    assert os.path.getsize(path) < 50_000
