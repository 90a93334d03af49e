"""Efficiency files: ``results/<method>/efficiency.json``, what ``bench efficiency`` measured
(``bench.efficiency.measure`` writes them; the leaderboard and plots read them)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.core.io import write_json_atomic
from bench.store.records import Status
from bench.store.results import EFFICIENCY_FILE, method_dir_name

EFFICIENCY_SCHEMA_VERSION = 1


def upgrade_efficiency(record: dict) -> dict:
    """Files written before the field was named like the result files' say ``schema``."""
    if "schema_version" not in record and "schema" in record:
        record = {("schema_version" if k == "schema" else k): v for k, v in record.items()}
    return record


def load_efficiency(results_dir: Path) -> dict[str, dict]:
    """The measured (status ok) efficiency records under ``results_dir``, by method name."""
    out = {}
    for path in sorted(Path(results_dir).glob(f"*/{EFFICIENCY_FILE}")):
        try:
            record = upgrade_efficiency(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue   # a damaged file only loses its row
        if record.get("status") == Status.OK and record.get("schema_version") == EFFICIENCY_SCHEMA_VERSION:
            out[record["method"]["name"]] = record
    return out


def quantised_pairs(by_name: dict[str, dict]) -> list[tuple[str, str]]:
    """(quantised method, its fp32 original) for every measured method that names a measured original."""
    return [(n, r["method"]["config"]["quantized_from"]) for n, r in sorted(by_name.items())
            if (r["method"].get("config") or {}).get("quantized_from") in by_name]


def efficiency_path(results_dir: Path, method: str) -> Path:
    return Path(results_dir) / method_dir_name(method) / EFFICIENCY_FILE


def write_efficiency(results_dir: Path, method: str, record: dict) -> Path:
    path = efficiency_path(results_dir, method)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)
    return path
