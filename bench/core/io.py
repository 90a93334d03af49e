"""Atomic file writes (a reader, or a crash, never sees a half-written file) and file digests."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import tempfile
from pathlib import Path


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make committed results private
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def dumps_json(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False, allow_nan=False) + "\n"


def write_json_atomic(path: Path, obj) -> None:
    write_bytes_atomic(path, dumps_json(obj).encode())


def write_json_gz_atomic(path: Path, obj) -> str:
    """Write ``obj`` as gzipped JSON; returns the SHA-256 of the bytes written."""
    raw = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    # mtime=0 keeps the compressed bytes a pure function of the content.
    data = gzip.compress(raw, compresslevel=6, mtime=0)
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


MAX_JSON_GZ_BYTES = 512 << 20   # decompressed; the largest committed sidecar is ~10 MB


class CompressedFileError(ValueError):
    """A gzip file that is truncated, corrupt, or expands past the bound."""


def read_json_gz(path: Path, max_bytes: int = MAX_JSON_GZ_BYTES):
    """Gzipped JSON, decompressed in pieces up to ``max_bytes`` (a small bomb cannot fill memory)."""
    import zlib

    out, size = [], 0
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise CompressedFileError(f"expands past {max_bytes >> 20} MiB")
                out.append(chunk)
        return json.loads(b"".join(out))
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise CompressedFileError(f"truncated or corrupt gzip ({exc or type(exc).__name__})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompressedFileError(f"not JSON ({exc})") from None


class LockBusy(Exception):
    pass


class FolderLock:
    """An exclusive advisory lock on a folder (``.bench.lock`` inside it), released by the OS
    when the holder exits, even on SIGKILL, so a crash never leaves it stuck. A holder that exits
    normally (Ctrl-C included) removes the file; a waiter that then holds the lock on the removed
    file notices (its inode is no longer the path's) and locks the new file instead."""

    def __init__(self, folder: Path, wait: float = 0.0):
        self.path = Path(folder) / ".bench.lock"
        self.wait = wait
        self._fh = None

    def __enter__(self) -> "FolderLock":
        import fcntl
        import time

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a+")
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if self._still_the_path():
                    break
                self._fh.close()     # the file was removed by the holder we waited for: start over
                self._fh = open(self.path, "a+")
                continue
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._fh.seek(0)
                    holder = self._fh.read().strip() or "another process"
                    self._fh.close()
                    raise LockBusy(holder) from None
                time.sleep(0.2)
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()}")
        self._fh.flush()
        return self

    def _still_the_path(self) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(self._fh.fileno()).st_ino
        except FileNotFoundError:
            return False

    def __exit__(self, *exc) -> None:
        import fcntl

        try:
            self.path.unlink()       # while still held: nobody can lock this inode in between
        except FileNotFoundError:
            pass
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, hex; computed once per file version (path, mtime, size),
    so a file rewritten in place is hashed anew."""
    st = os.stat(path)
    return _sha256_of(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
