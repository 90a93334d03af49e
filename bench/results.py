"""Result files: one JSON per method and protocol, plus a compressed rankings sidecar.

``results/<method-slug>/<protocol>.json`` holds one ``ResultRecord``
(``bench.records``): the metrics and everything needed to trace them.
``<protocol>.rankings.json.gz`` beside it holds per-query top-10 keys and
scores and the ranks of the relevant items, from which ``bench.summary``
recomputes the metrics.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from bench import RESULT_SCHEMA_VERSION
from bench.errors import HwrBenchError
from bench.io import read_json_gz, write_json_atomic, write_json_gz_atomic
from bench.records import ResultRecord

EFFICIENCY_FILE = "efficiency.json"


class ResultFileError(HwrBenchError):
    pass


def method_dir_name(name: str) -> str:
    """A file-system-safe folder name; a short hash keeps distinct names distinct."""
    slug = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    if slug != name:
        slug += "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return slug


def result_path(results_dir: Path, method: str, protocol: str) -> Path:
    return Path(results_dir) / method_dir_name(method) / f"{protocol}.json"


def rankings_path(result_file: Path) -> Path:
    return result_file.with_name(result_file.stem + ".rankings.json.gz")


def upgrade(data: dict, path: Path, field: str = "schema_version", current: int = RESULT_SCHEMA_VERSION) -> dict:
    """Bring an older file to the current schema, or refuse one this version cannot read."""
    version = data.get(field)
    if version == current:
        return data
    if not isinstance(version, int):
        raise ResultFileError(f"{path}: field {field!r}: missing or not an integer")
    raise ResultFileError(f"{path}: field {field!r}: {version} is not readable by this "
                          f"hwr-bench (reads {current}); re-run it with `bench run --overwrite always`")


def read_result(path: Path) -> ResultRecord:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path}: not a readable result file ({exc})") from None
    if not isinstance(data, dict):
        raise ResultFileError(f"{path}: not a result record (a JSON object)")
    for fld in ("status", "method", "protocol"):
        if fld not in data:
            raise ResultFileError(f"{path}: field {fld!r}: missing")
    data = upgrade(data, Path(path))
    try:
        return ResultRecord.from_json(data, Path(path))
    except (KeyError, TypeError) as exc:
        raise ResultFileError(f"{path}: malformed result record ({type(exc).__name__}: {exc})") from None


def iter_results(results_dir: Path) -> list[ResultRecord]:
    """Every result file under results_dir, in a deterministic order."""
    return [read_result(path) for path in sorted(Path(results_dir).glob("*/*.json"))
            if not path.name.startswith(".") and path.name != EFFICIENCY_FILE]


def write_result(path: Path, record: ResultRecord, rankings: dict | None) -> None:
    # Sidecar first: a result file never points at rankings that are not there yet.
    if rankings is not None:
        write_json_gz_atomic(rankings_path(path), rankings)
    write_json_atomic(path, record.to_json())


def read_rankings(result_file: Path) -> dict:
    return read_json_gz(rankings_path(result_file))
