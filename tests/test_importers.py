"""Real-data loaders, on tiny files in each format that the tests write."""

import json
import struct

import pytest

from bench.data import importers
from bench.data.lexicon import load_lexicon
from bench.data.store import load_dataset
from bench.core.errors import DatasetError

from helpers import png

LEX = {(e.lang, e.text): e.semantic_id for e in load_lexicon()}


def _iam(root):
    (root / "words" / "a01" / "a01-000u").mkdir(parents=True)
    lines = ["#--- IAM words.txt ---", "a01-000u-00-00 ok 154 408 768 27 51 NN carrot",
             "a01-000u-00-01 err 154 507 766 213 48 NN zebra", "a01-000u-00-02 ok 154 796 764 70 50 AT the",
             "a01-000u-00-03 ok 154 796 764 70 50 NN Japan"]
    (root / "words.txt").write_text("\n".join(lines) + "\n")
    (root / "forms.txt").write_text("#\na01-000u 000 2 prt 7 5 52 36\n")
    for i in range(4):
        (root / "words" / "a01" / "a01-000u" / f"a01-000u-00-0{i}.png").write_bytes(png(50 + i, 30, 20))


def test_iam_words_join_the_lexicon(tmp_path):
    _iam(tmp_path / "iam")
    report = importers.import_samples(importers.read_iam(tmp_path / "iam"), tmp_path / "out", "iam-test")
    assert report.kept == 2 and report.dropped_not_in_lexicon == 1 and report.dropped_examples == ["en:the"]
    ds = load_dataset(tmp_path / "out")
    texts = {s.text: s for s in ds.samples}
    assert texts["carrot"].semantic_id == LEX[("en", "carrot")]
    assert texts["Japan"].style == "iam-writer-000" and texts["Japan"].split == "test_ood"
    # The full trilingual lexicon comes along, so cross-lingual protocols work on IAM too.
    assert ds.lexicon_entry(f"zh:{LEX[('en', 'carrot')]}").text == "胡萝卜"


def test_iam_missing_image_is_named(tmp_path):
    _iam(tmp_path / "iam")
    (tmp_path / "iam" / "words" / "a01" / "a01-000u" / "a01-000u-00-03.png").unlink()
    with pytest.raises(DatasetError, match=r"1 of 3 words cannot be imported.*\n"
                       r"  words.txt line 5: words/a01/a01-000u/a01-000u-00-03\.png: missing image file"):
        list(importers.read_iam(tmp_path / "iam"))


def _gnt_record(label: str, width: int, height: int, value: int) -> bytes:
    bitmap = bytes([value]) * (width * height)
    return struct.pack("<I", 10 + len(bitmap)) + label.encode("gb2312") + struct.pack("<HH", width, height) + bitmap


def test_hwdb_gnt_characters_and_composed_words(tmp_path):
    data = b"".join(_gnt_record(ch, 20 + i, 22, 40 * i) for i, ch in enumerate("胡萝卜蛇"))
    (tmp_path / "hwdb").mkdir()
    (tmp_path / "hwdb" / "1001-c.gnt").write_bytes(data)
    records = list(importers.read_gnt(tmp_path / "hwdb" / "1001-c.gnt"))
    assert [(r[0], r[1], r[2]) for r in records] == [("胡", 20, 22), ("萝", 21, 22), ("卜", 22, 22), ("蛇", 23, 22)]
    report = importers.import_samples(importers.read_hwdb(tmp_path / "hwdb"), tmp_path / "out", "hwdb-test")
    ds = load_dataset(tmp_path / "out")
    by_text = {s.text: s for s in ds.samples}
    assert by_text["蛇"].semantic_id == LEX[("zh", "蛇")] and by_text["蛇"].style == "hwdb-writer-1001-c"
    carrot = by_text["胡萝卜"]  # composed from the writer's three characters
    assert carrot.semantic_id == LEX[("zh", "胡萝卜")]
    assert ds.image_item(carrot.key).image.size == (20 + 21 + 22 + 2 * 4, 22)
    assert report.dropped_not_in_lexicon == 3  # 胡, 萝, 卜 alone are not lexicon words


def test_hwdb_truncated_file(tmp_path):
    (tmp_path / "bad.gnt").write_bytes(_gnt_record("蛇", 10, 10, 0)[:-7])
    with pytest.raises(DatasetError, match="bad.gnt: field 'sample_size': record 0"):
        list(importers.read_gnt(tmp_path / "bad.gnt"))


def test_generic_tables_datasets_parquet_and_folder(tmp_path):
    import datasets

    rows = {"image": [png(30, 20, 0), png(31, 20, 0)], "text": ["cebra", "zanahoria"],
            "lang": ["es", "es"], "semantic_id": [None, None], "style": ["w1", "w2"]}
    rows["image"] = [{"bytes": b, "path": None} for b in rows["image"]]
    table = datasets.Dataset.from_dict(rows, features=datasets.Features({
        "image": datasets.Image(), "text": datasets.Value("string"), "lang": datasets.Value("string"),
        "semantic_id": datasets.Value("int64"), "style": datasets.Value("string")}))
    table.save_to_disk(str(tmp_path / "hf"))
    table.to_parquet(str(tmp_path / "t.parquet"))
    for source in (tmp_path / "hf", tmp_path / "t.parquet"):
        out = tmp_path / f"out-{source.name}"
        importers.import_samples(importers.read_table(source), out, "t")
        ds = load_dataset(out)
        assert sorted(s.semantic_id for s in ds.samples) == sorted([LEX[("es", "cebra")], LEX[("es", "zanahoria")]])
        assert {s.style for s in ds.samples} == {"w1", "w2"}

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.png").write_bytes(png(40, 20, 0))
    (folder / "metadata.csv").write_text("file_name,text,lang,split\na.png,Zebra,en,test_id\n")
    report = importers.import_samples(importers.read_table(folder), tmp_path / "out-folder", "f")
    ds = load_dataset(tmp_path / "out-folder")
    assert report.kept == 1 and ds.samples[0].split == "test_id" and ds.samples[0].text == "zebra"


def test_generic_table_errors_name_the_row(tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.png").write_bytes(png())
    (folder / "b.png").write_bytes(png()[:20])
    (folder / "metadata.jsonl").write_text(json.dumps({"file_name": "a.png", "text": "zebra", "lang": "fr"}) + "\n")
    with pytest.raises(DatasetError, match=r"row 1 \(metadata.jsonl line 1\): field 'lang': unknown language 'fr'"):
        importers.import_samples(importers.read_table(folder), tmp_path / "o1", "f")
    (folder / "metadata.jsonl").write_text(json.dumps({"file_name": "b.png", "text": "zebra", "lang": "en"}) + "\n")
    with pytest.raises(DatasetError, match=r"row 1 \(metadata.jsonl line 1\): b\.png: cannot decode image"):
        importers.import_samples(importers.read_table(folder), tmp_path / "o2", "f")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_own_lexicon_for_out_of_lexicon_vocabulary(tmp_path):
    _iam(tmp_path / "iam")
    importers.import_samples(importers.read_iam(tmp_path / "iam"), tmp_path / "out", "own", lexicon_mode="own")
    ds = load_dataset(tmp_path / "out")
    assert sorted(e.text for e in ds.lexicon) == ["Japan", "carrot", "the"]


# -- image modes: what a scanner or an editor saves must not import blank ----------------------------

def _saved(im, fmt="PNG", **kw) -> bytes:
    import io

    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _grey_values(data: bytes) -> list[int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(importers._decode_png(data))) as im:
        assert im.mode == "L"
        return list(im.tobytes())


def _pixels(mode, values, **info):
    from PIL import Image

    im = Image.new(mode, (len(values), 1))
    im.putdata(values)
    im.info.update(info)
    return im


def _palette(indices, transparent_index):
    im = _pixels("P", indices)
    im.putpalette([0, 0, 0, 90, 90, 90])    # index 0 black, 1 grey
    return _saved(im, transparency=transparent_index)


# (case, encoded image, grey values expected): black 0, white 255; transparency goes onto white.
MODE_CASES = [
    ("16-bit grey PNG ('I;16')", lambda: _saved(_pixels("I;16", [0, 257, 32896, 65535])), [0, 1, 128, 255]),
    ("32-bit grey TIFF ('I'), 16-bit range", lambda: _saved(_pixels("I", [0, 32896, 65535, 70000]), "TIFF"),
     [0, 128, 255, 255]),
    ("16-bit grey PNG with a transparent value", lambda: _saved(_pixels("I;16", [0, 0, 1028]), transparency=0),
     [255, 255, 4]),
    ("RGBA: transparent, half, opaque black", lambda: _saved(_pixels("RGBA", [(0, 0, 0, 0), (0, 0, 0, 128),
                                                                              (0, 0, 0, 255)])), [255, 127, 0]),
    ("LA: transparent, half, opaque black", lambda: _saved(_pixels("LA", [(0, 0), (0, 128), (0, 255)])),
     [255, 127, 0]),
    ("P with a transparent palette entry", lambda: _palette([0, 1, 0], transparent_index=0), [255, 90, 255]),
    ("L with a transparent value (tRNS)", lambda: _saved(_pixels("L", [0, 0, 50]), transparency=0), [255, 255, 50]),
    ("RGB with a transparent colour (tRNS)", lambda: _saved(_pixels("RGB", [(0, 0, 0), (60, 60, 60)]),
                                                            transparency=(0, 0, 0)), [255, 60]),
]


@pytest.mark.parametrize("make, expected", [c[1:] for c in MODE_CASES], ids=[c[0] for c in MODE_CASES])
def test_image_modes_convert_to_the_grey_a_reader_sees(make, expected):
    values = _grey_values(make())
    assert all(abs(v - e) <= 1 for v, e in zip(values, expected)) and len(values) == len(expected), values


def test_plain_modes_convert_as_before():
    """A guard (this passed before the mode handling too): 1-bit, grey and RGB keep Pillow's own conversion."""
    assert _grey_values(_saved(_pixels("1", [0, 1]))) == [0, 255]
    assert _grey_values(_saved(_pixels("L", [0, 77, 255]))) == [0, 77, 255]
    assert _grey_values(_saved(_pixels("RGB", [(255, 0, 0), (0, 0, 0), (255, 255, 255)]))) == [76, 0, 255]
