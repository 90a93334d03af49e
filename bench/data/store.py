"""A dataset on disk: a Hugging Face ``datasets`` Parquet table plus a manifest.

Layout of a dataset folder::

    manifest.json      format, schema version, name, content fingerprint, counts
    samples.parquet    key, image (HF Image feature: {bytes, path}), text,
                       semantic_id, lang, style, split
    lexicon.parquet    semantic_id, lang, text

The fingerprint hashes every field of every row (images by their bytes), so a
result can always be traced to the exact data that produced it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from bench.core.errors import DatasetError, HwrBenchError
from bench.core.text import normalise_text
from bench.data.schema import (LANGUAGES, LEXICON_COLUMNS, SAMPLE_COLUMNS, SPLITS, ImageItem, LexiconEntry, Sample,
                               lexicon_key)

MANIFEST = "manifest.json"
SAMPLES_FILE = "samples.parquet"
LEXICON_FILE = "lexicon.parquet"
FORMAT_NAME = "hwr-bench-dataset"
DATASET_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SampleRecord:
    """A sample as written by a builder or importer, image as encoded bytes (PNG)."""

    key: str
    image_bytes: bytes
    text: str
    semantic_id: int
    lang: str
    style: str
    split: str


_REPR = re.compile(r"\s*<[^<>]*\bobject at 0x[0-9a-fA-F]+>")


def without_reprs(exc: BaseException) -> str:
    """An exception's message without Python object reprs (``<_io.BytesIO object at 0x...>``)."""
    return _REPR.sub("", str(exc)).strip() or type(exc).__name__


def decode_failure(exc: BaseException) -> str:
    """Why Pillow could not decode an image, for a user."""
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):   # its message is "cannot identify image file <repr>"
        return "not an image format Pillow knows, or corrupt"
    return without_reprs(exc)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compute_fingerprint(samples: Iterable[Sample], lexicon: Iterable[LexiconEntry]) -> str:
    digest = hashlib.sha256()
    for s in sorted(samples, key=lambda s: s.key):
        digest.update(json.dumps([s.key, s.text, s.semantic_id, s.lang, s.style, s.split,
                                  s.content_hash], ensure_ascii=False).encode())
        digest.update(b"\n")
    digest.update(b"--lexicon--\n")
    for e in sorted(lexicon, key=lambda e: (e.lang, e.semantic_id)):
        digest.update(json.dumps([e.semantic_id, e.lang, e.text], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


class Dataset:
    """A validated dataset held in memory; images are decoded on demand and memoised."""

    def __init__(self, root: Path, name: str, samples: list[Sample], image_bytes: dict[str, bytes],
                 lexicon: list[LexiconEntry], fingerprint: str, manifest: dict):
        self.root = root
        self.name = name
        self.samples = samples
        self.lexicon = lexicon
        self.fingerprint = fingerprint
        self.manifest = manifest
        self._image_bytes = image_bytes
        self._rows = {s.key: i for i, s in enumerate(samples)}
        self._by_key = {s.key: s for s in samples}
        self._lexicon_by_key = {e.key: e for e in lexicon}
        self._decoded: dict[str, object] = {}
        self._lexicon_for: dict[str, tuple[list, list[LexiconEntry]]] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def sample(self, key: str) -> Sample:
        return self._by_key[key]

    def select(self, *, split: str | None = None, lang: str | None = None) -> list[Sample]:
        return [s for s in self.samples
                if (split is None or s.split == split) and (lang is None or s.lang == lang)]

    def lexicon_entry(self, key: str) -> LexiconEntry:
        return self._lexicon_by_key[key]

    def add_distractors(self, entries: Sequence[LexiconEntry]) -> None:
        """Make gallery-only words (negative semantic ids, never a hit) resolvable by key.

        They join no lexicon (``lexicon`` and ``lexicon_for`` stay the closed vocabulary) and
        do not change the fingerprint: a protocol that uses them says so in its version.
        """
        for e in entries:
            if e.semantic_id >= 0:
                raise ValueError(f"distractor {e.text!r} has semantic id {e.semantic_id}; distractors are negative")
            self._lexicon_by_key.setdefault(e.key, e)

    def lexicon_for(self, lang: str) -> list[LexiconEntry]:
        # Sorted once per language (callers ask per batch and per image; the sort cost a run a minute).
        if self._lexicon_for.get(lang, (None,))[0] is not self.lexicon:
            self._lexicon_for[lang] = (self.lexicon, sorted((e for e in self.lexicon if e.lang == lang),
                                                            key=lambda e: e.semantic_id))
        return list(self._lexicon_for[lang][1])

    def image_item(self, key: str) -> ImageItem:
        s = self._by_key[key]
        image = self._decoded.get(key)
        if image is None:
            image = self._decode(key)
            self._decoded[key] = image
        return ImageItem(key=key, image=image, lang=s.lang, content_hash=s.content_hash)

    def image_items(self, keys: Sequence[str]) -> list[ImageItem]:
        return [self.image_item(k) for k in keys]

    def _decode(self, key: str):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(self._image_bytes[key])) as im:
                im.load()
                return im.convert("L")
        except Exception as exc:  # Pillow raises many types for bad bytes
            raise DatasetError(self.root / SAMPLES_FILE, f"cannot decode image ({decode_failure(exc)})",
                               field="image", row=self._rows[key], key=key) from None

    def counts(self) -> dict:
        by = Counter((s.split, s.lang) for s in self.samples)
        return {split: {lang: by.get((split, lang), 0) for lang in LANGUAGES} for split in SPLITS}


def _manifest(name: str, fingerprint: str, samples: Sequence[Sample], lexicon: Sequence[LexiconEntry],
              builder: dict | None) -> dict:
    counts = Counter((s.split, s.lang) for s in samples)
    return {
        "format": FORMAT_NAME,
        "schema_version": DATASET_SCHEMA_VERSION,
        "name": name,
        "fingerprint": fingerprint,
        "n_samples": len(samples),
        "n_concepts": len({e.semantic_id for e in lexicon}),
        "counts": {split: {lang: counts.get((split, lang), 0) for lang in LANGUAGES}
                   for split in SPLITS},
        "styles": {split: sorted({s.style for s in samples if s.split == split}) for split in SPLITS},
        "builder": builder or {},
        "files": {"samples": SAMPLES_FILE, "lexicon": LEXICON_FILE},
    }


class OutputFolderError(HwrBenchError):
    """An output folder that writing would clobber: not empty and not a dataset, an existing
    dataset without ``replace``, or a folder inside the data it is made from."""


def dataset_manifest(path: Path) -> dict | None:
    """The manifest of the hwr-bench dataset at ``path``, or None if it holds none."""
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT_NAME else None


def check_output(out: Path, *, replace: bool = False, source: Path | None = None) -> None:
    """Refuse an output folder that writing a dataset would clobber; touches nothing.

    A missing or empty folder is fine. A folder holding anything but an hwr-bench dataset is
    always refused; a dataset is refused without ``replace``, and with it too if other files
    sit beside the dataset's own. ``out`` equal to, inside or around ``source`` (the data it is
    made from) is refused as well.
    """
    out = Path(out)
    if source is not None:
        src, dst = Path(source).resolve(), out.resolve()
        if dst == src or src in dst.parents:
            raise OutputFolderError(f"{out}: the output folder is inside the source {source}; "
                                    "choose an --out outside it")
        if dst in src.parents:
            raise OutputFolderError(f"{out}: the output folder contains the source {source}; "
                                    "choose an --out outside it")
    if out.is_symlink():
        raise OutputFolderError(f"{out}: is a symbolic link; give a real folder as --out")
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputFolderError(f"{out}: exists and is not a folder; choose a new or empty folder as --out")
    entries = sorted(e.name for e in out.iterdir())
    if not entries:
        return
    manifest = dataset_manifest(out)
    if manifest is None:
        shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
        raise OutputFolderError(f"{out}: is not empty and not an hwr-bench dataset (it holds {shown}); "
                                "it was left untouched: choose a new or empty folder as --out")
    if not replace:
        fingerprint = str(manifest.get("fingerprint", ""))[:16]
        raise OutputFolderError(f"{out}: already holds the dataset {manifest.get('name', '?')!r} "
                                f"(fingerprint {fingerprint}); pass --replace to overwrite it")
    files = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    own = {MANIFEST, SAMPLES_FILE, LEXICON_FILE, *map(str, files.values())}
    foreign = [e for e in entries if e not in own]
    if foreign:
        raise OutputFolderError(f"{out}: holds a dataset and also {', '.join(foreign[:3])}"
                                f"{' and more' if len(foreign) > 3 else ''}, which replacing it would "
                                "delete; move them out first")


def write_dataset(out: Path, name: str, records: Sequence[SampleRecord],
                  lexicon: Sequence[LexiconEntry], builder: dict | None = None, *,
                  replace: bool = False) -> str:
    """Validate and write a dataset folder; returns its fingerprint.

    ``out`` must be missing or empty, or (with ``replace``) hold an hwr-bench dataset; see
    ``check_output``. The dataset is written to a sibling temporary folder and moved into place
    only when complete, so a failed or interrupted write leaves ``out`` as it was; a replaced
    dataset is renamed aside, the new one renamed in, and the old one deleted (the two renames
    leave ``out`` missing for an instant, never half-written).
    """
    import datasets

    datasets.disable_progress_bars()
    out = Path(out)
    samples = [Sample(r.key, r.text, r.semantic_id, r.lang, r.style, r.split,
                      sha256_hex(r.image_bytes)) for r in records]
    _validate_records(out / SAMPLES_FILE, samples)
    _validate_lexicon(out / LEXICON_FILE, list(lexicon), samples)
    check_output(out, replace=replace)
    fingerprint = compute_fingerprint(samples, lexicon)

    features = datasets.Features({
        "key": datasets.Value("string"), "image": datasets.Image(),
        "text": datasets.Value("string"), "semantic_id": datasets.Value("int64"),
        "lang": datasets.Value("string"), "style": datasets.Value("string"),
        "split": datasets.Value("string"),
    })
    table = datasets.Dataset.from_dict({
        "key": [r.key for r in records],
        "image": [{"bytes": r.image_bytes, "path": None} for r in records],
        "text": [r.text for r in records],
        "semantic_id": [r.semantic_id for r in records],
        "lang": [r.lang for r in records],
        "style": [r.style for r in records],
        "split": [r.split for r in records],
    }, features=features)
    lex_table = datasets.Dataset.from_dict({
        "semantic_id": [e.semantic_id for e in lexicon],
        "lang": [e.lang for e in lexicon],
        "text": [e.text for e in lexicon],
    }, features=datasets.Features({"semantic_id": datasets.Value("int64"),
                                   "lang": datasets.Value("string"),
                                   "text": datasets.Value("string")}))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}.partial-", dir=out.parent))
    try:
        table.to_parquet(str(tmp / SAMPLES_FILE))
        lex_table.to_parquet(str(tmp / LEXICON_FILE))
        manifest = _manifest(name, fingerprint, samples, lexicon, builder)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o777 & ~_umask())   # mkdtemp's 0700 would make the dataset private
        check_output(out, replace=replace)   # again: the folder may have changed while we wrote
        _swap_into_place(tmp, out)
    finally:
        if tmp.exists():
            _rmtree(tmp)
    return fingerprint


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Move the complete folder ``tmp`` to ``out``, replacing what ``check_output`` allowed there."""
    if not out.exists():
        os.rename(tmp, out)
        return
    old = out.with_name(f"{out.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    _rmtree(old)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_dataset(root: Path | str) -> Dataset:
    """Load and validate a dataset folder; raises DatasetError naming the fault."""
    import pyarrow.parquet as pq

    root = Path(root)
    manifest_path = root / MANIFEST
    if not root.is_dir():
        raise DatasetError(root, "not a dataset folder (build one with `bench data build`)")
    if not manifest_path.is_file():
        raise DatasetError(manifest_path, "missing (build with `bench data build` or import with "
                           "`bench data import`)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(manifest_path, f"not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise DatasetError(manifest_path, f"expected a JSON object, found {type(manifest).__name__}")
    if manifest.get("format") != FORMAT_NAME:
        raise DatasetError(manifest_path, f"expected {FORMAT_NAME!r}", field="format")
    if manifest.get("schema_version") != DATASET_SCHEMA_VERSION:
        raise DatasetError(manifest_path, f"unsupported schema version "
                           f"{manifest.get('schema_version')!r} (this hwr-bench reads "
                           f"{DATASET_SCHEMA_VERSION})", field="schema_version")

    samples_path = root / manifest.get("files", {}).get("samples", SAMPLES_FILE)
    lexicon_path = root / manifest.get("files", {}).get("lexicon", LEXICON_FILE)
    samples_table = _read_parquet(pq, samples_path, SAMPLE_COLUMNS)
    lexicon_table = _read_parquet(pq, lexicon_path, LEXICON_COLUMNS)

    cols = {c: _column(samples_table, samples_path, c) for c in SAMPLE_COLUMNS if c != "image"}
    images = _column(samples_table, samples_path, "image")
    samples: list[Sample] = []
    image_bytes: dict[str, bytes] = {}
    for row in range(samples_table.num_rows):
        key = cols["key"][row]
        img = images[row]
        data = img.get("bytes") if isinstance(img, dict) else img
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise DatasetError(samples_path, "no image bytes", field="image", row=row, key=key)
        data = bytes(data)
        image_bytes[key] = data
        samples.append(Sample(key=key, text=cols["text"][row], semantic_id=cols["semantic_id"][row],
                              lang=cols["lang"][row], style=cols["style"][row],
                              split=cols["split"][row], content_hash=sha256_hex(data)))
    lexicon = [LexiconEntry(semantic_id=s, lang=l, text=t) for s, l, t in zip(
        _column(lexicon_table, lexicon_path, "semantic_id"), _column(lexicon_table, lexicon_path, "lang"),
        _column(lexicon_table, lexicon_path, "text"))]

    _validate_records(samples_path, samples)
    _validate_lexicon(lexicon_path, lexicon, samples)
    fingerprint = compute_fingerprint(samples, lexicon)
    if manifest.get("fingerprint") != fingerprint:
        raise DatasetError(manifest_path, "does not match the content of the Parquet files "
                           "(the data changed after it was built; rebuild or re-import it)",
                           field="fingerprint")
    return Dataset(root, manifest.get("name", root.name), samples, image_bytes, lexicon,
                   fingerprint, manifest)


def _column(table, path: Path, name: str) -> list:
    try:
        return table.column(name).to_pylist()
    except Exception as exc:   # corrupt pages surface only when the values are decoded
        raise DatasetError(path, f"values cannot be decoded ({type(exc).__name__}: {exc})", field=name) from None


def _read_parquet(pq, path: Path, required: Sequence[str]):
    if not path.is_file():
        raise DatasetError(path, "missing")
    try:
        table = pq.read_table(path)
        columns = table.column_names   # a corrupt schema can fail only when its names are decoded
    except Exception as exc:
        raise DatasetError(path, f"not a readable Parquet file ({exc})") from None
    for col in required:
        if col not in columns:
            raise DatasetError(path, "missing column", field=col)
    if table.num_rows == 0:
        raise DatasetError(path, "no rows (an empty dataset cannot be evaluated)")
    return table


def _validate_records(path: Path, samples: Sequence[Sample]) -> None:
    if not samples:
        raise DatasetError(path, "no rows (an empty dataset cannot be evaluated)")
    seen: set[str] = set()
    for row, s in enumerate(samples):
        def fail(fld: str, msg: str):
            raise DatasetError(path, msg, field=fld, row=row, key=s.key)

        if not isinstance(s.key, str) or not s.key:
            fail("key", "empty key")
        if s.key in seen:
            fail("key", "duplicate key")
        seen.add(s.key)
        if s.lang not in LANGUAGES:
            fail("lang", f"unknown language {s.lang!r} (expected one of {', '.join(LANGUAGES)})")
        if s.split not in SPLITS:
            fail("split", f"unknown split {s.split!r} (expected one of {', '.join(SPLITS)})")
        if not isinstance(s.text, str) or not s.text.strip():
            fail("text", "empty text")
        if not isinstance(s.semantic_id, int) or isinstance(s.semantic_id, bool) or s.semantic_id < 0:
            fail("semantic_id", f"must be a non-negative integer, got {s.semantic_id!r}")
        if not isinstance(s.style, str) or not s.style:
            fail("style", "empty style")


def _validate_lexicon(path: Path, lexicon: Sequence[LexiconEntry], samples: Sequence[Sample]) -> None:
    if not lexicon:
        raise DatasetError(path, "no rows (the lexicon is empty)")
    by_key: dict[str, LexiconEntry] = {}
    by_text: dict[tuple[str, str], int] = {}
    for row, e in enumerate(lexicon):
        if e.lang not in LANGUAGES:
            raise DatasetError(path, f"unknown language {e.lang!r} (expected one of "
                               f"{', '.join(LANGUAGES)})", field="lang", row=row)
        if not isinstance(e.text, str) or not e.text.strip():
            raise DatasetError(path, "empty text", field="text", row=row)
        if e.key in by_key:
            raise DatasetError(path, f"semantic_id {e.semantic_id} appears twice for {e.lang}",
                               field="semantic_id", row=row)
        norm = (e.lang, normalise_text(e.text))
        if norm in by_text:
            raise DatasetError(path, f"text {e.text!r} appears twice for {e.lang} (rows "
                               f"{by_text[norm]} and {row}); lexicon texts must be unique per "
                               "language", field="text", row=row)
        by_key[e.key] = e
        by_text[norm] = row
    for row, s in enumerate(samples):
        entry = by_key.get(lexicon_key(s.lang, s.semantic_id))
        if entry is None:
            raise DatasetError(path.with_name(SAMPLES_FILE), f"({s.lang}, {s.semantic_id}) is not in "
                               "the lexicon", field="semantic_id", row=row, key=s.key)
        if normalise_text(entry.text) != normalise_text(s.text):
            raise DatasetError(path.with_name(SAMPLES_FILE), f"text {s.text!r} differs from the "
                               f"lexicon's {entry.text!r} for semantic_id {s.semantic_id}",
                               field="text", row=row, key=s.key)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)
