"""The `ours` method through the harness: availability, and an end-to-end run on real features."""

import json

import pytest

torch = pytest.importorskip("torch")

from bench.api.registry import create
from bench.store.results import result_path
from bench.api.retriever import RunContext
from bench.engine.runner import RunConfig, run
from ourmodel.model import DualEncoder, ModelConfig


def test_missing_checkpoint_is_unavailable_with_fix(tmp_path):
    method = create("ours", {"checkpoint": str(tmp_path / "nowhere")})
    avail = method.availability()
    assert not avail.ok and "no checkpoint" in avail.reason and "bench train" in avail.fix


def test_ours_hand_reads_its_own_checkpoint_under_its_own_name(tmp_path, monkeypatch):
    from ourmodel.quantize import default_checkpoint_dir

    monkeypatch.setenv("HWR_BENCH_OURS_CHECKPOINT", str(default_checkpoint_dir()))   # ours' override, not ours-hand's
    method = create("ours-hand")
    assert method.checkpoint == default_checkpoint_dir().parent / "ours-hand"
    assert method.info.name == "ours-hand" and method.info.group == "ours"
    elsewhere = create("ours-hand", {"checkpoint": str(tmp_path / "nowhere")})
    assert not elsewhere.availability().ok and elsewhere.info.name == "ours-hand"


def test_text_anchors_are_cached_in_the_runs_cache_and_nowhere_else(tmp_path, monkeypatch, toy_dataset):
    monkeypatch.setenv("HWR_BENCH_CACHE", str(tmp_path / "default"))
    for name in ("ours", "ocr+embed:oracle-text"):
        method = create(name)
        assert method.embed_texts(["apple"], "en").shape[0] == 1          # before prepare(): no cache
        method.prepare(RunContext(dataset=toy_dataset, seed=0, cache_dir=tmp_path / name))
        assert method.embed_texts(["apple", "agua"], "en").shape[0] == 2
        assert list((tmp_path / name).glob("anchors-*/shard-*.npz")), name
    assert not (tmp_path / "default").exists()


def test_shipped_ours_runs_every_protocol(tmp_path, toy_dataset, monkeypatch):
    """The default ``ours``: the shipped generation-3 checkpoint on PP-OCRv6 posteriors. On the toy
    set's printed words it must find the right word (an untrained head would be near 1 in 12).
    tests/test_shipped_ours.py checks it against its committed per-query results."""
    from adapters.ours import SHIPPED
    from bench.core.io import file_sha256

    monkeypatch.delenv("HWR_BENCH_OURS_CHECKPOINT", raising=False)
    config = RunConfig(methods=["ours"], protocols=["id", "ood", "xling", "rd"], results_dir=tmp_path / "results",
                       cache_dir=tmp_path / "cache", limit=4, n_boot=50)
    outcomes = run(toy_dataset, config)
    assert {o.protocol: o.status for o in outcomes} == {"id": "ok", "ood": "ok", "xling": "ok", "rd": "ok"}
    results = {p: json.loads(result_path(tmp_path / "results", "ours", p).read_text()) for p in ("ood", "xling", "rd")}
    method = results["ood"]["method"]
    assert method["version"] == f"ckpt-{file_sha256(SHIPPED / 'model.safetensors')[:16]}"
    assert method["config"]["backbone"] == "PP-OCRv6 rec (frozen)"
    assert "character pyramid, levels 1/2/3/4" in method["config"]["anchor"]
    assert 6_000_000 < method["params"] < 8_000_000   # frozen PP-OCRv6 small rec plus the spelling encoder
    assert results["ood"]["metrics"]["overall"]["acc@1"]["value"] >= 0.75
    # Across languages the toy set's printed words are read far less surely (the whole toy set: 0.38
    # for runs G3 and G3f alike); 4 queries a direction only show the head is not untrained (1 in 12).
    assert results["xling"]["metrics"]["overall"]["acc@1"]["value"] >= 0.25


def test_a_generation_1_checkpoint_runs_every_protocol_on_ppocrv4(tmp_path, toy_dataset):
    """A checkpoint without ``source`` in its config (generation 1) still runs, on PP-OCRv4's
    120-d sequence features (an untrained head: this checks the plumbing, not accuracy)."""
    torch.manual_seed(0)
    model = DualEncoder(ModelConfig(feature_dim=120))
    model.eval()
    model.save(tmp_path / "ckpt")
    config = RunConfig(methods=["ours"], protocols=["id", "ood", "xling", "rd"], results_dir=tmp_path / "results",
                       cache_dir=tmp_path / "cache", limit=4, n_boot=50,
                       method_options={"ours": {"checkpoint": str(tmp_path / "ckpt")}})
    outcomes = run(toy_dataset, config)
    assert {o.protocol: o.status for o in outcomes} == {"id": "ok", "ood": "ok", "xling": "ok", "rd": "ok"}
    data = json.loads(result_path(tmp_path / "results", "ours", "ood").read_text())
    assert data["method"]["config"]["backbone"] == "PP-OCRv4 rec (frozen)"
    assert 3_000_000 < data["method"]["params"] < 5_000_000  # frozen PP-OCRv4 rec (~2.7M) plus the head (~1.0M)
    assert data["method"]["version"].startswith("ckpt-")
    assert data["timings"]["images_computed"] > 0 and data["timings"]["latency_ms_per_image"] > 0


def test_int8_backbone_from_another_source_than_the_head_is_unavailable(tmp_path):
    """An int8 graph quantised for generation 1's PP-OCRv4 cannot feed a head trained on PP-OCRv6."""
    from ourmodel.quantize import BACKBONE_FILE

    (tmp_path / BACKBONE_FILE).write_bytes(b"not used")
    (tmp_path / "quantization.json").write_text(json.dumps({"recipe": {}}))      # gen 1 records no source
    method = create("ours-int8", {"int8_dir": str(tmp_path)})                   # head: the shipped fp32 checkpoint
    avail = method.availability()
    assert not avail.ok and "'ppocrv4-features'" in avail.reason and "bench quantize" in avail.fix
    record = {"source": method.config["source"], "alphabet": method.config["alphabet"]}
    (tmp_path / "quantization.json").write_text(json.dumps(record))
    assert create("ours-int8", {"int8_dir": str(tmp_path)}).availability().ok


@pytest.mark.parametrize("alphabet, reason", [("abc", "quantised for another alphabet (3 characters)"),
                                              (None, "records no alphabet")])
def test_int8_posterior_backbone_for_another_alphabet_than_the_head_is_unavailable(tmp_path, alphabet, reason):
    """A PP-OCRv6 graph is cut to an alphabet's groups: the head must read that alphabet's posteriors."""
    from ourmodel.quantize import BACKBONE_FILE

    (tmp_path / BACKBONE_FILE).write_bytes(b"not used")
    method = create("ours-int8", {"int8_dir": str(tmp_path)})                   # head: the shipped fp32 checkpoint
    record = {"source": method.config["source"]} | ({} if alphabet is None else {"alphabet": alphabet})
    (tmp_path / "quantization.json").write_text(json.dumps(record))
    avail = create("ours-int8", {"int8_dir": str(tmp_path)}).availability()
    assert not avail.ok and reason in avail.reason and str(method.checkpoint) in avail.reason
    assert avail.fix == f"bench quantize --out {tmp_path} --checkpoint {method.checkpoint}"


def test_a_head_tuned_on_another_int8_graph_is_unavailable(tmp_path):
    """`bench quantize --out` over a folder that holds a tuned head leaves that head stale."""
    import shutil

    from bench.core.io import file_sha256
    from ourmodel.quantize import BACKBONE_FILE, default_checkpoint_dir, default_int8_dir

    for name in ("quantization.json", BACKBONE_FILE):
        shutil.copy(default_int8_dir() / name, tmp_path / name)
    shutil.copy(default_checkpoint_dir() / "model.safetensors", tmp_path / "model.safetensors")
    config = json.loads((default_checkpoint_dir() / "config.json").read_text())   # a head tuned on this graph
    config["extra"]["backbone_int8_sha256"] = file_sha256(tmp_path / BACKBONE_FILE)
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert create("ours-int8", {"int8_dir": str(tmp_path)}).availability().ok
    (tmp_path / BACKBONE_FILE).write_bytes(b"a re-quantised graph")
    avail = create("ours-int8", {"int8_dir": str(tmp_path)}).availability()
    assert not avail.ok and "tuned on another int8 graph" in avail.reason and "re-tune" in avail.fix


def test_ours_rerank_rescores_its_shortlist_exactly_and_ranks_other_languages_by_ours(toy_dataset, monkeypatch):
    """Within a language: the ``shortlist`` words nearest by ours' cosine carry ppocrv6-ctc's exact
    CTC score, above every other word, which keeps ours' order; across languages: ours' cosine.
    (The pyramid's shortlist is off here, so that the exact set is ours' alone.)"""
    import numpy as np

    monkeypatch.delenv("HWR_BENCH_OURS_CHECKPOINT", raising=False)
    rerank = create("ours+rerank", {"shortlist": 3, "pyramid_shortlist": 0})
    ours, ctc = create("ours"), create("ppocrv6-ctc")
    assert rerank.availability().ok and rerank.shared_pass == ours.shared_pass == ctc.shared_pass
    items = toy_dataset.image_items([s.key for s in toy_dataset.select(split="test_ood", lang="es")][:4])
    lexicons = {lang: [e.text for e in toy_dataset.lexicon_for(lang)] for lang in ("es", "en")}
    got = rerank.score_texts(items, "es", lexicons)
    exact = ctc.score_texts(items, "es", {"es": lexicons["es"]})["es"]
    images = ours.embed_images(items)
    for lang, words in lexicons.items():
        cosine = images @ ours.embed_texts(words, lang).T
        if lang == "en":                                  # across languages: ours' cosine, nothing else
            np.testing.assert_allclose(got["en"], cosine, atol=1e-6)
            continue
        for i in range(len(items)):
            top = np.argsort(-cosine[i])[:3]
            rest = np.setdiff1d(np.arange(len(words)), top)
            np.testing.assert_allclose(got[lang][i, top], exact[i, top], rtol=1e-5)
            assert got[lang][i, top].min() > got[lang][i, rest].max()
            order = rest[np.argsort(-got[lang][i, rest], kind="stable")]
            assert list(order) == list(rest[np.argsort(-cosine[i, rest], kind="stable")])
    assert create("ours+rerank", {"shortlist": 3}).info.config["shortlist"] == 3
    from bench.api.options import OptionError

    with pytest.raises(OptionError, match="shortlist must be at least 1"):
        create("ours+rerank", {"shortlist": 0})


def test_ours_rerank_also_rescores_the_words_the_character_pyramid_finds(toy_dataset, monkeypatch):
    """With ``pyramid_shortlist``, the words most likely under the image's non-learned pyramid are
    scored exactly too, whatever ours' cosine thinks of them."""
    import numpy as np

    from ourmodel.pyramid import Pyramid

    monkeypatch.delenv("HWR_BENCH_OURS_CHECKPOINT", raising=False)
    rerank = create("ours+rerank", {"shortlist": 1, "pyramid_shortlist": 2})
    ctc = create("ppocrv6-ctc")
    items = toy_dataset.image_items([s.key for s in toy_dataset.select(split="test_ood", lang="en")][:3])
    words = [e.text for e in toy_dataset.lexicon_for("en")]
    got = rerank.score_texts(items, "en", {"en": words})["en"]
    exact = ctc.score_texts(items, "en", {"en": words})["en"]
    features = rerank.ours._features
    inputs = features.from_posteriors(features.network([it.image for it in items]))
    pyramid = Pyramid(rerank.ours.config["alphabet"], (1, 2, 3))
    from benchmarks.pyramid import bernoulli_scores

    likely = np.argsort(-bernoulli_scores(pyramid.images(inputs), pyramid.words(words)), 1)[:, :2]
    for i in range(len(items)):
        np.testing.assert_allclose(got[i, likely[i]], exact[i, likely[i]], rtol=1e-5)
        assert (got[i] > -1e5).sum() in (2, 3)     # the pyramid's two, and ours' one unless it is among them
    assert rerank.info.config["pyramid_shortlist"] == 2 and rerank.info.config["pyramid_levels"] == [1, 2, 3]
