"""Real handwriting sets into the hwr-bench schema.

* IAM words: ``words.txt`` plus the ``words/`` image tree (English); a writer
  per form when ``forms.txt`` is beside it.
* CASIA-HWDB offline isolated characters: ``.gnt`` files (one writer per
  file, GB2312 labels); characters of one writer can be composed into the
  lexicon's Chinese words.
* Any table with image/text/lang (and optionally semantic_id, style, split)
  columns: a ``datasets`` folder saved with ``save_to_disk``, Parquet, or a
  local image folder with a ``metadata.csv`` / ``metadata.jsonl``.

A set without semantic ids is joined to the lexicon by its text per language
(``lexicon="join"``; words not in the lexicon are dropped and counted) or gets
a lexicon of its own vocabulary (``lexicon="own"``, within-language protocols
only). Every image is decoded and re-encoded as greyscale PNG on import, so a
bad file is reported here, naming it, and never reaches a run.
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
from bench.data.store import SampleRecord, write_dataset
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


def to_png(data: bytes, origin: str) -> bytes:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            grey = im.convert("L")
    except Exception as exc:
        raise DatasetError(origin, f"cannot decode image ({exc})", field="image") from None
    buf = io.BytesIO()
    grey.save(buf, format="PNG")
    return buf.getvalue()


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
    for lineno, line in enumerate(words.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(" ")
        if len(parts) < 9:
            raise DatasetError(words, f"line {lineno}: expected at least 9 fields, got {len(parts)}")
        word_id, status, text = parts[0], parts[1], " ".join(parts[8:])
        if status != "ok":
            continue  # IAM marks words whose segmentation failed as "err"
        form = "-".join(word_id.split("-")[:2])
        path = root / "words" / form.split("-")[0] / form / f"{word_id}.png"
        if not path.is_file():
            raise DatasetError(path, f"missing (listed in words.txt line {lineno})", field="image")
        style = f"iam-writer-{writers[form]}" if form in writers else f"iam-form-{form}"
        yield RawSample(f"iam-{word_id}", to_png(path.read_bytes(), str(path)), text, "en", style, split,
                        origin=f"{words}:{lineno}")


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

def _image_bytes(value, base: Path, origin: str) -> bytes:
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"])
        value = value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if hasattr(value, "save"):  # a PIL image, as `datasets` decodes Image columns
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return buf.getvalue()
    if isinstance(value, str) and value:
        path = Path(value) if Path(value).is_absolute() else base / value
        if not path.is_file():
            raise DatasetError(path, f"missing ({origin})", field="image")
        return path.read_bytes()
    raise DatasetError(origin, f"no usable image ({type(value).__name__})", field="image")


def _rows_from_table(source: Path) -> tuple[Iterable[dict], Path]:
    source = Path(source)
    if source.is_dir() and ((source / "dataset_info.json").exists() or (source / "state.json").exists()):
        import datasets

        return datasets.load_from_disk(str(source)), source
    if source.suffix == ".parquet" or (source.is_dir() and any(source.glob("*.parquet"))):
        import pyarrow.parquet as pq

        files = [source] if source.is_file() else sorted(source.glob("*.parquet"))
        rows: list[dict] = []
        for f in files:
            rows += pq.read_table(f).to_pylist()
        return rows, source if source.is_dir() else source.parent
    for name in ("metadata.jsonl", "metadata.csv"):
        meta = source / name
        if meta.is_file():
            if name.endswith(".jsonl"):
                lines = meta.read_text(encoding="utf-8").splitlines()
                return [json.loads(l) for l in lines if l.strip()], source
            with open(meta, newline="", encoding="utf-8") as fh:
                return list(csv.DictReader(fh)), source
    raise DatasetError(source, "not a datasets folder, Parquet file or image folder with "
                       "metadata.csv/metadata.jsonl")


def read_table(source: Path, split: str = "test_ood") -> Iterator[RawSample]:
    rows, base = _rows_from_table(source)
    for i, row in enumerate(rows):
        origin = f"{source}: row {i}"
        for col in ("text", "lang"):
            if col not in row or row[col] in (None, ""):
                raise DatasetError(source, "missing or empty", field=col, row=i)
        image = row.get("image", row.get("file_name", row.get("path")))
        sid = row.get("semantic_id")
        yield RawSample(str(row.get("key") or f"row-{i:07d}"),
                        to_png(_image_bytes(image, base, origin), origin), str(row["text"]),
                        str(row["lang"]), str(row.get("style") or "unknown"),
                        str(row.get("split") or split),
                        int(sid) if sid not in (None, "") else None, origin)


# -- the join ---------------------------------------------------------------------------------

def import_samples(raw: Iterable[RawSample], out: Path, name: str, *, lexicon_mode: str = "join",
                   builder: dict | None = None) -> ImportReport:
    """Attach semantic ids, validate and write a dataset folder."""
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
    report.fingerprint = write_dataset(out, name, records, lexicon, info)
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
