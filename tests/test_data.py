
import pytest

from bench.data.store import SampleRecord, load_dataset, write_dataset
from bench.data.toy import build_toy
from bench.core.errors import DatasetError

from helpers import png, rewrite_samples, set_cell, tiny_records, write_tiny


def test_roundtrip_keeps_records_and_fingerprint(tmp_path):
    write_tiny(tmp_path / "d")
    ds = load_dataset(tmp_path / "d")
    assert len(ds) == 27
    assert {e.lang for e in ds.lexicon} == {"en", "zh", "es"}
    assert ds.sample("es-0-test_ood").text == "manzana"
    assert ds.image_item("en-1-train").image.size == (31, 20)
    assert ds.manifest["fingerprint"] == ds.fingerprint
    assert ds.counts()["test_ood"] == {"en": 3, "zh": 3, "es": 3}


def test_toy_build_is_deterministic_per_seed(tmp_path):
    a = build_toy(tmp_path / "a", seed=0, n_concepts=3)
    b = build_toy(tmp_path / "b", seed=0, n_concepts=3)
    c = build_toy(tmp_path / "c", seed=1, n_concepts=3)
    assert a == b != c


def test_toy_styles_are_disjoint_between_id_and_ood(toy_dataset):
    id_styles = {s.style for s in toy_dataset.samples if s.split != "test_ood"}
    ood_styles = {s.style for s in toy_dataset.samples if s.split == "test_ood"}
    assert id_styles and ood_styles and not id_styles & ood_styles
    train = {(s.semantic_id, s.lang, s.style) for s in toy_dataset.select(split="train")}
    test_id = {(s.semantic_id, s.lang, s.style) for s in toy_dataset.select(split="test_id")}
    assert train == test_id  # same words and styles, different renderings
    assert not {s.key for s in toy_dataset.select(split="train")} & {s.key for s in toy_dataset.select(split="test_id")}


def test_unknown_language_names_file_row_and_field(tmp_path):
    path = write_tiny(tmp_path / "d")
    set_cell(path, "lang", 4, "fr")
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    msg = str(err.value)
    assert "samples.parquet" in msg and "row 4" in msg and "'lang'" in msg and "'fr'" in msg
    assert "\n" not in msg


def test_missing_column(tmp_path):
    path = write_tiny(tmp_path / "d")
    rewrite_samples(path, lambda t: t.drop_columns(["semantic_id"]))
    with pytest.raises(DatasetError, match=r"samples\.parquet: field 'semantic_id': missing column"):
        load_dataset(path)


def test_empty_dataset(tmp_path):
    path = write_tiny(tmp_path / "d")
    rewrite_samples(path, lambda t: t.slice(0, 0))
    with pytest.raises(DatasetError, match="no rows"):
        load_dataset(path)
    with pytest.raises(DatasetError, match="no rows"):
        write_dataset(tmp_path / "e", "empty", [], tiny_records()[1])


def test_empty_text_rejected_at_write(tmp_path):
    records, lexicon = tiny_records()
    records[2] = SampleRecord(records[2].key, records[2].image_bytes, "  ", 0, "en", "s", "test_ood")
    with pytest.raises(DatasetError, match="row 2 .*field 'text': empty text"):
        write_dataset(tmp_path / "d", "bad", records, lexicon)
    assert not (tmp_path / "d").exists()  # nothing written for a rejected dataset


def test_truncated_image_names_row_and_field(tmp_path):
    records, lexicon = tiny_records()
    r = records[5]
    records[5] = SampleRecord(r.key, png()[:30], r.text, r.semantic_id, r.lang, r.style, r.split)
    write_tiny(tmp_path / "d", records, lexicon)
    ds = load_dataset(tmp_path / "d")
    with pytest.raises(DatasetError) as err:
        ds.image_item(r.key)
    assert f"row 5 (key '{r.key}'): field 'image': cannot decode image" in str(err.value)


def test_tampered_content_fails_fingerprint(tmp_path):
    path = write_tiny(tmp_path / "d")
    set_cell(path, "style", 0, "another-style")
    with pytest.raises(DatasetError, match="manifest.json: field 'fingerprint'"):
        load_dataset(path)


def test_missing_manifest_and_folder(tmp_path):
    with pytest.raises(DatasetError, match="not a dataset folder"):
        load_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="manifest.json: missing"):
        load_dataset(tmp_path / "empty")


def test_lexicon_must_be_unique_and_cover_samples(tmp_path):
    records, lexicon = tiny_records()
    with pytest.raises(DatasetError, match="appears twice"):
        write_dataset(tmp_path / "a", "x", records, lexicon + [lexicon[0]])
    with pytest.raises(DatasetError, match="not in the lexicon"):
        write_dataset(tmp_path / "b", "x", records, lexicon[1:])
