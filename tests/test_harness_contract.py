"""The harness's shape: registration rules, options, names, protocols as data, and its layering."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from bench.core.errors import UnknownMethodError
from bench.views.leaderboard import build_leaderboard
from bench.api.options import OptionError
from bench.evaluation.protocols import (PROTOCOLS, Column, ProtocolKind, ProtocolSpec, RetrievalTask, Subtask,
                             default_protocols, overall, register_protocol, unregister_protocol)
from bench.store.records import ResultRecord, RunKey, Timings
from bench.api.registry import METHODS, RegistryError
from bench.store.results import read_result, result_path
from bench.api.retriever import EmbeddingRetriever, MethodInfo
from bench.engine.runner import RunConfig, run
from bench.data.schema import LANGUAGES

from test_cli import _error_line, bench
from helpers import plugin_site

ROOT = Path(__file__).resolve().parent.parent


class Mislabelled(EmbeddingRetriever):
    """Registered as ``ink``, but says it is ``ink-mislabelled``: its results could not be found."""

    @property
    def info(self):
        return MethodInfo(name="ink-mislabelled", group="end-to-end", version="1")

    def embed_images(self, items):
        return np.ones((len(items), 2))

    def embed_texts(self, texts, lang):
        return np.ones((len(texts), 2))


def _config(tmp_path, methods, protocols, **kw):
    return RunConfig(methods=methods, protocols=protocols, results_dir=tmp_path / "results",
                     cache_dir=tmp_path / "cache", n_boot=0, **kw)


# -- registration -------------------------------------------------------------------------------

def test_a_name_collision_is_refused(register_methods):
    with pytest.raises(RegistryError, match="'random' from test collides with the one from builtin"):
        METHODS.register("random", "fake_methods:Counting", source="test")
    register_methods(**{"fresh-name": "fake_methods:Counting"})
    with pytest.raises(RegistryError, match="collides"):
        METHODS.register("fresh-name", "fake_methods:NaNs", source="another test")


def test_a_plugin_reusing_a_builtin_name_is_refused_in_one_line(tmp_path):
    site = plugin_site(tmp_path / "site", "hwr_shadow", "from adapters.baselines import RandomEmbedding as R\n",
                       {"random": "hwr_shadow:R"})
    line = _error_line(bench("methods", cwd=tmp_path, extra_path=site, check=False))
    assert "method 'random' from hwr-shadow collides with the one from builtin" in line


def test_info_name_must_be_the_requested_name(tmp_path, toy_dataset, register_methods):
    register_methods(ink="test_harness_contract:Mislabelled")
    outcomes = run(toy_dataset, _config(tmp_path, ["ink", "random"], ["ood"]))
    status = {o.method: o for o in outcomes}
    assert status["ink"].status == "failed"
    assert "info.name 'ink-mislabelled'" in status["ink"].message and "\n" not in status["ink"].message
    assert status["random"].status == "ok"
    assert not (tmp_path / "results" / "ink-mislabelled").exists()


def test_options_are_typed_and_a_typo_is_refused():
    assert METHODS.create("random", {"dim": "8", "seed": "3"}).options.dim == 8
    with pytest.raises(OptionError, match=r"unknown option 'typo_option' \(known: dim, seed\)"):
        METHODS.check("random", {"typo_option": "3"})
    with pytest.raises(OptionError, match="'x' is not an integer"):
        METHODS.check("random", {"dim": "x"})
    with pytest.raises(UnknownMethodError, match="unknown method 'nope'"):
        METHODS.check("nope")


def test_cli_checks_methods_and_options_before_any_work(tmp_path):
    missing = tmp_path / "no-such-dataset"   # never opened: the checks come first
    line = _error_line(bench("run", "-m", "random", "-o", "random.typo_option=3", "--dataset", str(missing),
                             cwd=tmp_path, check=False))
    assert "unknown option 'typo_option'" in line and "known: dim, seed" in line
    line = _error_line(bench("run", "-m", "random,nope", "--dataset", str(missing), cwd=tmp_path, check=False))
    assert "unknown method 'nope'" in line
    line = _error_line(bench("run", "-m", "random", "-o", "oracle-text.x=1", "--dataset", str(missing),
                             cwd=tmp_path, check=False))
    assert "not among the methods" in line
    line = _error_line(bench("efficiency", "-m", "nope", "--dataset", str(missing), cwd=tmp_path, check=False))
    assert "unknown method 'nope'" in line
    line = _error_line(bench("data", "build", "--size", "nope", "--out", str(missing), cwd=tmp_path, check=False))
    assert "'toy'" in line and not missing.exists()


def test_plugin_commands_are_registered(tmp_path):
    out = bench("--help", cwd=tmp_path).stdout
    for command in ("run", "train", "ablate", "curves", "quantize"):
        assert re.search(rf"\b{command}\b", out), command


# -- protocols are data --------------------------------------------------------------------------

def _first_language(spec, ds, limit=None, seed=0):
    """Toy protocol: test_id images of the first language only, against that lexicon."""
    lang = LANGUAGES[0]
    lexicon = ds.lexicon_for(lang)
    index = {e.semantic_id: i for i, e in enumerate(lexicon)}
    keys = tuple(sorted(s.key for s in ds.select(split="test_id", lang=lang)))
    st = Subtask(lang, "image", keys, lang, "text", tuple(e.key for e in lexicon), lang,
                 tuple((index[ds.sample(k).semantic_id],) for k in keys))
    return RetrievalTask(spec.name, spec.version, (st,), "pooled")


@pytest.fixture
def toy_protocol():
    spec = register_protocol(ProtocolSpec(
        "first-lang", "1", ProtocolKind.RETRIEVAL, "Toy: the first language's in-domain images", _first_language,
        "A toy protocol (`first-lang`)", (overall("acc@1", "Acc@1 (95% CI)", ci=True),
                                          Column("Worst rank ↓", ("overall", "mrr", "value"), higher_is_better=False))))
    yield spec
    unregister_protocol(spec.name)


def test_a_new_protocol_is_one_registration(tmp_path, toy_dataset, toy_protocol):
    assert "first-lang" in default_protocols()
    with pytest.raises(ValueError, match="already registered"):
        register_protocol(toy_protocol)
    outcomes = run(toy_dataset, _config(tmp_path, ["random", "oracle-text"], ["first-lang"]))
    assert {o.status for o in outcomes} == {"ok"}
    record = read_result(result_path(tmp_path / "results", "oracle-text", "first-lang"))
    assert record.overall("acc@1") == 1.0
    board = build_leaderboard(tmp_path / "results")
    assert "## A toy protocol (`first-lang`)" in board and "| Worst rank ↓ |" in board
    assert "| `oracle-text` | 1.0000 | 1.0000 |" in board   # reference rows are never bold


def test_builtin_protocols_carry_their_columns_and_kinds():
    assert [s.kind for s in PROTOCOLS.values()].count(ProtocolKind.TOPOLOGY) == 1
    assert all(s.columns and s.title for s in PROTOCOLS.values())
    rd = PROTOCOLS["rd"]
    assert rd.kind.needs_embeddings and not rd.kind.shardable
    directions = {c.title: c.higher_is_better for c in rd.columns}
    assert directions["R/D pooled ↓"] is False and directions["R/D en ↓"] is False
    assert directions["random"] is None          # a reference, never bold
    axis = [s for s in PROTOCOLS.values() if s.axis]
    assert sorted(s.axis[1] for s in axis) == [0, 10_000, 50_000] and len({s.axis[0] for s in axis}) == 1


# -- the result record -----------------------------------------------------------------------------

def test_committed_results_round_trip_and_keep_their_run_keys():
    checked = 0
    for path in sorted((ROOT / "results").glob("*/*.json")):
        if path.name == "efficiency.json":
            continue
        record = read_result(path)
        assert ResultRecord.from_json(record.to_json()) == record
        if record.run_key is not None:
            assert record.key().digest() == record.run_key, path   # the run key follows from the fields
            checked += 1
    assert checked > 20


def test_timings_merge_sums_and_derives_latency():
    merged = Timings.merge([Timings(image_seconds=1.0, images_computed=10, total_seconds=2.0),
                            Timings(image_seconds=3.0, images_computed=10, texts_cached=4)])
    assert (merged.image_seconds, merged.images_computed, merged.texts_cached) == (4.0, 20, 4)
    assert merged.latency_ms_per_image == 200.0 and merged.total_seconds == 2.0
    assert Timings().latency_ms_per_image is None
    key = RunKey("m", "p", "1", "fp", None, 0, 1000, {})
    assert key.digest() != RunKey("m", "p", "1", "fp", None, 0, 1000, {}, shard="0/2").digest()


# -- layering --------------------------------------------------------------------------------------

def _python_files(folder: str):
    return sorted((ROOT / folder).rglob("*.py"))


def test_the_harness_imports_neither_adapters_nor_the_model():
    for path in _python_files("bench"):
        text = path.read_text()
        assert "ourmodel" not in text, path
        for node in ast.walk(ast.parse(text)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in ("adapters", "ourmodel"), f"{path}: imports {name}"


def test_no_function_in_the_harness_is_over_60_lines():
    long = [f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name} ({fn.end_lineno - fn.lineno + 1} lines)"
            for path in _python_files("bench") for fn in ast.walk(ast.parse(path.read_text()))
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.end_lineno - fn.lineno + 1 > 60]
    assert not long, long
