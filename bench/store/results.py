"""Result files: one JSON per method and protocol, plus a compressed rankings sidecar.

``results/<method-slug>/<protocol>.json`` holds one ``ResultRecord``
(``bench.store.records``): the metrics and everything needed to trace them.
``<protocol>.rankings.json.gz`` beside it holds per-query top-10 keys and
scores and the ranks of the relevant items, from which ``bench.evaluation.summary``
recomputes the metrics.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

from bench.core.errors import HwrBenchError
from bench.core.io import CompressedFileError, file_sha256, read_json_gz, write_json_atomic, write_json_gz_atomic
from bench.store.records import RESULT_SCHEMA_VERSION, WRITTEN_STATUSES, ResultRecord

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
    _check_types(data, Path(path))
    try:
        return ResultRecord.from_json(data, Path(path))
    except (KeyError, TypeError) as exc:
        raise ResultFileError(f"{path}: malformed result record ({type(exc).__name__}: {exc})") from None


# What every reader of a result relies on: each top-level field's types, and numbers in "metrics".
_OPTIONAL = type(None)
_FIELD_TYPES = {"status": (str,), "method": (dict,), "protocol": (dict,), "dataset": (dict,), "config": (dict,),
                "metrics": (dict, _OPTIONAL), "error": (dict, _OPTIONAL), "timings": (dict, _OPTIONAL),
                "rankings_file": (str, _OPTIONAL), "rankings_sha256": (str, _OPTIONAL)}
_TYPE_NAMES = {str: "a string", dict: "an object", _OPTIONAL: "null", float: "a number"}


def _wrong_type(path: Path, where: str, expected: tuple) -> ResultFileError:
    return ResultFileError(f"{path}: field {where!r}: expected {' or '.join(_TYPE_NAMES[t] for t in expected)}")


def _check_types(data: dict, path: Path) -> None:
    """One clear line for a field of the wrong type (a hand-edited or foreign file), instead of a
    traceback later, somewhere in the leaderboard or the report."""
    for name, expected in _FIELD_TYPES.items():
        if name in data and not isinstance(data[name], expected):
            raise _wrong_type(path, name, expected)
    if data["status"] not in WRITTEN_STATUSES:
        raise ResultFileError(f"{path}: field 'status': {data['status']!r} is not one of "
                              f"{', '.join(s.value for s in WRITTEN_STATUSES)}")
    if not isinstance(data["method"].get("name"), str):
        raise _wrong_type(path, "method.name", (str,))
    metrics = data.get("metrics") or {}
    subtasks = metrics.get("subtasks") or {}
    if not isinstance(subtasks, dict):
        raise _wrong_type(path, "metrics.subtasks", (dict,))
    blocks = {"overall": metrics.get("overall"), **{f"subtasks.{k}": v for k, v in subtasks.items()}}
    for where, block in blocks.items():
        if block is not None and not isinstance(block, dict):
            raise _wrong_type(path, f"metrics.{where}", (dict,))
        for metric, cell in (block or {}).items():
            value = cell.get("value") if isinstance(cell, dict) else None
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise _wrong_type(path, f"metrics.{where}.{metric}.value", (float,))


def iter_results(results_dir: Path) -> list[ResultRecord]:
    """Every result file under results_dir, in a deterministic order."""
    return [read_result(path) for path in sorted(Path(results_dir).glob("*/*.json"))
            if not path.name.startswith(".") and path.name != EFFICIENCY_FILE]


def write_result(path: Path, record: ResultRecord, rankings: dict | None) -> None:
    """The sidecar first, then the result naming the sidecar's digest: a result file never points
    at rankings that are not there yet, and a pair torn by a crash is detected (``pair_is_whole``)."""
    digest = None
    if rankings is not None:
        digest = write_json_gz_atomic(rankings_path(path), rankings)
    write_json_atomic(path, replace(record, rankings_sha256=digest).to_json())


def pair_is_whole(record: ResultRecord) -> bool:
    """Whether a stored result's sidecar is there and is the one written with it (records from
    before the digest was stored are checked for the sidecar's presence only)."""
    if not record.rankings_file or record.path is None:
        return True
    sidecar = record.path.with_name(record.rankings_file)
    if not sidecar.is_file():
        return False
    return record.rankings_sha256 is None or file_sha256(sidecar) == record.rankings_sha256


class RankingsError(ResultFileError):
    """A result's rankings sidecar (``<protocol>.rankings.json.gz``) is missing, truncated or malformed."""

    def __init__(self, path: Path, problem: str):
        self.path = Path(path)
        super().__init__(f"{path}: {problem}")


_RERUN = "re-run the method on this protocol"


def read_rankings(result_file: Path, *, validate: bool = False) -> dict:
    """The rankings sidecar of ``result_file``; a missing or unreadable one is a ``RankingsError``
    naming it. With ``validate`` (readers that go on to use every query: compare, the report) it
    must also hold, per subtask, query keys and ids and the ranks of its relevant items, one per
    query; verify reads it unvalidated and reports what differs instead."""
    path = rankings_path(Path(result_file))
    try:
        payload = read_json_gz(path)
    except FileNotFoundError:
        raise RankingsError(path, f"missing (the rankings sidecar of {Path(result_file).name}); {_RERUN}") from None
    except (OSError, CompressedFileError) as exc:
        raise RankingsError(path, f"not a readable rankings sidecar: {exc}; {_RERUN}") from None
    if not validate:
        return payload
    if not isinstance(payload, dict) or not payload:
        raise RankingsError(path, f"not rankings (expected an object of subtasks); {_RERUN}")
    for name, st in payload.items():
        if not isinstance(st, dict):
            raise RankingsError(path, f"subtask {name!r}: not an object; {_RERUN}")
        lists = {f: st.get(f) for f in ("query_keys", "query_ids", "relevant_ranks")}
        bad = [f for f, v in lists.items() if not isinstance(v, list)]
        if bad:
            raise RankingsError(path, f"subtask {name!r}: field {bad[0]!r} missing or not a list; {_RERUN}")
        if len({len(v) for v in lists.values()}) != 1:
            raise RankingsError(path, f"subtask {name!r}: query_keys, query_ids and relevant_ranks differ in "
                                      f"length; {_RERUN}")
    return payload


TEMP_FILE = re.compile(r"^\..+\.json(\.gz)?\.[A-Za-z0-9_]+\.tmp$")   # write_bytes_atomic's temp names


def sweep_temp_files(results_dir: Path) -> list[Path]:
    """Remove the temporary files an interrupted write left (only names ``write_bytes_atomic``
    makes; call it holding the folder's lock, so no live write is touched)."""
    gone = []
    for path in sorted(Path(results_dir).glob("*/.*.tmp")):
        if TEMP_FILE.match(path.name) and path.is_file() and not path.is_symlink():
            path.unlink()
            gone.append(path)
    return gone
