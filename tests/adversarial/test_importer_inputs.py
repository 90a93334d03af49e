"""Hostile inputs to `bench data import` (issue #27 item 6, importer bounds), as a corpus.

Each ``Case`` is one line of ``CORPUS``: a name, a function that builds the source in a
temporary folder and returns the path to import, and what must come of the import: ``expect``,
a substring of the error it raises (one ``HwrBenchError``, never a Python exception or a Pillow
warning; a per-row fault under ``ImportFaultsError`` or a one-line whole-source error), or
``None`` when it must import (then the one sample's text is "zebra"). Add a case by adding a
line; ``reader`` picks ``read_table`` (default) or ``read_iam``, ``allow_outside`` passes that
option. Every source is tiny: the "huge" files are sparse and the "huge" images are PNG
headers claiming large dimensions, with no pixel data behind them.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from bench.data import importers
from bench.data.store import load_dataset
from bench.core.errors import HwrBenchError

from helpers import png
from test_cli import bench

CSV_HEADER = "file_name,text,lang"


def png_header(width: int, height: int) -> bytes:
    """A PNG claiming ``width`` x ``height`` 8-bit grey pixels, with (almost) no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))


def sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with open(path, "wb") as fh:
            fh.truncate(size)   # no blocks written
    return make


def symlink(target: str) -> Callable[[Path], None]:
    """A symlink to ``target``, relative to the temporary folder (the source is its ``src/``)."""
    def make(path: Path) -> None:
        path.symlink_to(next(p for p in path.parents if p.name == "src").parent / target)
    return make


def folder(meta: str | bytes, files: dict | None = None, name: str = "metadata.csv",
           outside: dict | None = None) -> Callable[[Path], Path]:
    """``tmp/src`` with ``name`` holding ``meta`` and ``files`` (default a.png); ``outside``:
    files in ``tmp`` beside the source. A file's value is its bytes, or a function making it.
    ``{tmp}`` in ``meta`` is the temporary folder."""

    def build(tmp: Path) -> Path:
        src = tmp / "src"
        src.mkdir()
        for base, entries in ((tmp, outside or {}), (src, {"a.png": png()} if files is None else files)):
            for rel, data in entries.items():
                path = base / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                data(path) if callable(data) else path.write_bytes(data)
        text = meta.replace("{tmp}", str(tmp)) if isinstance(meta, str) else meta
        (src / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return src

    return build


def csv_rows(*rows: str, header: str = CSV_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def jsonl(*rows: dict | str) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n"


def iam(link_words_outside: bool) -> Callable[[Path], Path]:
    """An IAM folder with one word; its words/a01 folder a symlink to one outside when asked."""

    def build(tmp: Path) -> Path:
        src = tmp / "src"
        src.mkdir()
        (src / "words.txt").write_text("a01-000u-00-00 ok 154 408 768 27 51 NN zebra\n")
        home = (tmp / "elsewhere") if link_words_outside else (src / "words" / "a01")
        (home / "a01-000u").mkdir(parents=True)
        (home / "a01-000u" / "a01-000u-00-00.png").write_bytes(png())
        if link_words_outside:
            (src / "words").mkdir()
            (src / "words" / "a01").symlink_to(home)
        return src

    return build


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Path]
    expect: str | None            # a substring of the error; None: imports, one sample "zebra"
    reader: str = "read_table"
    allow_outside: bool = False


OUTSIDE = "outside the source folder"
ZEBRA = {"file_name": "a.png", "text": "zebra", "lang": "en"}

CORPUS: list[Case] = [
    # -- image files outside the source folder -------------------------------------------------
    Case("parent-relative path", folder(csv_rows("../outside.png,zebra,en"), outside={"outside.png": png()}),
         f"../outside.png: {OUTSIDE}; images are read only from inside it unless --allow-outside-source"),
    Case("absolute path outside", folder(csv_rows("{tmp}/outside.png,zebra,en"), outside={"outside.png": png()}),
         OUTSIDE),
    Case("symlinked file pointing outside",
         folder(csv_rows("a.png,zebra,en"), files={"a.png": symlink("outside.png")}, outside={"outside.png": png()}),
         f"a.png: {OUTSIDE} (it resolves to "),
    Case("symlinked folder pointing outside",
         folder(csv_rows("img/a.png,zebra,en"), files={"img": symlink("elsewhere")},
                outside={"elsewhere/a.png": png()}),
         f"img/a.png: {OUTSIDE} (it resolves to "),
    Case("missing file outside says outside, not missing", folder(csv_rows("../../etc/nothing-here.png,zebra,en")),
         OUTSIDE),
    Case("IAM words folder symlinked outside", iam(link_words_outside=True),
         f"words.txt line 1: words/a01/a01-000u/a01-000u-00-00.png: {OUTSIDE} (it resolves to ", reader="read_iam"),
    Case("parent-relative path with allow_outside", folder(csv_rows("../outside.png,zebra,en"),
                                                           outside={"outside.png": png()}),
         None, allow_outside=True),
    Case("absolute path inside the source", folder(csv_rows("{tmp}/src/a.png,zebra,en")), None),
    Case("symlink to a file inside the source", folder(csv_rows("b.png,zebra,en"),
                                                       files={"a.png": png(), "b.png": symlink("src/a.png")}), None),
    # -- files that are not plain files, or too large ------------------------------------------
    Case("folder as image", folder(csv_rows("img,zebra,en"), files={"img/x.txt": b"x"}),
         "img: not a regular file (a folder)"),
    Case("named pipe as image (reading one blocks forever)",
         folder(csv_rows("pipe.png,zebra,en"), files={"pipe.png": os.mkfifo}),
         "pipe.png: not a regular file (a named pipe)"),
    Case("NUL in the image path", folder(jsonl({**ZEBRA, "file_name": "a\u0000.png"}), name="metadata.jsonl"),
         "the path holds a NUL character"),
    Case("image file over the byte cap (sparse)", folder(csv_rows("big.png,zebra,en"),
                                                        files={"big.png": sparse(65 * 2**20)}),
         "big.png: image file is 68,157,440 bytes (65 MiB), over the limit of 64 MiB per image"),
    Case("PNG claiming 4001 x 4000 px", folder(csv_rows("a.png,zebra,en"), files={"a.png": png_header(4001, 4000)}),
         "a.png: image is 4001 x 4000 = 16,004,000 pixels, over the limit of 16,000,000 per image"),
    Case("PNG claiming 13000 x 13000 px (Pillow only warns)",
         folder(csv_rows("a.png,zebra,en"), files={"a.png": png_header(13000, 13000)}),
         "a.png: image is 13000 x 13000 = 169,000,000 pixels, over the limit of 16,000,000 per image"),
    Case("PNG claiming 20000 x 20000 px (Pillow's bomb error)",
         folder(csv_rows("a.png,zebra,en"), files={"a.png": png_header(20000, 20000)}),
         "a.png: image is 400,000,000 pixels, over the limit of 16,000,000 per image"),
    # -- encodings and delimiters -----------------------------------------------------------------
    Case("Latin-1 metadata.csv", folder(csv_rows("a.png,zebra,en", "a.png,caña,es").encode("latin-1")),
         "metadata.csv: not UTF-8 text (line 3, byte 0xf1); save it as UTF-8"),
    Case("Latin-1 metadata.jsonl", folder(jsonl(ZEBRA, {**ZEBRA, "text": "caña"}).encode("latin-1"),
                                          name="metadata.jsonl"),
         "metadata.jsonl: not UTF-8 text (line 2, byte 0xf1)"),
    Case("byte-order mark", folder(b"\xef\xbb\xbf" + csv_rows("a.png,zebra,en").encode()), None),
    Case("semicolon-separated", folder(csv_rows("a.png;zebra;en", header="file_name;text;lang")), None),
    Case("tab-separated", folder(csv_rows("a.png\tzebra\ten", header="file_name\ttext\tlang")), None),
    Case("byte-order mark and semicolons",
         folder(b"\xef\xbb\xbf" + csv_rows("a.png;zebra;en", header="file_name;text;lang").encode()), None),
    Case("semicolon-separated without a required column",
         folder(csv_rows("a.png;zebra", header="file_name;text")), "no 'lang' column (columns: file_name, text)"),
    Case("CSV field over csv's 128 KiB limit", folder(csv_rows("a.png,zebra,en", "a.png," + "x" * 200_000 + ",en")),
         "metadata.csv: line 3: not readable as CSV (field larger than field limit"),
    # -- field values ---------------------------------------------------------------------------
    Case("semantic_id with 25 digits", folder(csv_rows("a.png,zebra,en,1234567890123456789012345",
                                                       header=CSV_HEADER + ",semantic_id")),
         "field 'semantic_id': '1234567890123456789012345' is over the limit of 2147483647"),
    Case("semantic_id with 5000 digits (over Python's int parsing limit)",
         folder(csv_rows("a.png,zebra,en," + "9" * 5000, header=CSV_HEADER + ",semantic_id")),
         "(5000 characters) is over the limit of 2147483647"),
    Case("semantic_id a 5000-digit JSON number",
         folder(jsonl('{"file_name": "a.png", "text": "zebra", "lang": "en", "semantic_id": ' + "9" * 5000 + "}"),
                name="metadata.jsonl"),
         "(5000 characters) is over the limit of 2147483647"),
    Case("semantic_id 1e30", folder(jsonl({**ZEBRA, "semantic_id": 1e30}), name="metadata.jsonl"),
         "field 'semantic_id': '1e+30' is over the limit of 2147483647"),
    Case("JSON nested 100000 deep", folder(jsonl("[" * 100_000), name="metadata.jsonl"),
         "row 1 (metadata.jsonl line 1): not valid JSON (nested too deeply)"),
    Case("lone surrogate in the text", folder(jsonl('{"file_name": "a.png", "text": "\\ud800", "lang": "en"}'),
                                              name="metadata.jsonl"),
         "field 'text': not valid Unicode (a lone surrogate U+D800)"),
    Case("text given as a list", folder(jsonl({**ZEBRA, "text": ["zebra"]}), name="metadata.jsonl"),
         "field 'text': must be text, got a list"),
    Case("NUL in the text", folder(csv_rows("a.png,zeb\x00ra,en")), "field 'text': holds a control character (U+0000)"),
    Case("newline in a quoted text", folder(csv_rows('a.png,"zeb\nra",en')),
         "field 'text': holds a control character (U+000A)"),
]


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_hostile_input(case: Case, tmp_path):
    from PIL import Image

    src = case.build(tmp_path)
    out = tmp_path / "out"
    read = getattr(importers, case.reader)
    options = {"allow_outside": True} if case.allow_outside else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if case.expect is None:
            importers.import_samples(read(src, **options), out, "t", lexicon_mode="own")
            assert [s.text for s in load_dataset(out).samples] == ["zebra"]
        else:
            with pytest.raises(HwrBenchError) as info:
                importers.import_samples(read(src, **options), out, "t", lexicon_mode="own")
            message = str(info.value)
            assert case.expect in message, message
            assert not out.exists()
            lines = message.splitlines()
            if isinstance(info.value, importers.ImportFaultsError):
                assert len(lines) == 2 and case.expect in lines[1]   # one row, one fault
            else:
                assert len(lines) == 1
            assert all(len(line) < 400 for line in lines) and "object at 0x" not in message
    leaked = [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)
              or "PIL" in str(w.filename)]
    assert not leaked, [str(w.message) for w in leaked]


def test_cli_prints_a_dropped_word_with_rich_markup_literally(tmp_path):
    """A word not in the lexicon that looks like rich markup is listed as written, not parsed."""
    src = folder(csv_rows("a.png,zebra,en", "b.png,[/bold],en"), files={"a.png": png(), "b.png": png(41)})(tmp_path)
    proc = bench("data", "import", "table", str(src), "--out", str(tmp_path / "out"), cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "dropped 1 not in the lexicon (e.g. en:[/bold])" in proc.stdout, proc.stdout
