"""Real handwriting sets into the hwr-bench schema.

* IAM words: ``words.txt`` plus the ``words/`` image tree (English); a writer
  per form when ``forms.txt`` is beside it.
* CASIA-HWDB offline isolated characters: ``.gnt`` files (one writer per
  file, GB2312 labels); characters of one writer can be composed into the
  lexicon's Chinese words.
* Any table with the columns of ``TABLE_COLUMNS`` (image file, text, lang;
  optionally semantic_id, split, style, key): a ``datasets`` folder saved with
  ``save_to_disk``, Parquet, or a local image folder with a ``metadata.csv`` /
  ``metadata.jsonl``. ``TABLE_COLUMNS_HELP`` and ``TABLE_EXAMPLE`` are the
  user-facing description (CLI help, README).

A set without semantic ids is joined to the lexicon by its text per language
(``lexicon="join"``; words not in the lexicon are dropped and counted) or gets
a lexicon of its own vocabulary (``lexicon="own"``, within-language protocols
only). Every image is decoded and re-encoded as greyscale PNG on import, so a
bad file is reported here and never reaches a run: a table or IAM import reads
every row, then raises one ``ImportFaultsError`` naming each faulty row (1-based,
with its line in metadata.csv/jsonl or words.txt) and file, and writes nothing.
The output folder is checked before anything is read (``store.check_output``).
"""

from __future__ import annotations

import csv
import io
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from bench.data.lexicon import load_lexicon
from bench.data.store import SampleRecord, check_output, decode_failure, without_reprs, write_dataset
from bench.errors import DatasetError
from bench.schema import LANGUAGES, SPLITS, LexiconEntry
from bench.text import normalise_text


@dataclass(frozen=True)
class RawSample:
    """A sample as read from a source, before the lexicon join."""

    key: str
    image_bytes: bytes
    text: str
    lang: str
    style: str
    split: str
    semantic_id: int | None = None
    origin: str = ""       # file (and row) it came from, for error messages


@dataclass
class ImportReport:
    kept: int = 0
    dropped_not_in_lexicon: int = 0
    dropped_examples: list[str] = field(default_factory=list)
    fingerprint: str = ""


MAX_LISTED_FAULTS = 20


class ImportFaultsError(DatasetError):
    """Rows of a source that cannot be imported, all of them, found in one pass.

    The first line of the message gives the count; one line per fault follows (at most
    ``MAX_LISTED_FAULTS``, then "and N more"). Nothing is written when this is raised.
    """

    def __init__(self, source, faults: list[str], n_faulty: int, n_total: int, unit: str = "rows",
                 note: str = ""):
        self.faults = list(faults)
        self.n_faulty = n_faulty
        self.n_total = n_total
        lines = [f"  {f}" for f in faults[:MAX_LISTED_FAULTS]]
        if len(faults) > MAX_LISTED_FAULTS:
            lines.append(f"  and {len(faults) - MAX_LISTED_FAULTS} more")
        note = f" ({note})" if note else ""
        super().__init__(source, f"{n_faulty} of {n_total} {unit} cannot be imported{note}, nothing "
                         "was written:\n" + "\n".join(lines))


class _ImageFault(Exception):
    """An image that cannot be read or decoded; the message is for the user, no Python reprs."""


def _decode_png(data: bytes) -> bytes:
    """The image re-encoded as greyscale PNG; raises _ImageFault saying why it cannot be."""
    from PIL import Image

    if not data:
        raise _ImageFault("cannot decode image (the file is empty)")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            grey = im.convert("L")
    except Exception as exc:  # Pillow raises many types for truncated or broken data
        raise _ImageFault(f"cannot decode image ({decode_failure(exc)})") from None
    buf = io.BytesIO()
    grey.save(buf, format="PNG")
    return buf.getvalue()


def _read_image_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _ImageFault("missing image file") from None
    except OSError as exc:
        raise _ImageFault(f"cannot read image file ({exc.strerror or type(exc).__name__})") from None


def _shown(path: Path, base: Path) -> str:
    """``path`` relative to the source folder when inside it, else as it is."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _check_split_arg(split: str) -> None:
    if split not in SPLITS:
        raise DatasetError("--split", f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")


# -- IAM -----------------------------------------------------------------------------------

def read_iam(root: Path, split: str = "test_ood") -> Iterator[RawSample]:
    """IAM words: ``root/words.txt`` and ``root/words/<a01>/<a01-000u>/<id>.png``."""
    root = Path(root)
    words = root / "words.txt"
    if not words.is_file():
        raise DatasetError(words, "missing (expected the IAM words.txt in the folder)")
    writers = {}
    forms = root / "forms.txt"
    if forms.is_file():
        for line in forms.read_text(encoding="utf-8", errors="replace").splitlines():
            if line and not line.startswith("#"):
                parts = line.split()
                if len(parts) > 1:
                    writers[parts[0]] = parts[1]
    _check_split_arg(split)
    faults: list[str] = []
    n_words = 0
    for lineno, line in enumerate(words.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(" ")
        if len(parts) < 9:
            raise DatasetError(words, f"line {lineno}: expected at least 9 fields, got {len(parts)}")
        word_id, status, text = parts[0], parts[1], " ".join(parts[8:])
        if status != "ok":
            continue  # IAM marks words whose segmentation failed as "err"
        n_words += 1
        form = "-".join(word_id.split("-")[:2])
        path = root / "words" / form.split("-")[0] / form / f"{word_id}.png"
        try:
            png = _decode_png(_read_image_file(path))
        except _ImageFault as fault:
            faults.append(f"words.txt line {lineno}: {_shown(path, root)}: {fault}")
            continue
        style = f"iam-writer-{writers[form]}" if form in writers else f"iam-form-{form}"
        yield RawSample(f"iam-{word_id}", png, text, "en", style, split, origin=f"{words}:{lineno}")
    if faults:
        raise ImportFaultsError(root, faults, len(faults), n_words, "words")


# -- CASIA-HWDB -----------------------------------------------------------------------------

def read_gnt(path: Path) -> Iterator[tuple[str, int, int, bytes]]:
    """(label, width, height, 8-bit bitmap) records of one HWDB ``.gnt`` file."""
    data = Path(path).read_bytes()
    offset, index = 0, 0
    while offset < len(data):
        if offset + 10 > len(data):
            raise DatasetError(path, f"record {index}: truncated header at byte {offset}")
        size, = struct.unpack_from("<I", data, offset)
        try:
            label = data[offset + 4:offset + 6].decode("gb2312")
        except UnicodeDecodeError:
            raise DatasetError(path, f"record {index}: tag code {data[offset + 4:offset + 6].hex()} "
                               "is not GB2312", field="tag_code") from None
        width, height = struct.unpack_from("<HH", data, offset + 6)
        if size != 10 + width * height or offset + size > len(data):
            raise DatasetError(path, f"record {index}: size {size} does not match {width}x{height} bitmap "
                               "or runs past the end of the file", field="sample_size")
        yield label.strip("\x00"), width, height, data[offset + 10:offset + size]
        offset += size
        index += 1


def _bitmap_png(width: int, height: int, bitmap: bytes) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("L", (width, height), bitmap).save(buf, format="PNG")
    return buf.getvalue()


def _compose(images: list[bytes], gap: int = 4) -> bytes:
    """Characters of one writer side by side on a white line, centred vertically."""
    from PIL import Image

    chars = [Image.open(io.BytesIO(b)).convert("L") for b in images]
    height = max(c.height for c in chars)
    line = Image.new("L", (sum(c.width for c in chars) + gap * (len(chars) - 1), height), 255)
    x = 0
    for c in chars:
        line.paste(c, (x, (height - c.height) // 2))
        x += c.width + gap
    buf = io.BytesIO()
    line.save(buf, format="PNG")
    return buf.getvalue()


def read_hwdb(root: Path, split: str = "test_ood", compose_words: bool = True) -> Iterator[RawSample]:
    """CASIA-HWDB isolated characters from every ``*.gnt`` below ``root`` (one writer per file).

    With ``compose_words`` each Chinese lexicon word whose characters a writer
    has all written becomes one sample (that writer's first sample of each
    character); the single characters are yielded too.
    """
    _check_split_arg(split)
    files = sorted(Path(root).rglob("*.gnt")) if Path(root).is_dir() else [Path(root)]
    if not files:
        raise DatasetError(root, "no .gnt files found")
    words = [e.text for e in load_lexicon() if e.lang == "zh"] if compose_words else []
    for gnt in files:
        writer = gnt.stem
        first: dict[str, bytes] = {}
        for i, (label, w, h, bitmap) in enumerate(read_gnt(gnt)):
            png = _bitmap_png(w, h, bitmap)
            first.setdefault(label, png)
            yield RawSample(f"hwdb-{writer}-{i:05d}", png, label, "zh", f"hwdb-writer-{writer}", split,
                            origin=f"{gnt}: record {i}")
        for word in words:
            if len(word) > 1 and all(ch in first for ch in word):
                yield RawSample(f"hwdb-{writer}-word-{word}", _compose([first[ch] for ch in word]), word,
                                "zh", f"hwdb-writer-{writer}", split, origin=f"{gnt}: composed {word!r}")


# -- generic tables --------------------------------------------------------------------------

@dataclass(frozen=True)
class TableColumn:
    """A column of a table import: the names it is accepted under (first found wins)."""

    names: tuple[str, ...]
    required: bool
    meaning: str


# The one description of what `bench data import table` reads; the help texts are made from it.
TABLE_COLUMNS: tuple[TableColumn, ...] = (
    TableColumn(("image", "file_name", "path"), True,
                "the image file, relative to the source folder or absolute, or in Parquet and datasets "
                "folders the image itself"),
    TableColumn(("text",), True, "the word as written"),
    TableColumn(("lang",), True, f"{', '.join(LANGUAGES[:-1])} or {LANGUAGES[-1]}"),
    TableColumn(("semantic_id",), False,
                "a concept id shared by the word's translations, else the text is joined to the "
                "hwr-bench lexicon with --lexicon join or numbered with --lexicon own"),
    TableColumn(("split",), False, f"{', '.join(SPLITS[:-1])} or {SPLITS[-1]}, default --split"),
    TableColumn(("style",), False, "the writer or style, for per-style results, default unknown"),
    TableColumn(("key",), False, "a unique sample id, default row-NNNNNNN counted from 0"),
)
IMAGE_COLUMNS = TABLE_COLUMNS[0].names


def _column_help(c: TableColumn) -> str:
    names = c.names[0] if len(c.names) == 1 else f"{', '.join(c.names[:-1])} or {c.names[-1]}"
    return f"{names} ({c.meaning})"


TABLE_COLUMNS_HELP = (
    "A table is a folder of images with a metadata.csv or metadata.jsonl (a row per image), a "
    "Parquet file or folder, or a datasets save_to_disk folder. Required columns: "
    + "; ".join(_column_help(c) for c in TABLE_COLUMNS if c.required)
    + ". Optional: " + "; ".join(_column_help(c) for c in TABLE_COLUMNS if not c.required)
    + ". Other columns are ignored."
)

TABLE_EXAMPLE = """\
file_name,text,lang,style
img/0001.png,carrot,en,writer-01
img/0002.png,zanahoria,es,writer-02"""


def _require_columns(path: Path, columns) -> None:
    columns = list(columns)
    for c in TABLE_COLUMNS:
        if c.required and not any(n in columns for n in c.names):
            wanted = " or ".join(repr(n) for n in c.names)
            raise DatasetError(path, f"no {wanted} column (columns: {', '.join(map(str, columns)) or 'none'}); "
                               f"required: {', '.join(c.names[0] for c in TABLE_COLUMNS if c.required)}")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")   # -sig: a spreadsheet's byte-order mark
    except UnicodeDecodeError as exc:
        raise DatasetError(path, f"not UTF-8 text (byte {exc.start})") from None


# (where, row, problem): ``where`` names the row for messages ("row 3 (metadata.csv line 4)",
# rows counted from 1), ``problem`` says why a row could not even be parsed (row is then None).
TableRows = Iterator[tuple[str, "dict | None", "str | None"]]


def _open_table(source: Path) -> tuple[TableRows, Path]:
    if not source.exists():
        raise DatasetError(source, "missing")
    if source.is_dir() and ((source / "dataset_info.json").exists() or (source / "state.json").exists()):
        return _datasets_rows(source), source
    if source.suffix == ".parquet" or (source.is_dir() and any(source.glob("*.parquet"))):
        files = [source] if source.is_file() else sorted(source.glob("*.parquet"))
        return _parquet_rows(files), source if source.is_dir() else source.parent
    if source.is_dir():
        if (source / "metadata.jsonl").is_file():
            return _jsonl_rows(source / "metadata.jsonl"), source
        if (source / "metadata.csv").is_file():
            return _csv_rows(source / "metadata.csv"), source
    raise DatasetError(source, "not a datasets folder, Parquet file or image folder with "
                       "metadata.csv/metadata.jsonl")


def _datasets_rows(source: Path) -> TableRows:
    import datasets

    try:
        table = datasets.load_from_disk(str(source))
    except Exception as exc:
        raise DatasetError(source, f"cannot be read as a datasets folder ({without_reprs(exc)})") from None
    if isinstance(table, datasets.DatasetDict):
        raise DatasetError(source, f"holds several splits ({', '.join(table)}); give the folder of one")
    _require_columns(source, table.column_names)
    for name, feature in table.features.items():
        if isinstance(feature, datasets.Image):   # bytes, not decoded images: a bad one is our fault line
            table = table.cast_column(name, datasets.Image(decode=False))
    for i, row in enumerate(table, 1):
        yield f"row {i}", row, None


def _parquet_rows(files: list[Path]) -> TableRows:
    import pyarrow.parquet as pq

    for f in files:
        try:
            table = pq.read_table(f)
            rows = table.to_pylist()
        except Exception as exc:
            raise DatasetError(f, f"not a readable Parquet file ({without_reprs(exc)})") from None
        _require_columns(f, table.column_names)
        for i, row in enumerate(rows, 1):
            yield (f"row {i}" if len(files) == 1 else f"{f.name} row {i}"), row, None


def _csv_rows(meta: Path) -> TableRows:
    reader = csv.DictReader(io.StringIO(_read_text(meta), newline=""))
    if not reader.fieldnames:
        raise DatasetError(meta, "empty (expected a header line naming the columns)")
    reader.fieldnames = [str(f).strip() for f in reader.fieldnames]
    _require_columns(meta, reader.fieldnames)
    for i, row in enumerate(reader, 1):
        yield f"row {i} ({meta.name} line {reader.line_num})", row, None


def _jsonl_rows(meta: Path) -> TableRows:
    n = 0
    for lineno, line in enumerate(_read_text(meta).split("\n"), 1):   # not splitlines: U+2028 is JSON
        if not line.strip():
            continue
        n += 1
        where = f"row {n} ({meta.name} line {lineno})"
        try:
            row = json.loads(line)
        except ValueError as exc:
            yield where, None, f"not valid JSON ({getattr(exc, 'msg', exc)})"
            continue
        yield (where, row, None) if isinstance(row, dict) else (where, None, "not a JSON object")


def _cell(row: dict, name: str):
    """The value of a column, None when missing, blank or NaN."""
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float)
                                                                           and value != value):
        return None
    return value


def _image_data(value, base: Path) -> tuple[str, "bytes | Path"]:
    """(how the image is named in messages, its bytes or its file) of an image cell."""
    if isinstance(value, dict):
        name = value.get("path")
        if value.get("bytes"):
            return (str(name) if name else "embedded image"), bytes(value["bytes"])
        value = name
    if isinstance(value, (bytes, bytearray)):
        return "embedded image", bytes(value)
    if hasattr(value, "save"):  # a PIL image, as `datasets` decodes Image columns
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return "embedded image", buf.getvalue()
    if isinstance(value, str) and value.strip():
        path = Path(value) if Path(value).is_absolute() else base / value
        return _shown(path, base), path
    raise _ImageFault(f"no usable image (a {type(value).__name__} value)")


def _semantic_id(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() else None


def read_table(source: Path, split: str = "test_ood") -> Iterator[RawSample]:
    """Samples of a table (see ``TABLE_COLUMNS``); every faulty row is found before raising.

    A row with a fault (a missing or undecodable image, an unknown language, ...) is not
    yielded; after the last row one ``ImportFaultsError`` lists them all, so an import either
    takes every row or writes nothing.
    """
    _check_split_arg(split)
    source = Path(source)
    rows, base = _open_table(source)
    faults: list[str] = []
    n_rows = n_faulty = 0
    first_row_of_key: dict[str, str] = {}
    for where, row, problem in rows:
        n_rows += 1
        problems = [problem] if problem else []
        png = None
        if row is not None:
            text, lang = _cell(row, "text"), _cell(row, "lang")
            for col, value in (("text", text), ("lang", lang)):
                if value is None:
                    problems.append(f"field {col!r}: missing or empty")
            if lang is not None and str(lang) not in LANGUAGES:
                problems.append(f"field 'lang': unknown language {str(lang)!r} (expected one of "
                                f"{', '.join(LANGUAGES)})")
            row_split = str(_cell(row, "split") or split)
            if row_split not in SPLITS:
                problems.append(f"field 'split': unknown split {row_split!r} (expected one of "
                                f"{', '.join(SPLITS)})")
            sid = _cell(row, "semantic_id")
            if sid is not None and _semantic_id(sid) is None:
                problems.append(f"field 'semantic_id': must be a non-negative integer, got {str(sid)!r}")
            key = str(_cell(row, "key") or f"row-{n_rows - 1:07d}")
            if key in first_row_of_key:
                problems.append(f"field 'key': duplicate key {key!r} (also {first_row_of_key[key]})")
            first_row_of_key.setdefault(key, where.split(" (")[0])
            column = next((c for c in IMAGE_COLUMNS if _cell(row, c) is not None), None)
            if column is None:
                problems.append(f"field {IMAGE_COLUMNS[0]!r}: no image (no {' / '.join(IMAGE_COLUMNS)} "
                                "value)")
            else:
                label = f"field {column!r}"
                try:
                    label, data = _image_data(row[column], base)
                    png = _decode_png(_read_image_file(data) if isinstance(data, Path) else data)
                except _ImageFault as fault:
                    problems.append(f"{label}: {fault}")
        if problems:
            n_faulty += 1
            faults += [f"{where}: {p}" for p in problems]
            continue
        yield RawSample(key, png, str(text), str(lang), str(_cell(row, "style") or "unknown"), row_split,
                        _semantic_id(sid) if sid is not None else None, f"{source}: {where}")
    if faults:
        raise ImportFaultsError(source, faults, n_faulty, n_rows, note="rows counted from 1")


# -- the join ---------------------------------------------------------------------------------

def import_samples(raw: Iterable[RawSample], out: Path, name: str, *, lexicon_mode: str = "join",
                   builder: dict | None = None, replace: bool = False,
                   source: Path | None = None) -> ImportReport:
    """Attach semantic ids, validate and write a dataset folder.

    ``out`` is checked before ``raw`` is read (the readers are lazy): it must be missing or empty,
    or hold an hwr-bench dataset and ``replace`` be set, and must not be ``source`` or inside it
    (``source`` defaults to ``builder["source"]``, which the CLI records). See ``store.check_output``.
    """
    if lexicon_mode not in ("join", "own"):
        raise DatasetError("--lexicon", f"unknown mode {lexicon_mode!r} (join or own)")
    if source is None and (builder or {}).get("source"):
        source = Path(builder["source"])
    check_output(out, replace=replace, source=source)
    report = ImportReport()
    records: list[SampleRecord] = []
    lexicon: list[LexiconEntry]
    if lexicon_mode == "join":
        lexicon = list(load_lexicon())
        by_text = {(e.lang, normalise_text(e.text)): e for e in lexicon}
        for s in raw:
            _check_fields(s)
            entry = by_text.get((s.lang, normalise_text(s.text)))
            if s.semantic_id is not None:
                records.append(SampleRecord(s.key, s.image_bytes, s.text, s.semantic_id, s.lang, s.style, s.split))
            elif entry is None:
                report.dropped_not_in_lexicon += 1
                if len(report.dropped_examples) < 5:
                    report.dropped_examples.append(f"{s.lang}:{s.text}")
            else:
                records.append(SampleRecord(s.key, s.image_bytes, entry.text, entry.semantic_id, s.lang,
                                            s.style, s.split))
    elif lexicon_mode == "own":
        ids: dict[str, int] = {}
        texts: dict[tuple[str, int], str] = {}
        for s in raw:
            _check_fields(s)
            norm = normalise_text(s.text)
            sid = ids.setdefault(norm, len(ids)) if s.semantic_id is None else s.semantic_id
            texts.setdefault((s.lang, sid), s.text)
            records.append(SampleRecord(s.key, s.image_bytes, texts[(s.lang, sid)], sid, s.lang, s.style, s.split))
        lexicon = [LexiconEntry(sid, lang, text) for (lang, sid), text in sorted(texts.items())]
    else:
        raise DatasetError("--lexicon", f"unknown mode {lexicon_mode!r} (join or own)")
    if not records:
        raise DatasetError(name, f"no sample left after the lexicon join ({report.dropped_not_in_lexicon} "
                           "dropped: not in the lexicon); try --lexicon own")
    report.kept = len(records)
    # In join mode the whole lexicon stays: galleries are the benchmark's full lexicon in every
    # language, whatever subset of words the real set happens to contain.
    info = dict(builder or {})
    info.update({"lexicon": lexicon_mode, "dropped_not_in_lexicon": report.dropped_not_in_lexicon})
    report.fingerprint = write_dataset(out, name, records, lexicon, info, replace=replace)
    return report


def _check_fields(s: RawSample) -> None:
    if s.lang not in LANGUAGES:
        raise DatasetError(s.origin, f"unknown language {s.lang!r} (expected one of {', '.join(LANGUAGES)})",
                           field="lang")
    if s.split not in SPLITS:
        raise DatasetError(s.origin, f"unknown split {s.split!r} (expected one of {', '.join(SPLITS)})",
                           field="split")
    if not s.text.strip():
        raise DatasetError(s.origin, "empty text", field="text")


def table_columns_markdown() -> str:
    """The README's block on the table import (generated from TABLE_COLUMNS; a test keeps it current)."""
    rows = ["| column | required | meaning |", "| --- | --- | --- |"]
    rows += [f"| {' or '.join(f'`{n}`' for n in c.names)} | {'yes' if c.required else 'no'} | {c.meaning} |"
             for c in TABLE_COLUMNS]
    return ("`bench data import table` reads a folder of images with a `metadata.csv` or `metadata.jsonl` "
            "(a row per image), a Parquet file or folder, or a `datasets` save_to_disk folder; other "
            "columns are ignored.\n\n" + "\n".join(rows)
            + "\n\nA three-line `metadata.csv` beside an `img/` folder:\n\n```text\n" + TABLE_EXAMPLE + "\n```")
