"""A crash, a kill, a hang, a second run or a corrupt file never costs finished work or
misreports a result."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.core.errors import HwrBenchError, ResultsBusyError
from bench.core.io import FolderLock
from bench.store.results import read_result, result_path
from bench.engine.runner import RunConfig, run
from helpers import plugin_site, write_tiny

SLOW_PLUGIN = '''
import os, time
import numpy as np
from bench.api.retriever import EmbeddingRetriever, MethodInfo


class SlowWidth(EmbeddingRetriever):
    """Width embedding that takes its time and logs every image it computes."""
    batch_size = 4

    @property
    def info(self):
        return MethodInfo(name="slow-width", group="end-to-end", version="1")

    def embed_images(self, items):
        time.sleep(0.15)
        with open(os.environ["SLOW_LOG"], "a") as fh:
            fh.write(f"{len(items)}\\n")
        return np.array([[it.image.width / 10.0, 1.0, float(np.asarray(it.image).mean())] for it in items])

    def embed_texts(self, texts, lang):
        return np.array([[len(t), 1.0, 0.0] for t in texts])
'''


@pytest.fixture
def slow_site(tmp_path):
    return plugin_site(tmp_path / "site", "hwr_slow", SLOW_PLUGIN, {"slow-width": "hwr_slow:SlowWidth"})


def _bench_process(args, cwd, site, log):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "HWR_BENCH_CACHE": str(cwd / ".cache"), "SLOW_LOG": str(log)}
    return subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _computed(log: Path) -> int:
    return sum(int(line) for line in log.read_text().split()) if log.exists() else 0


def test_sigkill_mid_run_loses_nothing_finished_and_resumes_to_the_same_numbers(tmp_path, toy_dataset_path,
                                                                                slow_site):
    args = ["run", "--methods", "slow-width", "--protocols", "id,ood,xling,t2i", "--dataset",
            str(toy_dataset_path), "--quiet", "--bootstrap", "50"]
    killed = tmp_path / "killed"
    killed.mkdir()
    proc = _bench_process(args, killed, slow_site, tmp_path / "killed.log")
    seen_valid = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        files = list((killed / "results").glob("*/*.json"))
        for f in files:                       # every file that exists is whole, at every moment
            json.loads(f.read_text())
        seen_valid = max(seen_valid, len(files))
        if seen_valid >= 1 and _computed(tmp_path / "killed.log") > 0:
            break
        time.sleep(0.05)
    time.sleep(0.4)                           # mid-protocol: the next protocol's images are in flight
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert seen_valid >= 1, "no result was written before the kill"
    before = _computed(tmp_path / "killed.log")
    for f in (killed / "results").glob("**/*"):
        assert not f.name.endswith(".tmp"), f"a temporary file was left visible: {f}"

    resumed = _bench_process(args, killed, slow_site, tmp_path / "killed.log")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    redone = _computed(tmp_path / "killed.log") - before

    clean = tmp_path / "clean"
    clean.mkdir()
    fresh = _bench_process(args, clean, slow_site, tmp_path / "clean.log")
    assert fresh.wait(timeout=300) == 0, fresh.stderr.read()
    # Cached embeddings survive the kill: together the two runs compute at most one batch more
    # than a single uninterrupted run.
    assert before + redone <= _computed(tmp_path / "clean.log") + 4
    for protocol in ("id", "ood", "xling", "t2i"):
        a = read_result(result_path(killed / "results", "slow-width", protocol)).to_json()["metrics"]
        b = read_result(result_path(clean / "results", "slow-width", protocol)).to_json()["metrics"]
        assert a == b


def test_a_second_run_on_the_same_results_folder_refuses_or_waits(tmp_path, toy_dataset):
    config = RunConfig(methods=["random"], protocols=["ood"], results_dir=tmp_path / "results",
                       cache_dir=None, n_boot=0)
    with FolderLock(tmp_path / "results"):
        with pytest.raises(ResultsBusyError, match="another bench run"):
            run(toy_dataset, config)
    assert not result_path(tmp_path / "results", "random", "ood").exists()

    holder = FolderLock(tmp_path / "results").__enter__()
    threading.Timer(0.5, holder.__exit__, args=(None, None, None)).start()
    config.lock_wait = 10
    outcomes = run(toy_dataset, config)
    assert [o.status for o in outcomes] == ["ok"]


def test_a_hanging_method_times_out_and_the_others_complete(tmp_path, toy_dataset, register_methods):
    register_methods(hanging="fake_methods:Hanging")
    config = RunConfig(methods=["hanging", "random"], protocols=["ood"], results_dir=tmp_path / "results",
                       cache_dir=tmp_path / "cache", n_boot=0, method_timeout=1.0)
    started = time.monotonic()
    outcomes = {o.method: o for o in run(toy_dataset, config)}
    assert time.monotonic() - started < 20
    assert outcomes["hanging"].status == "failed" and "timeout" in outcomes["hanging"].message
    assert outcomes["random"].status == "ok"
    error = read_result(result_path(tmp_path / "results", "hanging", "ood")).to_json()["error"]
    assert "exceeded the per-method timeout of 1 s" in error["message"]


# -- fuzzing the dataset loader ---------------------------------------------------------------

@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return write_tiny(tmp_path_factory.mktemp("fuzz") / "tiny")


FILES = ["manifest.json", "samples.parquet", "lexicon.parquet"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Cases the fuzzer found once (each escaped as a bare UnicodeDecodeError before its fix):
@example(file="manifest.json", position=0.0, length=1, junk=b"\x80", mode="overwrite")
@example(file="lexicon.parquet", position=0.25, length=1, junk=b"\x80", mode="overwrite")
@given(file=st.sampled_from(FILES), position=st.floats(0, 1), length=st.integers(1, 64),
       junk=st.binary(min_size=1, max_size=64), mode=st.sampled_from(["overwrite", "truncate", "insert"]))
def test_corrupt_dataset_files_raise_only_our_error_naming_the_file(pristine, tmp_path_factory, file, position,
                                                                     length, junk, mode):
    import shutil

    from bench.data.store import load_dataset

    folder = tmp_path_factory.mktemp("case") / "ds"
    shutil.copytree(pristine, folder)
    target = folder / file
    data = bytearray(target.read_bytes())
    at = int(position * (len(data) - 1))
    if mode == "overwrite":
        data[at:at + len(junk)] = junk
    elif mode == "truncate":
        data = data[:at]
    else:
        data[at:at] = junk
    target.write_bytes(bytes(data))
    before = sorted((p.name, p.stat().st_size) for p in folder.iterdir())
    try:
        ds = load_dataset(folder)
        ds.image_items([s.key for s in ds.samples])     # every image decodes, or our error
    except HwrBenchError as exc:
        assert str(folder) in str(exc)
    assert sorted((p.name, p.stat().st_size) for p in folder.iterdir()) == before   # nothing written
