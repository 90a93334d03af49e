"""Results that reproduce exactly: the same per-query answers whatever the batch size, thread count
or cache state; partial runs that never replace full ones; verification against stored results;
committed files that do not depend on the machine that made them."""

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.core.progress import Tracker
from bench.store.records import Status
from bench.api.registry import METHODS
from bench.store.results import rankings_path, read_result, result_path
from bench.engine.runner import RunConfig, run
from bench.engine.verify import verify

ROOT = Path(__file__).resolve().parent.parent
# The offline methods that run a network; each must answer every query the same way twice.
NETWORK_METHODS = ["rapidocr", "rapidocr-ctc", "rapidocr+embed", "ours"]


def _sidecars(results: Path) -> dict[str, dict]:
    return {str(p.relative_to(results)): json.loads(gzip.decompress(p.read_bytes()))
            for p in sorted(results.glob("*/*.rankings.json.gz"))}


def _run_cli(args, cwd, env_extra):
    env = {**os.environ, "HWR_BENCH_CACHE": str(cwd / ".cache"), **env_extra}
    proc = subprocess.run([sys.executable, "-m", "bench", "run", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_batch_size_and_thread_count_do_not_change_per_query_results(tmp_path, toy_dataset_path):
    missing = [m for m in NETWORK_METHODS if not METHODS.create(m).availability().ok]
    if missing:
        pytest.skip(f"not installed here: {missing}")
    common = ["--methods", ",".join(NETWORK_METHODS), "--protocols", "id,ood,xling,t2i",
              "--dataset", str(toy_dataset_path), "--bootstrap", "0", "--no-cache", "--quiet"]
    _run_cli(common + ["--results-dir", "a", "--batch-size", "64"], tmp_path, {"HWR_BENCH_THREADS": "2"})
    _run_cli(common + ["--results-dir", "b", "--batch-size", "3"], tmp_path,
             {"HWR_BENCH_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    a, b = _sidecars(tmp_path / "a"), _sidecars(tmp_path / "b")
    assert len(a) == 4 * len(NETWORK_METHODS) and a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name


def test_a_limit_run_never_replaces_a_full_result(tmp_path, toy_dataset):
    results = tmp_path / "results"
    full = RunConfig(methods=["random"], protocols=["ood", "id"], results_dir=results, cache_dir=None, n_boot=0)
    run(toy_dataset, full)
    before = {p.name: p.read_bytes() for p in (results / "random").iterdir()}
    outcomes = run(toy_dataset, RunConfig(methods=["random"], protocols=["ood", "id"], results_dir=results,
                                          cache_dir=None, n_boot=0, limit=2, seed=3))
    assert [o.status for o in outcomes] == ["skipped", "skipped"]
    assert all("never replaces" in o.message for o in outcomes)
    assert {p.name: p.read_bytes() for p in (results / "random").iterdir()} == before
    # Elsewhere, the quick look is written as usual.
    quick = RunConfig(methods=["random"], protocols=["ood"], results_dir=tmp_path / "quick", cache_dir=None,
                      n_boot=0, limit=2)
    assert [o.status for o in run(toy_dataset, quick)] == ["ok"]
    assert read_result(result_path(tmp_path / "quick", "random", "ood")).config.limit == 2


def test_verify_agrees_with_a_fresh_run_and_catches_a_tampered_sidecar(tmp_path, toy_dataset):
    results = tmp_path / "results"
    run(toy_dataset, RunConfig(methods=["random", "oracle-text"], protocols=["id", "ood", "xling", "rd"],
                               results_dir=results, cache_dir=tmp_path / "cache", n_boot=0))
    verdicts = {v.method: v for v in verify(toy_dataset, ["random", "oracle-text"], {}, results, n=4)}
    assert verdicts["random"].agrees and verdicts["oracle-text"].agrees
    assert verdicts["random"].protocols == ["id", "ood", "xling"]          # image-query protocols only
    assert verdicts["random"].checked == 4 * (3 + 3 + 6)                     # 4 per subtask: id, ood, xling
    path = rankings_path(result_path(results, "random", "ood"))
    payload = json.loads(gzip.decompress(path.read_bytes()))
    first = payload["en"]
    first["top_keys"] = [list(reversed(row)) for row in first["top_keys"]]
    path.write_bytes(gzip.compress(json.dumps(payload).encode()))
    verdict = verify(toy_dataset, ["random"], {}, results, n=100)[0]
    assert verdict.failed and "ood en" in verdict.disagreements[0] and "DISAGREE" in verdict.line()


def test_progress_lines_without_a_terminal():
    lines, now = [], [0.0]
    tracker = Tracker(mode="lines", write=lines.append, clock=lambda: now[0])
    for _ in tracker.track([[1] * 5 for _ in range(20)], 100, "ours: images"):
        now[0] += 0.5
    assert lines[-1] == "ours: images: 100/100 (100%), 10 s"
    # Nothing in the first 2 s (quiet_seconds), then each 10 %.
    assert len(lines) == 9 and lines[0].startswith("ours: images: 20/100 (20%), 2 s, about 8 s left")
    slow, now[0] = [], 0.0
    tracker = Tracker(mode="lines", write=slow.append, clock=lambda: now[0], every_seconds=10)
    for _ in tracker.track(range(1000), 1000, "slow"):
        now[0] += 0.1      # 100 s in all: a line every 10 s or 10 %, whichever comes first
    assert 9 <= len(slow) <= 11
    jobs, now[0] = [], 0.0   # (language, batch) jobs count by their batch, not by the tuple

    def step():
        now[0] += 5.0
        return now[0]
    list(Tracker(mode="lines", write=jobs.append, clock=step).track([("en", [1] * 64)] * 2, 128, "x"))
    assert jobs[-1].startswith("x: 128/128 (100%)")
    brief, now[0] = [], 0.0   # a sub-second loop says nothing
    list(Tracker(mode="lines", write=brief.append, clock=lambda: now[0]).track(range(100), 100, "brief"))
    assert brief == []


MACHINE_PATH = re.compile(r"(/root/|/home/[a-z]|/work/|/tmp/|site-packages|\.cache/hwr-bench)")


def test_no_committed_file_names_a_path_of_the_machine_that_made_it():
    files = [ROOT / "leaderboard.md", *sorted((ROOT / "results").rglob("*.json"))]
    leaks = [str(p.relative_to(ROOT)) for p in files if MACHINE_PATH.search(p.read_text())]
    leaks += [str(p.relative_to(ROOT)) for p in sorted((ROOT / "results").rglob("*.json.gz"))
              if MACHINE_PATH.search(gzip.decompress(p.read_bytes()).decode())]
    assert not leaks, leaks
    assert all(read_result(p).status in (Status.OK, Status.NOT_APPLICABLE)
               for p in sorted((ROOT / "results").glob("*/*.json")) if p.name != "efficiency.json")


def _tamper(path, change):
    payload = json.loads(gzip.decompress(path.read_bytes()))
    change(payload)
    path.write_bytes(gzip.compress(json.dumps(payload).encode()))


def test_verify_tolerates_float_rounding_but_not_a_changed_score(tmp_path, toy_dataset):
    results = tmp_path / "results"
    run(toy_dataset, RunConfig(methods=["random"], protocols=["ood"], results_dir=results,
                               cache_dir=tmp_path / "cache", n_boot=0))
    path = rankings_path(result_path(results, "random", "ood"))

    def nudge(by):
        def change(payload):
            payload["en"]["top_scores"][0][0] = round(payload["en"]["top_scores"][0][0] + by, 5)
        return change

    _tamper(path, nudge(5e-5))     # what another CPU's float32 kernels do to a score
    assert verify(toy_dataset, ["random"], {}, results, n=100)[0].agrees
    _tamper(path, nudge(2e-3))     # a real change
    verdict = verify(toy_dataset, ["random"], {}, results, n=100)[0]
    assert verdict.failed and "scores" in verdict.disagreements[0]


def test_a_cpu_dependent_method_is_verified_only_on_the_cpu_it_ran_on(tmp_path, toy_dataset, register_methods):
    register_methods(**{"cpu-dependent": "fake_methods:CpuDependentRandom"})
    results = tmp_path / "results"
    run(toy_dataset, RunConfig(methods=["cpu-dependent"], protocols=["ood"], results_dir=results,
                               cache_dir=tmp_path / "cache", n_boot=0))
    assert verify(toy_dataset, ["cpu-dependent"], {}, results, n=5)[0].agrees   # the same CPU: compared
    file = result_path(results, "cpu-dependent", "ood")
    record = json.loads(file.read_text())
    record["environment"]["cpu"] = "Some Other CPU"
    file.write_text(json.dumps(record))
    verdict = verify(toy_dataset, ["cpu-dependent"], {}, results, n=5)[0]
    assert not verdict.failed and not verdict.agrees and "'Some Other CPU'" in verdict.skipped
