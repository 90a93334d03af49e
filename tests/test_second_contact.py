"""Issue #26: what a user meets on the second day (a mistyped folder, their own data, a trace of a
number), each at the level the user sees it: the `bench` command in a separate process."""

import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from bench.store.records import Status
from bench.store.results import read_result, result_path
from helpers import plugin_site as make_plugin_site, tiny_records, write_tiny
from test_cli import _error_line, bench

PLUGIN = '''
import time
import zlib

import numpy as np
from bench.api.retriever import EmbeddingRetriever, MethodInfo
from dataclasses import dataclass


@dataclass(frozen=True)
class Knobs:
    width: int = 2


class ConstantText(EmbeddingRetriever):
    """Near random: images get seeded noise, every word the same vector (all scores tie)."""
    Options = Knobs

    @property
    def info(self):
        return MethodInfo(name="near-random", group="end-to-end", version="1")

    def embed_images(self, items):
        return np.stack([np.random.default_rng(zlib.crc32(it.key.encode())).normal(size=4) for it in items])

    def embed_texts(self, texts, lang):
        return np.ones((len(texts), 4))


class Slow(ConstantText):
    @property
    def info(self):
        return MethodInfo(name="slow", group="end-to-end", version="1")

    def embed_images(self, items):
        print("slow: started", flush=True)
        time.sleep(120)
        return super().embed_images(items)
'''


@pytest.fixture
def site(tmp_path):
    return make_plugin_site(tmp_path / "site", "hwr_second", PLUGIN,
                            {"near-random": "hwr_second:ConstantText", "slow": "hwr_second:Slow"})


def _one_line(text: str) -> str:
    return " ".join(text.split())


# 1. A typo must not blank the leaderboard ------------------------------------------------------
def test_leaderboard_refuses_a_missing_or_empty_results_folder_and_writes_nothing(tmp_path, toy_dataset_path):
    board = tmp_path / "leaderboard.md"
    board.write_text("# a committed leaderboard\n")
    line = _error_line(bench("leaderboard", "--results-dir", "nope", cwd=tmp_path, check=False))
    assert "nope: no such results folder" in line
    (tmp_path / "empty").mkdir()
    line = _error_line(bench("leaderboard", "--results-dir", "empty", cwd=tmp_path, check=False))
    assert "holds no result files" in line
    assert board.read_text() == "# a committed leaderboard\n"     # never replaced by an empty one
    bench("run", "-m", "random", "-p", "ood", "--dataset", str(toy_dataset_path), "--bootstrap", "0",
          "--results-dir", "mine", "--quiet", cwd=tmp_path)
    bench("leaderboard", "--results-dir", "mine", cwd=tmp_path)
    assert "from the result files in `mine/`" in board.read_text()   # the folder it read, not `results/`


# 2. Every result names the code that made it ---------------------------------------------------
def test_a_new_result_records_the_installed_version(tmp_path, toy_dataset_path):
    bench("run", "-m", "random", "-p", "ood", "--dataset", str(toy_dataset_path), "--bootstrap", "0", "--quiet",
          cwd=tmp_path)
    record = json.loads(result_path(tmp_path / "results", "random", "ood").read_text())
    assert record["provenance"]["package_version"] == version("hwr-bench")
    import bench as package
    assert package.__version__ == version("hwr-bench")


def test_dirty_paths_ignore_outputs_and_untracked_non_code():
    from bench.core.provenance import dirty_paths

    porcelain = (" M results/random/ood.json\n M leaderboard.md\n?? site/index.html\n?? notes.txt\n"
                 " M bench/runner.py\n?? adapters/new_method.py\nR  old.py -> bench/moved.py\n")
    assert dirty_paths(porcelain) == ["bench/runner.py", "adapters/new_method.py", "bench/moved.py"]
    assert dirty_paths(" M results/x.json\n") == []


def test_writing_the_repositorys_results_from_a_dirty_tree_is_refused(monkeypatch, toy_dataset, tmp_path):
    from bench.core import provenance
    from bench.engine.runner import RunConfig, run

    monkeypatch.setattr(provenance, "git_commit", lambda: {"commit": "abc", "dirty": True,
                                                           "changed": ["bench/runner.py"]})
    own = provenance.SOURCE_ROOT / "results"
    if not (provenance.SOURCE_ROOT / ".git").exists():
        pytest.skip("not a git checkout: there is no repository results/ to protect")
    before = sorted(p.name for p in own.glob("*"))
    with pytest.raises(provenance.DirtyTreeError, match="uncommitted changes .*bench/runner.py.*--allow-dirty"):
        run(toy_dataset, RunConfig(methods=["random"], protocols=["ood"], results_dir=own, cache_dir=None))
    assert sorted(p.name for p in own.glob("*")) == before
    provenance.check_committed_code(own, allow_dirty=True)              # the explicit flag
    provenance.check_committed_code(tmp_path / "results", allow_dirty=False)   # any other folder


# 4. A protocol the dataset cannot support is recorded not applicable; the others run ------------
def test_inapplicable_protocols_are_recorded_with_their_reason_and_the_rest_runs(tmp_path):
    records, lexicon = tiny_records()
    ds = write_tiny(tmp_path / "no-test-id", [r for r in records if r.split != "test_id"], lexicon)
    proc = bench("run", "-m", "random", "-p", "id,rd,ood", "--dataset", str(ds), "--bootstrap", "0",
                 cwd=tmp_path)
    assert proc.returncode == 0
    results = tmp_path / "results"
    assert read_result(result_path(results, "random", "ood")).ok
    for protocol, reason in (("id", "no queries for it (it reads test_id images"),
                             ("rd", "at least 2 test_ood images per word")):
        record = read_result(result_path(results, "random", protocol))
        assert record.status is Status.NOT_APPLICABLE and reason in record.error["reason"]
    assert "not applicable" in proc.stdout
    only = bench("run", "-m", "random", "-p", "id", "--dataset", str(ds), "--results-dir", "r2", "--quiet",
                 cwd=tmp_path, check=False)
    assert only.returncode == 3 and "nothing ran" in only.stderr    # not an `ok` with empty metrics


# 5. Unavailable methods: said once, and a run that ran nothing says so in its exit code -------
def test_an_unavailable_method_is_said_once_and_nothing_ran_exits_3(tmp_path, toy_dataset_path):
    from test_cli import PLUGIN as CLI_PLUGIN

    site = make_plugin_site(tmp_path / "s", "hwr_ext_demo", CLI_PLUGIN, {"ext-missing": "hwr_ext_demo:NeedsWeights"})
    args = ("run", "-m", "ext-missing", "-p", "id,ood,xling,t2i", "--dataset", str(toy_dataset_path), "--quiet")
    proc = bench(*args, cwd=tmp_path, extra_path=site, check=False)
    assert proc.returncode == 3 and "nothing ran" in proc.stderr
    assert proc.stdout.count("checkpoint /models/ext not found") == 1      # not once per protocol
    mixed = ("run", "-m", "random,ext-missing", "-p", "ood", "--dataset", str(toy_dataset_path), "--quiet",
             "--bootstrap", "0")
    assert bench(*mixed, cwd=tmp_path, extra_path=site, check=False).returncode == 0
    assert bench(*mixed, "--strict", cwd=tmp_path, extra_path=site, check=False).returncode == 3


def test_a_mistyped_preset_is_a_bad_name_with_the_presets_listed(tmp_path):
    line = _error_line(bench("run", "-m", "siglip:siglip2-bb", "--quiet", cwd=tmp_path, check=False))
    assert "not a preset (did you mean 'siglip2-b'?)" in line and "chinese-clip-b" in line


def test_the_hugging_face_cache_looked_in_is_a_path(tmp_path):
    hf_home = tmp_path / "hf"
    env = {**os.environ, "HF_HOME": str(hf_home)}
    code = ("from adapters.weights import find_weights; print(find_weights('org/model').reason())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert str(hf_home / "hub" / "models--org--model") in out


# 6. Messages ------------------------------------------------------------------------------------
def test_misspellings_get_a_suggestion_and_option_errors_name_the_method(tmp_path, toy_dataset_path, site):
    assert "did you mean 'ours'?" in _error_line(bench("run", "-m", "ourz", cwd=tmp_path, check=False))
    assert "did you mean 'xling'?" in _error_line(bench("run", "-p", "xlnig", cwd=tmp_path, check=False))
    line = _error_line(bench("run", "-m", "near-random", "-o", "near-random.widht=3", "--dataset",
                             str(toy_dataset_path), cwd=tmp_path, extra_path=site, check=False))
    assert "method 'near-random': unknown option 'widht' (did you mean 'width'?)" in line
    assert "ConstantText" not in line and "Knobs" not in line
    line = _error_line(bench("run", "--overwrite", "sometimes", cwd=tmp_path, check=False))
    assert "Value error" not in line and "'sometimes' is not one of" in line


def test_a_second_run_says_up_to_date_once_per_method(tmp_path, toy_dataset_path):
    args = ("run", "-m", "random,oracle-text", "-p", "id,ood,xling,t2i", "--dataset", str(toy_dataset_path),
            "--bootstrap", "0", "--quiet")
    bench(*args, cwd=tmp_path)
    lines = [l for l in bench(*args, cwd=tmp_path).stdout.splitlines() if "up to date" in l and "skipped" in l]
    assert len(lines) == 2 and "4 protocols" in lines[0]


def test_ctrl_c_says_the_run_resumes_and_releases_the_lock(tmp_path, toy_dataset_path, site):
    env = {**os.environ, "HWR_BENCH_CACHE": str(tmp_path / ".cache"),
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    # SIGINT restored to its default in the child: a shell that starts pytest in the background
    # (`cmd &`) hands it down ignored, and Python then leaves it ignored (no KeyboardInterrupt)
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", "-m", "slow", "-p", "ood", "--dataset",
                             str(toy_dataset_path), "--quiet"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while "slow: started" not in (line := proc.stdout.readline()):
        assert line and time.monotonic() < deadline, proc.stderr.read()
    assert (tmp_path / "results" / ".bench.lock").exists()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err and "the same command resumes" in err
    assert not (tmp_path / "results" / ".bench.lock").exists()


# 7. The core stays free of torch ----------------------------------------------------------------
def test_the_core_imports_no_torch_and_the_install_page_names_the_cpu_wheels():
    code = ("import sys, bench.cli, bench.engine.runner, bench.views.leaderboard, adapters, methodkit.ctc_lexicon; "
            "print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
    root = Path(__file__).resolve().parent.parent
    assert "docs/install.md" in (root / "README.md").read_text()     # the README points to the install page
    assert "download.pytorch.org/whl/cpu" in (root / "docs" / "install.md").read_text()


# 9. Bold is for methods that retrieve -----------------------------------------------------------
def test_a_near_random_method_wins_no_bold_cell(tmp_path, toy_dataset_path, site):
    bench("run", "-m", "random,near-random,oracle-text", "-p", "ood,rd", "--dataset", str(toy_dataset_path),
          "--quiet", "--bootstrap", "200", cwd=tmp_path, extra_path=site)
    near = read_result(result_path(tmp_path / "results", "near-random", "ood")).overall("acc@1")
    chance = read_result(result_path(tmp_path / "results", "random", "ood")).metrics["overall"]["acc@1"]["ci95"]
    assert near <= chance[1]                                      # the premise: it is no better than chance
    bench("leaderboard", cwd=tmp_path, extra_path=site)
    rows = [l for l in (tmp_path / "leaderboard.md").read_text().splitlines()
            if l.startswith(("| `near-random`", "| `oracle-text`"))]
    assert len(rows) >= 3 and not any("**" in row for row in rows)   # near-random's rd row was the only one


# 10. A shadowed import name is said in one line --------------------------------------------------
def test_another_distribution_owning_adapters_is_named(tmp_path):
    site = tmp_path / "shadow"
    (site / "adapters").mkdir(parents=True)
    (site / "adapters" / "__init__.py").write_text("# AdapterHub's package, not ours\n")
    info = site / "adapters-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: adapters\nVersion: 0.1\n")
    (info / "top_level.txt").write_text("adapters\n")
    proc = bench("run", "-m", "random", "--quiet", cwd=tmp_path, extra_path=site, check=False)
    line = _error_line(proc)
    assert "the import name 'adapters' is also installed by adapters" in line and "pip uninstall adapters" in line
