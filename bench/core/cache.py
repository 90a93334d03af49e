"""On-disk cache of method outputs, keyed by everything that changes them.

The namespace is the method's name plus a hash of its version, config and
preprocessing (``method_cache_key``; ``bench.api.cached`` makes the folder) plus the modality; the item key is the
content hash of the image bytes, or of (language, text). Each write is a new
shard file written atomically, so concurrent or interrupted runs never corrupt
what is already cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Sequence

import numpy as np

from bench.core.io import write_bytes_atomic


def default_cache_dir() -> Path:
    return Path(os.environ.get("HWR_BENCH_CACHE", Path.home() / ".cache" / "hwr-bench"))


DEFAULT_SIZE = "small"
# The embedded tiers a user names with `--dataset NAME`; a tier other than the default keeps its
# results in results/<tier>/ (nested, so the default tier's `results/*/*.json` never reads them).
EMBEDDED_TIERS = (DEFAULT_SIZE, "hand")


def default_dataset_path(size: str | None = None, seed: int = 0) -> Path:
    """Where the embedded benchmark of this size and seed is built ($HWR_BENCH_DATA for the default)."""
    size = size or DEFAULT_SIZE
    env = os.environ.get("HWR_BENCH_DATA")
    if env and size == DEFAULT_SIZE and seed == 0:
        return Path(env)
    return default_cache_dir() / "datasets" / f"synth-{size}-seed{seed}"


def is_default_dataset_location(path: Path) -> bool:
    """Whether ``path`` is where ``bench data build`` writes without ``--out`` (a folder in the
    cache's ``datasets/``, or $HWR_BENCH_DATA): a dataset there is rebuilt in place, no ``--replace``."""
    path = Path(path).resolve()
    env = os.environ.get("HWR_BENCH_DATA")
    if env and Path(env).resolve() == path:
        return True
    return path.parent == (default_cache_dir() / "datasets").resolve()


def method_cache_key(name: str, version: str, preprocessing: str, config: dict) -> str:
    """Everything about a method that can change an output, hashed (``MethodInfo.cache_key``; also
    for result records that predate storing it)."""
    ident = {"name": name, "version": version, "preprocessing": preprocessing, "config": config}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:24]


def text_item_key(lang: str, text: str) -> str:
    return hashlib.sha256(f"{lang}\0{text}".encode()).hexdigest()


class _ShardedCache:
    suffix = ""

    def __init__(self, root: Path | None, namespace: str):
        self.dir = None if root is None else Path(root) / namespace
        self._entries: dict | None = None

    @property
    def entries(self) -> dict:
        if self._entries is None:
            self._entries = {}
            if self.dir is not None and self.dir.is_dir():
                for shard in sorted(self.dir.glob(f"shard-*{self.suffix}")):
                    try:
                        self._entries.update(self._read(shard))
                    except Exception:
                        continue  # an unreadable shard only costs a recomputation
        return self._entries

    def lookup(self, keys: Sequence[str]) -> list:
        entries = self.entries
        return [entries.get(k) for k in keys]

    def store(self, keys: Sequence[str], values: Sequence) -> None:
        if not keys:
            return
        self.entries.update(zip(keys, values))
        if self.dir is not None:
            self._write(self.dir / f"shard-{uuid.uuid4().hex}{self.suffix}", keys, values)


class VectorCache(_ShardedCache):
    suffix = ".npz"

    def _read(self, path: Path) -> dict:
        with np.load(path, allow_pickle=False) as data:
            return dict(zip(data["keys"].tolist(), data["values"]))

    def _write(self, path: Path, keys, values) -> None:
        import io

        buf = io.BytesIO()
        np.savez(buf, keys=np.asarray(keys, dtype=str), values=np.stack(values).astype(np.float32))
        write_bytes_atomic(path, buf.getvalue())


class TextCache(_ShardedCache):
    suffix = ".json"

    def _read(self, path: Path) -> dict:
        return json.loads(path.read_text())

    def _write(self, path: Path, keys, values) -> None:
        write_bytes_atomic(path, json.dumps(dict(zip(keys, values)), ensure_ascii=False).encode())
