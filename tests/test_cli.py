"""The `bench` command as a user runs it: a separate process, real files."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import plugin_site as make_plugin_site, png, rewrite_samples, set_cell, tiny_records, write_tiny
from bench.data.store import SampleRecord

PLUGIN = '''
import numpy as np
from bench.api.retriever import Availability, EmbeddingRetriever, MethodInfo


class LengthEmbedding(EmbeddingRetriever):
    """Embeds an image by its width and a word by its length: a real, if weak, method."""

    @property
    def info(self):
        return MethodInfo(name="ext-demo", group="end-to-end", version="0.1")

    def embed_images(self, items):
        return np.array([[it.image.width / 10.0, 1.0] for it in items])

    def embed_texts(self, texts, lang):
        return np.array([[len(t), 1.0] for t in texts])


class NeedsWeights(LengthEmbedding):
    @property
    def info(self):
        return MethodInfo(name="ext-missing", group="end-to-end", version="0.1")

    def availability(self):
        return Availability.no("checkpoint /models/ext not found", "set EXT_MODEL_DIR")
'''


@pytest.fixture
def plugin_site(tmp_path):
    """A third-party adapter registered only through an entry point (a dist-info on the path)."""
    return make_plugin_site(tmp_path / "site", "hwr_ext_demo", PLUGIN,
                            {"ext-demo": "hwr_ext_demo:LengthEmbedding", "ext-missing": "hwr_ext_demo:NeedsWeights"})


def bench(*args, cwd, extra_path=None, check=True, env_changes=None):
    """``bench ARGS`` in a subprocess; ``env_changes`` sets variables (None: removes one)."""
    env = {**os.environ, "HWR_BENCH_CACHE": str(Path(cwd) / ".cache"), "COLUMNS": "200"}
    for key, value in (env_changes or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"bench {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_run_then_leaderboard_is_byte_identical(tmp_path, toy_dataset_path):
    bench("run", "--methods", "random,oracle-text", "--dataset", str(toy_dataset_path), "--quiet",
          "--bootstrap", "200", cwd=tmp_path)
    for protocol in ("id", "ood", "xling", "t2i", "rd"):
        assert (tmp_path / "results" / "random" / f"{protocol}.json").is_file()
        assert (tmp_path / "results" / "oracle-text" / f"{protocol}.json").is_file()
    bench("leaderboard", cwd=tmp_path)
    first = (tmp_path / "leaderboard.md").read_bytes()
    bench("leaderboard", cwd=tmp_path)
    assert (tmp_path / "leaderboard.md").read_bytes() == first
    text = first.decode()
    for heading in ("in-domain", "out-of-domain", "Cross-lingual", "Text → image", "topology"):
        assert heading in text
    assert "| `oracle-text` | **1.0000**" not in text  # reference rows are never bolded
    assert "| `oracle-text` | 1.0000" in text


def test_entry_point_adapter_is_listed_and_runs(tmp_path, toy_dataset_path, plugin_site):
    listing = bench("methods", cwd=tmp_path, extra_path=plugin_site).stdout
    assert "ext-demo" in listing and "hwr-ext-demo" in listing
    assert "checkpoint /models/ext not found" in listing
    proc = bench("run", "--methods", "ext-demo,ext-missing,random", "--protocols", "ood,rd",
                 "--dataset", str(toy_dataset_path), "--quiet", "--bootstrap", "0",
                 cwd=tmp_path, extra_path=plugin_site)
    assert "unavailable" in proc.stdout and "set EXT_MODEL_DIR" in proc.stdout
    assert (tmp_path / "results" / "ext-demo" / "ood.json").is_file()
    assert (tmp_path / "results" / "random" / "rd.json").is_file()
    bench("leaderboard", cwd=tmp_path, extra_path=plugin_site)
    board = (tmp_path / "leaderboard.md").read_text()
    assert "| `ext-demo` |" in board and "ext-missing" not in board   # unavailable: reported, not written


def _error_line(proc):
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_corrupt_inputs_give_one_clear_error_line(tmp_path):
    fr = write_tiny(tmp_path / "fr")
    set_cell(fr, "lang", 7, "fr")
    line = _error_line(bench("run", "--dataset", str(fr), "--quiet", cwd=tmp_path, check=False))
    assert "samples.parquet: row 7" in line and "field 'lang'" in line and "'fr'" in line

    records, lexicon = tiny_records()
    r = records[2]  # a test_ood image
    records[2] = SampleRecord(r.key, png()[:25], r.text, r.semantic_id, r.lang, r.style, r.split)
    truncated = write_tiny(tmp_path / "truncated", records, lexicon)
    line = _error_line(bench("run", "--dataset", str(truncated), "--protocols", "id,ood,xling,t2i", "--quiet", cwd=tmp_path, check=False))
    assert f"samples.parquet: row 2 (key '{r.key}'): field 'image': cannot decode image" in line
    assert not list((tmp_path / "results").glob("*/*.json"))  # nothing written for a bad dataset
    line = _error_line(bench("data", "validate", str(truncated), cwd=tmp_path, check=False))
    assert "field 'image'" in line

    empty = write_tiny(tmp_path / "empty")
    rewrite_samples(empty, lambda t: t.slice(0, 0))
    line = _error_line(bench("run", "--dataset", str(empty), "--quiet", cwd=tmp_path, check=False))
    assert "samples.parquet: no rows" in line


def test_import_and_help_stay_light(tmp_path):
    code = ("import sys, bench, bench.cli; heavy = [m for m in ('torch', 'datasets', 'pyarrow', "
            "'pandas', 'PIL') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "run" in bench("--help", cwd=tmp_path).stdout


def test_unknown_protocol_and_bad_options(tmp_path, toy_dataset_path):
    line = _error_line(bench("run", "--protocols", "nope", "--dataset", str(toy_dataset_path),
                             "--quiet", cwd=tmp_path, check=False))
    assert "unknown protocol 'nope'" in line
    line = _error_line(bench("run", "--overwrite", "sometimes", "--dataset", str(toy_dataset_path), cwd=tmp_path,
                             check=False))
    assert "'--overwrite'" in line and "'never', 'only-stale', 'always'" in line


def test_data_show_writes_into_the_cache_not_the_working_tree(tmp_path, toy_dataset_path):
    proc = bench("data", "show", "--dataset", str(toy_dataset_path), cwd=tmp_path)
    assert not (tmp_path / "contact_sheet.png").exists()
    assert (tmp_path / ".cache" / "contact_sheet.png").is_file() and "contact_sheet.png" in proc.stdout


def test_a_run_without_a_terminal_says_what_it_reused_and_no_bar(tmp_path, toy_dataset_path):
    args = ("run", "--methods", "random", "--protocols", "ood", "--dataset", str(toy_dataset_path),
            "--bootstrap", "0")
    first = bench(*args, cwd=tmp_path)
    # No bar escape codes in a log, and no progress line for the toy set's sub-second phases
    # (long phases print plain lines: tests/test_reproducibility.py drives them with a clock).
    assert "\x1b[" not in first.stderr and "random: images:" not in first.stderr
    assert "computed 1 result(s), reused 0 stored result(s)" in " ".join(first.stdout.split())
    again = bench(*args, "--verify", "3", cwd=tmp_path)
    text = " ".join(again.stdout.split())
    assert "computed 0 result(s), reused 1 stored result(s) (up to date)" in text
    assert "agree random: 9/9 sampled queries" in text
