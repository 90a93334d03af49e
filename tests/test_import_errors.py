"""`bench data import` / `bench data build` faults: every bad row in one error, and --out never clobbered."""

import csv
import json

import pytest

from bench.data import importers
from bench.data.importers import TABLE_COLUMNS, TABLE_COLUMNS_HELP, TABLE_EXAMPLE, ImportFaultsError
from bench.data.store import MANIFEST, OutputFolderError, load_dataset
from bench.data.toy import build_toy
from bench.core.errors import HwrBenchError

from helpers import png
from test_cli import _error_line, bench


def _folder(root, rows, bad=()):
    """An image folder with metadata.csv; ``rows`` are (file, text, lang), files in ``bad`` corrupt."""
    (root / "img").mkdir(parents=True)
    with open(root / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file_name", "text", "lang"])
        for i, (name, text, lang) in enumerate(rows):
            w.writerow([f"img/{name}", text, lang])
            (root / "img" / name).write_bytes(png(30 + i)[:40] if name in bad else png(30 + i))   # cut short
    return root


ROWS = [("a.png", "zebra", "en"), ("b.png", "carrot", "en"), ("c.png", "cebra", "es"),
        ("d.png", "zanahoria", "es"), ("e.png", "dog", "en")]


def _import(src, out, **kw):
    return importers.import_samples(importers.read_table(src), out, "t", **kw)


def test_corrupt_image_names_the_file_one_based_without_reprs(tmp_path):
    src = _folder(tmp_path / "src", ROWS, bad={"e.png"})
    with pytest.raises(ImportFaultsError) as info:
        _import(src, tmp_path / "out")
    msg = str(info.value)
    assert "<_io" not in msg and "object at 0x" not in msg
    first, *faults = msg.splitlines()
    assert "1 of 5 rows cannot be imported" in first and "counted from 1" in first
    # e.png is the 5th data row, on line 6 of metadata.csv (line 1 is the header).
    assert len(faults) == 1 and faults[0].startswith("  row 5 (metadata.csv line 6): img/e.png: cannot decode image (")
    assert not (tmp_path / "out").exists()


def test_every_faulty_row_is_listed_in_one_error(tmp_path):
    src = _folder(tmp_path / "src", ROWS, bad={"b.png", "d.png"})
    (src / "img" / "c.png").unlink()
    with pytest.raises(ImportFaultsError) as info:
        _import(src, tmp_path / "out")
    assert info.value.n_faulty == 3 and info.value.n_total == 5
    lines = str(info.value).splitlines()
    assert "3 of 5 rows" in lines[0]
    assert len(lines) == 4
    assert lines[1].startswith("  row 2 (metadata.csv line 3): img/b.png: cannot decode image (")
    assert lines[2] == "  row 3 (metadata.csv line 4): img/c.png: missing image file"
    assert lines[3].startswith("  row 4 (metadata.csv line 5): img/d.png: cannot decode image (")


def test_fault_listing_is_capped(tmp_path):
    rows = [(f"{i:02d}.png", "zebra", "en") for i in range(25)]
    src = _folder(tmp_path / "src", rows, bad={name for name, _, _ in rows})
    with pytest.raises(ImportFaultsError) as info:
        _import(src, tmp_path / "out")
    lines = str(info.value).splitlines()
    assert "25 of 25 rows" in lines[0] and len(lines) == 1 + 20 + 1 and lines[-1] == "  and 5 more"


def test_bad_fields_are_collected_per_row_with_line_numbers(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(png())
    (src / "metadata.jsonl").write_text("\n".join([
        json.dumps({"file_name": "a.png", "text": "zebra", "lang": "en"}),
        "",                                                   # blank lines are not rows
        "{not json",
        json.dumps({"file_name": "a.png", "text": "zebra", "lang": "fr", "split": "dev"}),
        json.dumps({"file_name": "a.png", "text": "zebra", "lang": "en", "semantic_id": "x"}),
    ]) + "\n")
    with pytest.raises(ImportFaultsError) as info:
        _import(src, tmp_path / "out")
    assert str(info.value).splitlines()[1:] == [
        "  row 2 (metadata.jsonl line 3): not valid JSON (Expecting property name enclosed in double quotes)",
        "  row 3 (metadata.jsonl line 4): field 'lang': unknown language 'fr' (expected one of en, zh, es)",
        "  row 3 (metadata.jsonl line 4): field 'split': unknown split 'dev' (expected one of train, "
        "test_id, test_ood)",
        "  row 4 (metadata.jsonl line 5): field 'semantic_id': must be a non-negative integer, got 'x'",
    ]


def test_parquet_embedded_image_rows_count_from_one(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    images = [{"bytes": png(), "path": "scan-1.png"}, {"bytes": b"junk", "path": "scan-2.png"}]
    pq.write_table(pa.table({"image": images, "text": ["zebra", "dog"], "lang": ["en", "en"]}),
                   tmp_path / "t.parquet")
    with pytest.raises(ImportFaultsError, match=r"\n  row 2: scan-2\.png: cannot decode image"):
        _import(tmp_path / "t.parquet", tmp_path / "out")


def test_missing_required_column_is_one_error(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "metadata.csv").write_text("file_name,text\na.png,zebra\n")
    with pytest.raises(HwrBenchError, match=r"metadata\.csv: no 'lang' column \(columns: file_name, text\)"):
        _import(src, tmp_path / "out")


# -- the output folder --------------------------------------------------------------------------

def test_non_dataset_output_folder_is_refused_and_left_alone(tmp_path):
    src = _folder(tmp_path / "src", ROWS)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    for kw in ({}, {"replace": True}):   # not even with replace
        with pytest.raises(OutputFolderError, match=r"mine: is not empty and not an hwr-bench dataset "
                           r"\(it holds notes\.txt\)"):
            _import(src, out, **kw)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"] and (out / "notes.txt").read_text() == "keep me"


def test_existing_dataset_needs_replace_and_is_swapped_whole(tmp_path):
    src = _folder(tmp_path / "src", ROWS)
    out = tmp_path / "out"
    _import(src, out)
    before = (out / MANIFEST).read_bytes()
    with pytest.raises(OutputFolderError, match=r"out: already holds the dataset 't' .*--replace"):
        _import(src, out)
    assert (out / MANIFEST).read_bytes() == before

    # A faulty source with replace: the old dataset stays as it was.
    (src / "img" / "a.png").write_bytes(b"junk")
    with pytest.raises(ImportFaultsError):
        _import(src, out, replace=True)
    assert (out / MANIFEST).read_bytes() == before and load_dataset(out)

    (src / "img" / "a.png").write_bytes(png(99))
    report = _import(src, out, replace=True)
    assert load_dataset(out).fingerprint == report.fingerprint != json.loads(before)["fingerprint"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]   # no temporary folders left

    (out / "my-notes.txt").write_text("keep me")   # not the dataset's: replacing would delete it
    with pytest.raises(OutputFolderError, match="also my-notes.txt, which replacing it would delete"):
        _import(src, out, replace=True)
    assert (out / "my-notes.txt").read_text() == "keep me"


def test_empty_output_folder_is_used(tmp_path):
    src = _folder(tmp_path / "src", ROWS)
    (tmp_path / "out").mkdir()
    assert _import(src, tmp_path / "out").kept == 5


def test_output_inside_or_around_the_source_is_refused(tmp_path):
    src = _folder(tmp_path / "src", ROWS)
    # The CLI records the source in ``builder``; that is enough.
    with pytest.raises(OutputFolderError, match="inside the source"):
        _import(src, src / "out", builder={"source": str(src)})
    for out in (src, src / "out", src / "img" / "deeper"):
        with pytest.raises(OutputFolderError, match="inside the source"):
            _import(src, out, source=src)
        assert not (src / "out").exists() and not (src / "img" / "deeper").exists()
    with pytest.raises(OutputFolderError, match="contains the source"):
        _import(src, tmp_path, source=src)


def test_build_refuses_an_existing_dataset_but_rebuilds_the_default_location(tmp_path, monkeypatch):
    build_toy(tmp_path / "toy", n_concepts=2)
    with pytest.raises(OutputFolderError, match="already holds the dataset 'toy'"):
        build_toy(tmp_path / "toy", n_concepts=2, seed=1)
    assert build_toy(tmp_path / "toy", n_concepts=2, seed=1, replace=True) == load_dataset(tmp_path / "toy").fingerprint
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "x").write_text("x")
    with pytest.raises(OutputFolderError, match="not an hwr-bench dataset"):
        build_toy(mine, n_concepts=2, replace=True)

    from bench.core.cache import default_dataset_path

    monkeypatch.setenv("HWR_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HWR_BENCH_DATA", raising=False)
    default = default_dataset_path("toy", 0)
    build_toy(default, n_concepts=2)
    assert build_toy(default, n_concepts=2, seed=1) == load_dataset(default).fingerprint   # no replace needed


# -- the documented table format ------------------------------------------------------------------

def test_documented_example_imports_and_help_names_every_column(tmp_path):
    src = tmp_path / "src"
    (src / "img").mkdir(parents=True)
    (src / "metadata.csv").write_text(TABLE_EXAMPLE + "\n")
    assert len(TABLE_EXAMPLE.splitlines()) == 3
    for line in TABLE_EXAMPLE.splitlines()[1:]:
        (src / line.split(",")[0]).write_bytes(png())
    _import(src, tmp_path / "out")
    ds = load_dataset(tmp_path / "out")
    assert sorted(s.style for s in ds.samples) == ["writer-01", "writer-02"]
    assert "\n" not in TABLE_COLUMNS_HELP
    for column in TABLE_COLUMNS:
        for name in column.names:
            assert name in TABLE_COLUMNS_HELP


# -- through the CLI ------------------------------------------------------------------------------

def test_cli_lists_all_faults_under_one_error_and_refuses_a_foreign_out(tmp_path):
    src = _folder(tmp_path / "src", ROWS, bad={"a.png", "c.png"})
    proc = bench("data", "import", "table", str(src), "--out", str(tmp_path / "out"), cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("error: ") and "2 of 5 rows cannot be imported" in lines[0]
    assert sum(l.startswith("error:") for l in lines) == 1 and "Traceback" not in proc.stderr
    assert [l.split(":")[0].strip() for l in lines[1:]] == ["row 1 (metadata.csv line 2)",
                                                          "row 3 (metadata.csv line 4)"]
    assert "img/a.png" in lines[1] and "img/c.png" in lines[2] and "object at 0x" not in proc.stderr

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    (src / "img" / "a.png").write_bytes(png())
    (src / "img" / "c.png").write_bytes(png())
    line = _error_line(bench("data", "import", "table", str(src), "--out", str(mine), cwd=tmp_path, check=False))
    assert "not an hwr-bench dataset" in line and (mine / "notes.txt").read_text() == "keep me"
    line = _error_line(bench("data", "import", "table", str(src), "--out", str(src / "out"), cwd=tmp_path,
                             check=False))
    assert "inside the source" in line and not (src / "out").exists()
