"""Training data as compact arrays that travel without this project: ``write_pack`` (here, with the
dataset) and ``load_pack`` (anywhere: numpy only, no project import).

A pack is a folder:

* ``images.npy``: uint8 (N, H, W/2), each word image resized to height H (aspect kept; a wider word
  squeezed to W), right-padded with paper white, grey quantised to 4 bits, two pixels per byte
  (the even column in the high nibble);
* ``labels.npz``: ``ids`` (N,) int32 semantic ids, ``langs`` (N,) int8 indices into ``LANGS``;
* ``lexicon.json``: the lexicon's entries (semantic id, language, text), in the order of
* ``anchors.npy``: float16 (L, 512), the frozen multilingual anchors of those entries (the text side
  of ``text_model=anchors``);
* ``manifest.json``: the format, the shapes, where it came from, and each file's SHA-256.

The small tier's 15,084 train renders at 32x128 take 31 MB, so a pack fits the 64 MiB a lent GPU
machine is given.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "hwr-bench-pack/1"
LANGS = ("en", "zh", "es")
FILES = ("images.npy", "labels.npz", "lexicon.json", "anchors.npy")


class PackError(ValueError):
    """A pack folder that cannot be read (missing file, wrong format, a file changed since packing)."""


def quantise(grey: np.ndarray) -> np.ndarray:
    """uint8 grey (N, H, W) -> 4-bit values packed two per byte (N, H, W/2)."""
    if grey.shape[-1] % 2:
        raise ValueError(f"width {grey.shape[-1]} must be even to pack two pixels per byte")
    q = np.round(grey.astype(np.float32) / 17.0).astype(np.uint8)
    return (q[..., 0::2] << 4) | q[..., 1::2]


def unquantise(packed: np.ndarray) -> np.ndarray:
    """The inverse of ``quantise``, to uint8 grey (multiples of 17: 0, 17, ..., 255)."""
    out = np.empty(packed.shape[:-1] + (packed.shape[-1] * 2,), dtype=np.uint8)
    out[..., 0::2] = (packed >> 4) * 17
    out[..., 1::2] = (packed & 15) * 17
    return out


def pack_bytes(n: int, height: int, width: int) -> int:
    """The images' size in bytes for ``n`` renders: what a pack of them weighs, less its small files."""
    return n * height * width // 2


@dataclass(frozen=True)
class Pack:
    root: Path
    images: np.ndarray          # (N, H, W/2) uint8, 4-bit packed
    ids: np.ndarray             # (N,) int32
    langs: np.ndarray           # (N,) int8 into LANGS
    lexicon: list[dict]         # {"semantic_id", "lang", "text"}, the order of anchors' rows
    anchors: np.ndarray         # (L, 512) float16
    manifest: dict

    def __len__(self) -> int:
        return len(self.ids)

    def grey(self, idx) -> np.ndarray:
        """uint8 (k, H, W) word images of the rows ``idx``."""
        return unquantise(self.images[idx])

    def lang_names(self) -> list[str]:
        return [LANGS[i] for i in self.langs]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_pack(root) -> Pack:
    """A pack written by ``write_pack``, checked against its manifest; one clear error otherwise."""
    root = Path(root)
    manifest_file = root / "manifest.json"
    try:
        manifest = json.loads(manifest_file.read_text())
    except (OSError, ValueError) as exc:
        raise PackError(f"{manifest_file}: not a readable pack manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise PackError(f"{manifest_file}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    for name in FILES:
        if not (root / name).is_file():
            raise PackError(f"{root / name}: missing from the pack")
    for name in FILES:
        path = root / name
        if _sha256(path) != manifest.get("sha256", {}).get(name):
            raise PackError(f"{path}: changed since it was packed (its SHA-256 differs from the manifest's)")
    labels = np.load(root / "labels.npz")
    return Pack(root, np.load(root / "images.npy"), labels["ids"], labels["langs"],
                json.loads((root / "lexicon.json").read_text(encoding="utf-8")), np.load(root / "anchors.npy"),
                manifest)


def write_pack(ds, split: str, out, height: int = 32, width: int = 128, cache_root=None, chunk: int = 512) -> Path:
    """Pack ``ds``'s ``split`` into ``out`` (a new folder, written whole or not at all)."""
    import shutil
    import tempfile

    from methodkit.text_encoder import embed_anchors
    from ourmodel.images import image_batch

    out = Path(out)
    if out.exists():
        raise PackError(f"{out}: exists; pack into a new folder")
    samples = ds.select(split=split)
    if not samples:
        raise PackError(f"{ds.root}: no {split!r} samples to pack")
    grey = np.empty((len(samples), height, width), dtype=np.uint8)
    for start in range(0, len(samples), chunk):
        part = samples[start:start + chunk]
        batch = image_batch([ds.image_item(s.key).image for s in part], height, width)[:, 0]
        grey[start:start + len(part)] = np.round(batch * 255).astype(np.uint8)
    lexicon = [{"semantic_id": e.semantic_id, "lang": e.lang, "text": e.text}
               for e in sorted(ds.lexicon, key=lambda e: (e.semantic_id, e.lang))]
    anchors = embed_anchors([e["text"] for e in lexicon], [e["lang"] for e in lexicon], cache_root)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        np.save(tmp / "images.npy", quantise(grey))
        np.savez(tmp / "labels.npz", ids=np.array([s.semantic_id for s in samples], dtype=np.int32),
                 langs=np.array([LANGS.index(s.lang) for s in samples], dtype=np.int8))
        (tmp / "lexicon.json").write_text(json.dumps(lexicon, ensure_ascii=False), encoding="utf-8")
        np.save(tmp / "anchors.npy", anchors.astype(np.float16))
        manifest = {"format": FORMAT, "n": len(samples), "height": height, "width": width, "split": split,
                    "dataset": ds.name, "fingerprint": ds.fingerprint,
                    "sha256": {name: _sha256(tmp / name) for name in FILES}}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
