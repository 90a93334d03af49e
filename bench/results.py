"""Result files: one JSON per method and protocol, plus a compressed rankings sidecar.

``results/<method-slug>/<protocol>.json`` holds the metrics and everything
needed to trace them (schema version, method metadata, dataset fingerprint,
protocol version, package version and git commit, config, environment,
timings). ``<protocol>.rankings.json.gz`` beside it holds per-query top-10 keys
and scores and the ranks of the relevant items, from which
``bench.evaluate.summarise`` recomputes the metrics.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from bench import RESULT_SCHEMA_VERSION
from bench.errors import HwrBenchError
from bench.io import read_json_gz, write_json_atomic, write_json_gz_atomic

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_UNAVAILABLE = "unavailable"
STATUS_NOT_APPLICABLE = "not_applicable"


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


def run_key(*, method_cache_key: str, protocol: str, protocol_version: str, dataset_fingerprint: str,
            limit: int | None, seed: int, n_boot: int, text_policy: dict, shard: str | None = None) -> str:
    ident = {"schema": RESULT_SCHEMA_VERSION, "method": method_cache_key, "protocol": protocol,
             "protocol_version": protocol_version, "dataset": dataset_fingerprint, "limit": limit,
             "seed": seed, "n_boot": n_boot, "text_policy": text_policy}
    if shard is not None:   # absent for whole runs, so their keys match a merge of shards
        ident["shard"] = shard
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]


class ResultFileError(HwrBenchError):
    pass


@dataclass(frozen=True)
class StoredResult:
    path: Path
    data: dict

    @property
    def status(self) -> str:
        return self.data["status"]

    @property
    def method(self) -> str:
        return self.data["method"]["name"]

    @property
    def protocol(self) -> str:
        return self.data["protocol"]["name"]


def upgrade(data: dict, path: Path) -> dict:
    """Bring an older result to the current schema, or refuse one this version cannot read."""
    version = data.get("schema_version")
    if version == RESULT_SCHEMA_VERSION:
        return data
    if not isinstance(version, int):
        raise ResultFileError(f"{path}: field 'schema_version': missing or not an integer")
    raise ResultFileError(f"{path}: field 'schema_version': {version} is not readable by this "
                          f"hwr-bench (reads {RESULT_SCHEMA_VERSION}); re-run it with "
                          "`bench run --overwrite always`")


def read_result(path: Path) -> StoredResult:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path}: not a readable result file ({exc})") from None
    for fld in ("status", "method", "protocol"):
        if fld not in data:
            raise ResultFileError(f"{path}: field {fld!r}: missing")
    return StoredResult(Path(path), upgrade(data, Path(path)))


def iter_results(results_dir: Path) -> list[StoredResult]:
    """Every result file under results_dir, in a deterministic order."""
    out = []
    for path in sorted(Path(results_dir).glob("*/*.json")):
        if path.name.startswith(".") or path.name == "efficiency.json":
            continue
        out.append(read_result(path))
    return out


def write_result(path: Path, data: dict, rankings: dict | None) -> None:
    # Sidecar first: a result file never points at rankings that are not there yet.
    if rankings is not None:
        write_json_gz_atomic(rankings_path(path), rankings)
    write_json_atomic(path, data)


def read_rankings(result_file: Path) -> dict:
    return read_json_gz(rankings_path(result_file))
