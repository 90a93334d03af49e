"""The shipped ``ours`` reproduces its committed numbers, without the 19k-image benchmark.

tests/data/ours_fixture/ (written by benchmarks/make_ours_fixture.py) holds 24 seeded test_ood
images of the small benchmark (8 per language) and, for each, its row of the committed
results/ours/ood.rankings.json.gz: the top-10 lexicon keys, their scores and the rank of the
relevant word. The OOD gallery of a query is the whole lexicon of its language, which ships with
the package (bench/data/lexicon.tsv), so a dataset of just these images and that lexicon poses
each query exactly as the full benchmark did. The shipped checkpoint (the default ``ours``, on
PP-OCRv6 posteriors) run through the harness must give every query the same top-10 keys in the
same order, the same relevant rank, and scores within bench.engine.verify's tolerances; a checkpoint
with one weight moved does not.
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from adapters.ours import SHIPPED
from bench.data.lexicon import lexicon_digest, load_lexicon
from bench.data.store import SampleRecord, load_dataset, write_dataset
from bench.core.io import file_sha256
from bench.api.registry import create
from bench.store.results import read_rankings, read_result, result_path
from bench.engine.runner import RunConfig, run
from bench.engine.verify import SCORE_RTOL, SCORE_TOLERANCE

FIXTURE = Path(__file__).parent / "data" / "ours_fixture"
COMMITTED = Path(__file__).resolve().parent.parent / "results" / "ours" / "ood.json"


@pytest.fixture(scope="module")
def fixture() -> dict:
    data = json.loads((FIXTURE / "fixture.json").read_text(encoding="utf-8"))
    for s in data["samples"]:
        png = (FIXTURE / f"{s['key']}.png").read_bytes()
        assert hashlib.sha256(png).hexdigest() == s["png_sha256"], f"{s['key']}.png changed since it was written"
    return data


@pytest.fixture(scope="module")
def mini(tmp_path_factory, fixture):
    """The fixture's images as a dataset with the full packaged lexicon, and a cache the runs share
    (the 3,771 lexicon anchors are computed once)."""
    assert lexicon_digest() == fixture["source"]["lexicon_sha256"], \
        "bench/data/lexicon.tsv changed: the fixture's galleries are not the packaged lexicon's any more"
    root = tmp_path_factory.mktemp("shipped-ours")
    records = [SampleRecord(s["key"], (FIXTURE / f"{s['key']}.png").read_bytes(), s["text"], s["semantic_id"],
                            s["lang"], s["style"], "test_ood") for s in fixture["samples"]]
    write_dataset(root / "data", "ours-fixture", records, load_lexicon())
    return load_dataset(root / "data"), root / "cache"


def run_ours(ds, cache: Path, results: Path, options: dict | None = None):
    outcomes = run(ds, RunConfig(methods=["ours"], protocols=["ood"], results_dir=results, cache_dir=cache,
                                 n_boot=10, method_options={"ours": options} if options else {}))
    assert [(o.method, o.protocol, o.status) for o in outcomes] == [("ours", "ood", "ok")], outcomes
    path = result_path(results, "ours", "ood")
    return read_result(path), read_rankings(path)


def differences(rankings: dict, fixture: dict) -> list[str]:
    """Per query, where a fresh run differs from the committed row (as bench.engine.verify compares)."""
    out = []
    for s in fixture["samples"]:
        fresh, stored = rankings[s["lang"]], s["stored"]
        assert fresh["gallery_size"] == fixture["source"]["gallery_size"][s["lang"]]
        if s["key"] not in fresh["query_keys"]:
            out.append(f"{s['key']}: not among the run's queries")
            continue
        i = fresh["query_keys"].index(s["key"])
        if fresh["top_keys"][i] != stored["top_keys"]:
            out.append(f"{s['key']}: top keys {fresh['top_keys'][i][:3]} vs committed {stored['top_keys'][:3]}")
        elif fresh["relevant_ranks"][i] != stored["relevant_ranks"]:
            out.append(f"{s['key']}: relevant rank {fresh['relevant_ranks'][i]} vs {stored['relevant_ranks']}")
        elif not np.allclose(fresh["top_scores"][i], stored["top_scores"], rtol=SCORE_RTOL, atol=SCORE_TOLERANCE):
            out.append(f"{s['key']}: scores {fresh['top_scores'][i][:3]} vs committed {stored['top_scores'][:3]}")
    return out


def test_the_fixture_holds_the_committed_rows_of_the_shipped_checkpoint(fixture):
    """The fixture is the committed result's, and that result is the shipped checkpoint's: a new
    checkpoint or new committed results make this fail until the fixture is regenerated."""
    record = read_result(COMMITTED)
    assert fixture["source"]["run_key"] == record.run_key
    assert fixture["source"]["dataset_fingerprint"] == record.dataset.fingerprint
    assert fixture["source"]["method_version"] == record.method["version"] \
        == f"ckpt-{file_sha256(SHIPPED / 'model.safetensors')[:16]}"
    stored = read_rankings(COMMITTED)
    langs = [s["lang"] for s in fixture["samples"]]
    assert {lang: langs.count(lang) for lang in stored} == {"en": 8, "zh": 8, "es": 8}
    for s in fixture["samples"]:
        block = stored[s["lang"]]
        i = block["query_keys"].index(s["key"])
        assert s["stored"] == {"top_keys": block["top_keys"][i], "top_scores": block["top_scores"][i],
                               "relevant_ranks": block["relevant_ranks"][i]}, s["key"]
    # Not all hits: the sample also pins down how the model fails.
    assert any(s["stored"]["relevant_ranks"] != [1] for s in fixture["samples"])


def test_shipped_ours_reproduces_its_committed_per_query_results(mini, fixture, tmp_path, monkeypatch):
    monkeypatch.delenv("HWR_BENCH_OURS_CHECKPOINT", raising=False)
    method = create("ours")                                  # the default options: the shipped checkpoint
    assert method.checkpoint == SHIPPED
    assert method.source.name == "ppocrv6-posteriors"        # generation 2's backbone, not PP-OCRv4's
    assert method.availability().ok, method.availability()
    ds, cache = mini
    record, rankings = run_ours(ds, cache, tmp_path / "results")
    committed = read_result(COMMITTED)
    for fld in ("version", "params", "config"):
        assert record.method[fld] == committed.method[fld], fld
    assert record.method["config"]["backbone"] == "PP-OCRv6 rec (frozen)"
    assert sum(len(block["query_keys"]) for block in rankings.values()) == len(fixture["samples"])
    assert differences(rankings, fixture) == []


def test_a_checkpoint_with_one_weight_moved_does_not_reproduce_them(mini, fixture, tmp_path):
    """The comparison has teeth: one bias of the image side's last layer moved by 0.01 (a fraction
    of that layer's spread) moves some queries' scores past the tolerance."""
    from safetensors.numpy import load_file, save_file

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(SHIPPED, checkpoint)
    weights = load_file(str(checkpoint / "model.safetensors"))
    name = "visual.encoder.semantic.2.bias"
    weights[name] = weights[name].copy()
    weights[name][0] += 0.01
    save_file(weights, str(checkpoint / "model.safetensors"))
    ds, cache = mini
    record, rankings = run_ours(ds, cache, tmp_path / "results", {"checkpoint": str(checkpoint)})
    assert record.method["version"] != fixture["source"]["method_version"]
    found = differences(rankings, fixture)
    assert found, "a changed checkpoint reproduced every committed row"
