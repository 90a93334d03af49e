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

Bounds on what a source may make the importer do (each a per-row fault naming the file):

* an image file must resolve, symlinks followed, inside the source folder, unless the
  reader is given ``allow_outside=True`` (the CLI's ``--allow-outside-source``);
* an image file must be a regular file of at most ``MAX_IMAGE_BYTES`` (checked with stat,
  before reading) and an image at most ``MAX_IMAGE_PIXELS`` (read from its header, before
  decoding);
* 16-bit images are scaled to 8 bits and transparent ones composited onto white before they
  become grey, so neither turns into a blank page;
* ``semantic_id`` is an integer from 0 to ``MAX_SEMANTIC_ID``; text fields are text without
  control characters. metadata.csv may be separated by ``,``, ``;`` or tabs and may start with
  a byte-order mark; a file that is not UTF-8 is refused naming its first bad line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import struct
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from bench.core.errors import DatasetError
from bench.core.text import normalise_text
from bench.data.lexicon import load_lexicon
from bench.data.schema import LANGUAGES, SPLITS, LexiconEntry
from bench.data.store import SampleRecord, check_output, decode_failure, without_reprs, write_dataset


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

# Bounds on one image. A handwritten word or line scanned at 300 dpi is well under 1 Mpx and a
# whole A4 page at 300 dpi is 8.7 Mpx; 16 Mpx admits both (and a 16 Mpx phone photo) while
# refusing the poster-sized scans that made `bench run` hold gigabytes: every image is decoded
# and kept in memory during a run (a 169 Mpx PNG is 169 MB as grey, 676 MB as RGBA while
# converted). The byte cap is checked with stat before a file is read, the pixel cap from the
# image header before it is decoded.
MAX_IMAGE_BYTES = 64 * 2**20
MAX_IMAGE_PIXELS = 16_000_000
# Concept ids index a lexicon of a few thousand words; the bound keeps them in every integer
# type downstream (Parquet int64, 32-bit indices) and refuses a mistyped 25-digit id in one line.
MAX_SEMANTIC_ID = 2**31 - 1
ALLOW_OUTSIDE_FLAG = "--allow-outside-source"   # how messages name ``allow_outside=True``


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


def _size(n: int) -> str:
    value, unit = (n / 2**30, "GiB") if n >= 2**30 else (n / 2**20, "MiB")
    return f"{value:.1f}".rstrip("0").rstrip(".") + f" {unit}"


def _too_large(what: str, n: int) -> _ImageFault:
    return _ImageFault(f"{what} is {n:,} bytes ({_size(n)}), over the limit of {_size(MAX_IMAGE_BYTES)} per image")


def _too_many_pixels(pixels: int, size: tuple[int, int] | None = None) -> _ImageFault:
    dims = f"{size[0]} x {size[1]} = " if size else ""
    return _ImageFault(f"image is {dims}{pixels:,} pixels, over the limit of {MAX_IMAGE_PIXELS:,} per image")


def _to_grey(im):
    """``im`` as 8-bit grey ("L"): 16/32-bit grey scaled to 8 bits, transparency onto white.

    Pillow's own ``convert("L")`` clips 16-bit values (a 16-bit scan turns white) and drops alpha
    (transparent ink on a transparent page turns black).
    """
    from PIL import Image

    if im.mode == "I" or im.mode.startswith("I;16"):
        import numpy as np

        values = np.asarray(im).astype(np.int32)   # 65535 * 255 fits
        grey = Image.fromarray(((np.clip(values, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8), "L")
        transparent = im.info.get("transparency")   # a 16-bit grey PNG's tRNS: one value
        if isinstance(transparent, int) and not isinstance(transparent, bool):
            grey.paste(255, mask=Image.fromarray(((values == transparent) * 255).astype(np.uint8), "L"))
        return grey
    if im.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")   # applies a palette's or a tRNS chunk's transparency too
        return Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), rgba).convert("L")
    return im.convert("L")


def _decode_png(data: bytes) -> bytes:
    """The image re-encoded as greyscale PNG; raises _ImageFault saying why it cannot be.

    The pixel count is read from the header (Pillow opens lazily) and checked before decoding;
    Pillow's own decompression-bomb warning and error become this fault, never a warning.
    """
    from PIL import Image

    if not data:
        raise _ImageFault("cannot decode image (the file is empty)")
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_large("image", len(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # checked below, by our bound
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise _too_many_pixels(width * height, (width, height))
                im.load()
                grey = _to_grey(im)
    except _ImageFault:
        raise
    except Image.DecompressionBombError as exc:   # over twice Pillow's limit: raised by open()
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        if pixels:
            raise _too_many_pixels(int(pixels.group(1))) from None
        raise _ImageFault(f"image is over the limit of {MAX_IMAGE_PIXELS:,} pixels per image") from None
    except Exception as exc:  # Pillow raises many types for truncated or broken data
        raise _ImageFault(f"cannot decode image ({decode_failure(exc)})") from None
    buf = io.BytesIO()
    grey.save(buf, format="PNG")
    return buf.getvalue()


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "not a plain file"


def _read_image_file(path: Path, base: Path | None = None, allow_outside: bool = False) -> bytes:
    """The bytes of an image file; raises _ImageFault saying why they cannot be read.

    With ``base`` (the source folder) the file must resolve inside it, symlinks followed, unless
    ``allow_outside``. It must be a regular file of at most ``MAX_IMAGE_BYTES``, checked before
    it is opened (a pipe or device is never opened; a 2 GiB file is never read).
    """
    if "\x00" in str(path):
        raise _ImageFault("the path holds a NUL character")
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:   # RuntimeError: a symlink loop (Python < 3.13)
        raise _ImageFault(f"cannot resolve the path ({getattr(exc, 'strerror', None) or 'symlink loop?'})") from None
    if base is not None and not allow_outside:
        root = base.resolve()
        if real != root and root not in real.parents:
            how = f" (it resolves to {real})" if real != Path(os.path.abspath(path)) else ""
            raise _ImageFault(f"outside the source folder{how}; images are read only from inside it "
                              f"unless {ALLOW_OUTSIDE_FLAG} is given")
    try:
        info = real.stat()
    except FileNotFoundError:
        raise _ImageFault("missing image file") from None
    except OSError as exc:
        raise _ImageFault(f"cannot read image file ({exc.strerror or type(exc).__name__})") from None
    if not stat.S_ISREG(info.st_mode):
        raise _ImageFault(f"not a regular file ({_file_kind(info.st_mode)})")
    if info.st_size > MAX_IMAGE_BYTES:
        raise _too_large("image file", info.st_size)
    try:
        with open(real, "rb") as fh:
            data = fh.read(MAX_IMAGE_BYTES + 1)   # bounded even if the file grew since stat
    except OSError as exc:
        raise _ImageFault(f"cannot read image file ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise _ImageFault(f"image file is over the limit of {_size(MAX_IMAGE_BYTES)} per image (it grew while read)")
    return data


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

def read_iam(root: Path, split: str = "test_ood", *, allow_outside: bool = False) -> Iterator[RawSample]:
    """IAM words: ``root/words.txt`` and ``root/words/<a01>/<a01-000u>/<id>.png``.

    An image that resolves outside ``root`` (a word id with ``../``, a symlink) is a fault unless
    ``allow_outside``.
    """
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
            png = _decode_png(_read_image_file(path, root, allow_outside))
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
                "the image file, a path inside the source folder (outside it only with --allow-outside-source), "
                "or in Parquet and datasets "
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
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")   # -sig: a spreadsheet's byte-order mark
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DatasetError(path, f"not UTF-8 text (line {line}, byte 0x{data[exc.start]:02x}); save it as "
                           "UTF-8 (a spreadsheet's \"CSV UTF-8\")") from None


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


CSV_DELIMITERS = (",", ";", "\t")


def _has_required(columns) -> bool:
    return all(any(n in columns for n in c.names) for c in TABLE_COLUMNS if c.required)


def _csv_delimiter(text: str) -> str:
    """The delimiter of ``CSV_DELIMITERS`` whose split of the header names the required columns.

    A spreadsheet saved in a locale with a decimal comma writes ``;``; a header decides, not a
    guess over the data (csv.Sniffer picks a letter when the rows are few). With none, the one
    splitting the header most, so the missing-column error lists the columns as the file has them.
    """
    header = text.split("\n", 1)[0]
    splits = {d: [f.strip() for f in next(csv.reader([header], delimiter=d), [])] for d in CSV_DELIMITERS}
    return next((d for d, cols in splits.items() if _has_required(cols)),
                max(CSV_DELIMITERS, key=lambda d: len(splits[d])))


def _csv_rows(meta: Path) -> TableRows:
    text = _read_text(meta)
    fetched = [0]   # lines handed to the csv reader: its line_num lags on an error

    def lines():
        for line in io.StringIO(text, newline=""):
            fetched[0] += 1
            yield line

    reader = csv.DictReader(lines(), delimiter=_csv_delimiter(text))
    try:
        if not reader.fieldnames:
            raise DatasetError(meta, "empty (expected a header line naming the columns)")
        reader.fieldnames = [str(f).strip() for f in reader.fieldnames]
        _require_columns(meta, reader.fieldnames)
        for i, row in enumerate(reader, 1):
            yield f"row {i} ({meta.name} line {reader.line_num})", row, None
    except csv.Error as exc:   # e.g. a field over csv's 128 KiB limit: the rest cannot be split reliably
        raise DatasetError(meta, f"line {fetched[0]}: not readable as CSV ({exc})") from None


_MAX_INT_DIGITS = 30


def _parse_int(digits: str):
    """JSON integers: a long one stays text (Python refuses over 4,300 digits); bounds say why."""
    return int(digits) if len(digits) <= _MAX_INT_DIGITS else digits


def _jsonl_rows(meta: Path) -> TableRows:
    n = 0
    for lineno, line in enumerate(_read_text(meta).split("\n"), 1):   # not splitlines: U+2028 is JSON
        if not line.strip():
            continue
        n += 1
        where = f"row {n} ({meta.name} line {lineno})"
        try:
            row = json.loads(line, parse_int=_parse_int)
        except ValueError as exc:
            yield where, None, f"not valid JSON ({getattr(exc, 'msg', exc)})"
            continue
        except RecursionError:
            yield where, None, "not valid JSON (nested too deeply)"
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
        if "\x00" in value:
            raise _ImageFault("the path holds a NUL character")
        path = Path(value) if Path(value).is_absolute() else base / value
        return _shown(path, base), path
    raise _ImageFault(f"no usable image (a {type(value).__name__} value)")


def _quoted(value, limit: int = 40) -> str:
    """``repr`` of a user's value for a message, cut to ``limit`` characters."""
    text = str(value)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


_TOO_LARGE = -1


def _semantic_id(value) -> int | None:
    """The id of a semantic_id cell; None when it is not a non-negative integer, ``_TOO_LARGE``
    when it is over ``MAX_SEMANTIC_ID``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():   # also inf and nan
            return _TOO_LARGE if value == float("inf") else None
        value = int(value)
    if not isinstance(value, int):
        text = str(value).strip()
        if not (text.isascii() and text.isdigit()):
            return None
        value = int(text) if len(text) <= _MAX_INT_DIGITS else MAX_SEMANTIC_ID + 1
    if value < 0:
        return None
    return value if value <= MAX_SEMANTIC_ID else _TOO_LARGE


def _text_problem(name: str, value) -> str | None:
    """Why a text field's value is not usable text, or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        kind = {list: "a list", dict: "an object", float: "a number", bool: "true/false"}.get(
            type(value), f"a {type(value).__name__}")
        return f"field {name!r}: must be text, got {kind} ({_quoted(value)})"
    if isinstance(value, str):
        for ch in value:
            if 0xD800 <= ord(ch) <= 0xDFFF:
                return f"field {name!r}: not valid Unicode (a lone surrogate U+{ord(ch):04X})"
            if unicodedata.category(ch) == "Cc":
                return f"field {name!r}: holds a control character (U+{ord(ch):04X}) in {_quoted(value)}"
    return None


def _row_field_faults(row: dict, split: str, problems: list[str]) -> tuple[dict, str]:
    """Append the faults of a row's text fields to ``problems``; returns the row (a faulty text
    field blanked, so it is reported once) and the row's split."""
    for col in ("text", "lang", "split", "style", "key"):
        value = _cell(row, col)
        bad = _text_problem(col, value) if value is not None else None
        if bad:
            problems.append(bad)
            row = {**row, col: None}
        elif col in ("text", "lang") and _cell(row, col) is None:
            problems.append(f"field {col!r}: missing or empty")
    lang = _cell(row, "lang")
    if lang is not None and str(lang) not in LANGUAGES:
        problems.append(f"field 'lang': unknown language {_quoted(lang)} (expected one of {', '.join(LANGUAGES)})")
    row_split = str(_cell(row, "split") or split)
    if row_split not in SPLITS:
        problems.append(f"field 'split': unknown split {_quoted(row_split)} (expected one of {', '.join(SPLITS)})")
    sid = _cell(row, "semantic_id")
    if sid is not None and _semantic_id(sid) is None:
        problems.append(f"field 'semantic_id': must be a non-negative integer, got {_quoted(sid)}")
    elif sid is not None and _semantic_id(sid) == _TOO_LARGE:
        problems.append(f"field 'semantic_id': {_quoted(sid)} is over the limit of {MAX_SEMANTIC_ID}")
    return row, row_split


def read_table(source: Path, split: str = "test_ood", *, allow_outside: bool = False) -> Iterator[RawSample]:
    """Samples of a table (see ``TABLE_COLUMNS``); every faulty row is found before raising.

    A row with a fault (a missing or undecodable image, an unknown language, an image file
    outside the source folder without ``allow_outside``, ...) is not yielded; after the last row
    one ``ImportFaultsError`` lists them all, so an import either takes every row or writes nothing.
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
            row, row_split = _row_field_faults(row, split, problems)
            text, lang, sid = _cell(row, "text"), _cell(row, "lang"), _cell(row, "semantic_id")
            key = str(_cell(row, "key") or f"row-{n_rows - 1:07d}")
            if key in first_row_of_key:
                problems.append(f"field 'key': duplicate key {_quoted(key)} (also {first_row_of_key[key]})")
            first_row_of_key.setdefault(key, where.split(" (")[0])
            column = next((c for c in IMAGE_COLUMNS if _cell(row, c) is not None), None)
            if column is None:
                problems.append(f"field {IMAGE_COLUMNS[0]!r}: no image (no {' / '.join(IMAGE_COLUMNS)} "
                                "value)")
            else:
                label = f"field {column!r}"
                try:
                    label, data = _image_data(row[column], base)
                    png = _decode_png(_read_image_file(data, base, allow_outside) if isinstance(data, Path)
                                      else data)
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
