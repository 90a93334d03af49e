import pytest

from bench.evaluation.protocols import PROTOCOLS, get_protocol
from bench.data.schema import XLING_DIRECTIONS


def _build(name, ds, **kw):
    return PROTOCOLS[name].task(ds, **kw)


def test_within_language_relevance_is_the_own_lexicon_entry(toy_dataset):
    for name, split in (("id", "test_id"), ("ood", "test_ood")):
        task = _build(name, toy_dataset)
        assert [st.name for st in task.subtasks] == ["en", "zh", "es"]
        for st in task.subtasks:
            assert len(st.query_keys) == len(toy_dataset.select(split=split, lang=st.name))
            for q, rel in zip(st.query_keys, st.relevant):
                sample = toy_dataset.sample(q)
                assert sample.split == split and sample.lang == st.query_lang
                (hit,) = rel
                entry = toy_dataset.lexicon_entry(st.gallery_keys[hit])
                assert (entry.lang, entry.semantic_id) == (sample.lang, sample.semantic_id)


def test_xling_has_six_directions_with_cross_language_hits(toy_dataset):
    task = _build("xling", toy_dataset)
    assert [st.name for st in task.subtasks] == [f"{a}→{b}" for a, b in XLING_DIRECTIONS]
    assert task.aggregate == "mean"
    for st in task.subtasks:
        assert st.query_lang != st.gallery_lang
        for q, (hit,) in zip(st.query_keys, st.relevant):
            entry = toy_dataset.lexicon_entry(st.gallery_keys[hit])
            assert entry.lang == st.gallery_lang
            assert entry.semantic_id == toy_dataset.sample(q).semantic_id


def test_t2i_relevant_images_share_the_semantic_id(toy_dataset):
    task = _build("t2i", toy_dataset)
    for st in task.subtasks:
        for q, rel in zip(st.query_keys, st.relevant):
            sid = toy_dataset.lexicon_entry(q).semantic_id
            expected = {i for i, k in enumerate(st.gallery_keys) if toy_dataset.sample(k).semantic_id == sid}
            assert set(rel) == expected and len(rel) >= 1


def test_limit_is_a_deterministic_subset(toy_dataset):
    full = _build("ood", toy_dataset)
    a = _build("ood", toy_dataset, limit=5, seed=1)
    b = _build("ood", toy_dataset, limit=5, seed=1)
    c = _build("ood", toy_dataset, limit=5, seed=2)
    assert a == b
    assert all(len(st.query_keys) == 5 for st in a.subtasks)
    assert all(set(x.query_keys) <= set(y.query_keys) for x, y in zip(a.subtasks, full.subtasks))
    assert a != c


def test_rd_covers_ood_images_and_their_lexicon_entries(toy_dataset):
    task = _build("rd", toy_dataset)
    assert set(task.image_keys) == {s.key for s in toy_dataset.select(split="test_ood")}
    ids = {toy_dataset.sample(k).semantic_id for k in task.image_keys}
    assert {toy_dataset.lexicon_entry(k).semantic_id for k in task.text_keys} == ids


def test_rd_limit_keeps_whole_classes_and_singletons_are_refused(toy_dataset, tmp_path):
    import pytest

    from bench.data.store import load_dataset
    from bench.core.errors import ProtocolNotApplicable

    task = _build("rd", toy_dataset, limit=7, seed=3)
    ids = [toy_dataset.sample(k).semantic_id for k in task.image_keys]
    assert len(set(ids)) == 7 and min(ids.count(i) for i in set(ids)) >= 2
    # One OOD image per word and language: the radius is undefined, refused, never reported as 0.
    single = load_dataset(toy_dataset.root)
    single.samples = [s for s in single.samples if s.split != "test_ood" or s.key.endswith("s5-test_ood")]
    with pytest.raises(ProtocolNotApplicable, match="at least 2 test_ood images per word"):
        _build("rd", single)


def test_gallery_sizes_grow_the_gallery_only(toy_dataset):
    from bench.evaluation.protocols import GALLERY_QUERIES
    from bench.core.text import normalise_text

    tasks = {name: _build(name, toy_dataset) for name in ("gallery-lexicon", "gallery-10k", "gallery-50k")}
    sizes = {name: [len(st.gallery_keys) for st in t.subtasks] for name, t in tasks.items()}
    assert sizes["gallery-lexicon"] == [len(toy_dataset.lexicon_for(l)) for l in ("en", "zh", "es")]
    assert sizes["gallery-10k"] == [10_000] * 3 and sizes["gallery-50k"] == [50_000] * 3
    base = tasks["gallery-lexicon"]
    for name, task in tasks.items():
        for st, st0 in zip(task.subtasks, base.subtasks):
            # The same queries, and the same hits, at every size.
            assert st.query_keys == st0.query_keys and len(st.query_keys) <= GALLERY_QUERIES
            assert [st.gallery_keys[r[0]] for r in st.relevant] == [st0.gallery_keys[r[0]] for r in st0.relevant]
            lexicon = {normalise_text(e.text) for e in toy_dataset.lexicon_for(st.gallery_lang)}
            extra = [toy_dataset.lexicon_entry(k) for k in st.gallery_keys[len(st0.gallery_keys):]]
            assert all(e.semantic_id < 0 for e in extra)                      # never a hit
            texts = [e.text for e in extra]
            assert not lexicon & set(texts) and len(set(texts)) == len(texts)
    # The 10k gallery is the head of the 50k one (distractors in frequency order), and deterministic.
    assert tasks["gallery-50k"].subtasks[0].gallery_keys[:10_000] == tasks["gallery-10k"].subtasks[0].gallery_keys
    assert _build("gallery-10k", toy_dataset) == tasks["gallery-10k"]


def test_column_helpers_and_registration_a_plugin_uses():
    from bench.evaluation.protocols import (Column, ProtocolKind, ProtocolSpec, overall, per_subtask, register_protocol,
                                 unregister_protocol)

    assert overall("mrr", "MRR", ci=True) == Column("MRR", ("overall", "mrr", "value"),
                                                    ci_path=("overall", "mrr", "ci95"))
    assert overall("acc@3") == Column("acc@3", ("overall", "acc@3", "value"))
    assert per_subtask("en", "map", "mAP en") == Column("mAP en", ("subtasks", "en", "map", "value"))
    metrics = {"overall": {"mrr": {"value": 0.5, "ci95": [0.4, 0.6]}}, "subtasks": {"en": {"map": {"value": 0.25}}}}
    assert overall("mrr", ci=True).value(metrics) == 0.5 and overall("mrr", ci=True).interval(metrics) == [0.4, 0.6]
    assert per_subtask("en", "map", "x").value(metrics) == 0.25 and per_subtask("zh", "map", "x").value(metrics) is None
    assert overall("mrr").interval(metrics) is None and overall("nes").value(None) is None
    spec = ProtocolSpec("plugin-x", "1", ProtocolKind.RETRIEVAL, "a plugin's protocol", lambda *a, **k: None)
    try:
        assert register_protocol(spec) is spec and get_protocol("plugin-x") is spec
        with pytest.raises(ValueError, match="'plugin-x' is already registered"):
            register_protocol(spec)
    finally:
        unregister_protocol("plugin-x")
    with pytest.raises(Exception, match="unknown protocol 'plugin-x'"):
        get_protocol("plugin-x")


def test_each_within_protocol_reads_its_own_split(toy_dataset):
    for name, split in (("id", "test_id"), ("ood", "test_ood")):
        task = _build(name, toy_dataset)
        keys = {k for st in task.subtasks for k in st.query_keys}
        assert keys == {s.key for s in toy_dataset.select(split=split)} and task.reads == f"{split} images with a lexicon word"
        assert task.aggregate == "pooled" and task.timed_queries == 0
    gallery = _build("gallery-lexicon", toy_dataset)
    assert gallery.timed_queries == 10 and all(len(st.query_keys) <= 100 for st in gallery.subtasks)


@pytest.mark.parametrize("name,kinds,aggregate,reads,timed", [
    ("id", ("image", "text"), "pooled", "test_id images with a lexicon word", 0),
    ("ood", ("image", "text"), "pooled", "test_ood images with a lexicon word", 0),
    ("xling", ("image", "text"), "mean", "test_ood images with a lexicon word in another language", 0),
    ("t2i", ("text", "image"), "pooled", "test_ood images", 0),
    ("gallery-lexicon", ("image", "text"), "pooled", "test_ood images with a lexicon word", 10),
])
def test_a_task_names_its_protocol_and_what_it_reads(toy_dataset, name, kinds, aggregate, reads, timed):
    spec = PROTOCOLS[name]
    task = spec.task(toy_dataset)
    assert (task.protocol, task.version, task.aggregate, task.reads, task.timed_queries, task.n_dropped) == \
        (spec.name, spec.version, aggregate, reads, timed, 0)
    for st in task.subtasks:
        assert (st.query_kind, st.gallery_kind) == kinds and st.query_lang in ("en", "zh", "es")
        assert st.gallery_lang == (st.query_lang if name != "xling" else st.gallery_lang) and st.gallery_lang


def test_queries_whose_word_is_missing_in_the_target_language_are_dropped_and_counted(tmp_path):
    from helpers import tiny_records, write_tiny
    from bench.data.store import load_dataset

    records, lexicon = tiny_records()    # Spanish loses concept 1 (its word and its images)
    ds = load_dataset(write_tiny(tmp_path / "t", [r for r in records if (r.lang, r.semantic_id) != ("es", 1)],
                                 [e for e in lexicon if (e.lang, e.semantic_id) != ("es", 1)]))
    xling = PROTOCOLS["xling"].task(ds)
    assert xling.n_dropped == 2           # en→es and zh→es: the one test_ood image of concept 1 each
    into_es = [st for st in xling.subtasks if st.gallery_lang == "es"]
    assert all(ds.sample(k).semantic_id != 1 for st in into_es for k in st.query_keys)
    assert PROTOCOLS["ood"].task(ds).n_dropped == 0


def test_limits_and_seeds_reach_every_builder(toy_dataset):
    for name in ("xling", "t2i", "gallery-lexicon"):
        full, small = PROTOCOLS[name].task(toy_dataset), PROTOCOLS[name].task(toy_dataset, limit=2, seed=1)
        assert all(len(st.query_keys) == 2 < len(f.query_keys) for st, f in zip(small.subtasks, full.subtasks)), name
        other = PROTOCOLS[name].task(toy_dataset, limit=2, seed=2)
        assert PROTOCOLS[name].task(toy_dataset, limit=2) == PROTOCOLS[name].task(toy_dataset, limit=2, seed=0)
        assert small != other or name == "gallery-lexicon", name
    gallery = PROTOCOLS["gallery-lexicon"].task(toy_dataset, limit=500)
    assert [len(st.query_keys) for st in gallery.subtasks] == [len(st.query_keys) for st in
                                                             PROTOCOLS["gallery-lexicon"].task(toy_dataset).subtasks]


def test_rd_limit_keeps_that_many_concepts_seeded(toy_dataset):
    rd = PROTOCOLS["rd"]
    ids = lambda task: {toy_dataset.sample(k).semantic_id for k in task.image_keys}
    assert ids(rd.task(toy_dataset, limit=3)) == ids(rd.task(toy_dataset, limit=3, seed=0))
    n = len(ids(rd.task(toy_dataset)))
    assert len(ids(rd.task(toy_dataset, limit=3))) == 3 and len(ids(rd.task(toy_dataset, limit=n))) == n
    assert ids(rd.task(toy_dataset, limit=3, seed=0)) != ids(rd.task(toy_dataset, limit=3, seed=5))
    assert rd.task(toy_dataset).protocol == "rd" and rd.task(toy_dataset).version == rd.version


def test_gallery_size_of_a_result():
    from bench.evaluation.protocols import gallery_size_of

    assert gallery_size_of({"gallery_size": {"en": 10, "zh": 12}}) == 12
    assert gallery_size_of({}) == 0


# --- datasets with holes (from the mutation run's survivors) --------------------------------------

def _without(ds, keep):
    from bench.data.store import load_dataset

    copy = load_dataset(ds.root)
    copy.samples = [s for s in copy.samples if keep(s)]
    return copy


def test_a_language_without_queries_is_left_out_and_the_others_still_built(toy_dataset):
    no_english = _without(toy_dataset, lambda s: s.lang != "en")
    for name in ("id", "ood", "t2i", "gallery-lexicon", "gallery-10k"):
        task = PROTOCOLS[name].task(no_english)
        assert [st.name for st in task.subtasks] == ["zh", "es"], name
        assert all(st.query_keys for st in task.subtasks)
    xling = PROTOCOLS["xling"].task(no_english)
    assert {st.query_lang for st in xling.subtasks} == {"zh", "es"} and len(xling.subtasks) == 4


def test_dropped_queries_are_summed_over_languages_in_every_image_protocol(toy_dataset):
    from bench.data.store import load_dataset

    # A valid dataset has every image's word in its own language; the builders still count, per
    # language, images whose gallery lacks their word (here: one concept's zh and es words removed).
    ds = load_dataset(toy_dataset.root)
    gone = min(s.semantic_id for s in ds.samples)
    ds.lexicon = [e for e in ds.lexicon if not (e.semantic_id == gone and e.lang in ("zh", "es"))]
    per_lang = {lang: sum(1 for s in ds.select(split="test_ood", lang=lang) if s.semantic_id == gone)
                for lang in ("zh", "es")}
    in_id = sum(1 for s in ds.samples if s.split == "test_id" and s.semantic_id == gone and s.lang != "en")
    en_ood = sum(1 for s in ds.select(split="test_ood", lang="en") if s.semantic_id == gone)
    assert min(per_lang.values()) > 0 and in_id > 0
    expected = {"id": in_id, "ood": sum(per_lang.values()), "gallery-lexicon": sum(per_lang.values()),
                "xling": 2 * en_ood + sum(per_lang.values())}   # en→zh, en→es; zh→es, es→zh
    for name, dropped in expected.items():
        task = PROTOCOLS[name].task(ds)
        assert task.n_dropped == dropped, name
        assert all(ds.sample(k).semantic_id != gone for st in task.subtasks if st.gallery_lang != "en"
                   for k in st.query_keys), name


def test_gallery_queries_are_test_ood_images_only(toy_dataset):
    for name in ("gallery-lexicon", "gallery-10k"):
        keys = [k for st in PROTOCOLS[name].task(toy_dataset).subtasks for k in st.query_keys]
        assert keys and {toy_dataset.sample(k).split for k in keys} == {"test_ood"}, name


def test_rd_accepts_two_images_per_word_and_names_the_first_single(toy_dataset):
    from bench.core.errors import ProtocolNotApplicable

    ood = [s for s in toy_dataset.samples if s.split == "test_ood"]
    per = {}
    for s in sorted(ood, key=lambda s: s.key):
        per.setdefault((s.lang, s.semantic_id), []).append(s.key)
    keep_two = {k for keys in per.values() for k in keys[:2]}
    two = _without(toy_dataset, lambda s: s.split != "test_ood" or s.key in keep_two)
    task = PROTOCOLS["rd"].task(two)
    assert len(task.image_keys) == len(keep_two)
    ids = sorted({sid for (_, sid) in per})
    singles = {per[(lang, sid)][0] for lang in ("en", "zh", "es") for sid in ids[3:5]}
    one = _without(two, lambda s: s.split != "test_ood" or s.semantic_id not in ids[3:5] or s.key in singles)
    with pytest.raises(ProtocolNotApplicable, match=rf"2 en word\(s\) have one \(e\.g\. semantic id {ids[3]}\)"):
        PROTOCOLS["rd"].task(one)


def test_t2i_subtasks_are_named_by_language_and_unregistering_twice_is_harmless(toy_dataset):
    from bench.evaluation.protocols import unregister_protocol

    assert [st.name for st in PROTOCOLS["t2i"].task(toy_dataset).subtasks] == ["en", "zh", "es"]
    unregister_protocol("no-such-protocol")
    assert "ood" in PROTOCOLS


def test_rd_limit_samples_only_concepts_that_have_test_ood_images(toy_dataset):
    ood_ids = sorted({s.semantic_id for s in toy_dataset.samples if s.split == "test_ood"})
    gone = ood_ids[0]
    ds = _without(toy_dataset, lambda s: not (s.split == "test_ood" and s.semantic_id == gone))
    for seed in range(5):
        task = PROTOCOLS["rd"].task(ds, limit=len(ood_ids) - 1, seed=seed)
        assert len({ds.sample(k).semantic_id for k in task.image_keys}) == len(ood_ids) - 1, seed
