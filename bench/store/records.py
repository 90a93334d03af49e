"""The result record: what one (method, protocol) evaluation stores, as typed dataclasses.

``ResultRecord`` is the only definition of a result file's schema: the runner
builds it, ``bench.store.results`` reads and writes it, and shard merging, the
leaderboard, plots and ``bench compare`` read its fields. Its run key (what
must match for a stored result to count as up to date) is computed from the
record's own fields by ``RunKey``, so the fields cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any

from bench.core.cache import method_cache_key

RESULT_SCHEMA_VERSION = 1



class Status(str, Enum):
    """What became of one method on one protocol: the ``status`` of a result file (``ok``,
    ``failed``, ``not_applicable``) and of a run's outcome, which may also be ``skipped`` (a stored
    result reused) or ``unavailable`` (the method cannot run here: reported, never written).
    A ``str`` so that files and JSON hold the plain word."""

    OK = "ok"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"
    UNAVAILABLE = "unavailable"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


WRITTEN_STATUSES = (Status.OK, Status.FAILED, Status.NOT_APPLICABLE)   # what a result file may say


class SkipReason(str, Enum):
    """Why a run reused a stored result instead of computing it (a skipped outcome's ``skip``)."""

    UP_TO_DATE = "up to date"
    KEPT_FULL_RESULT = "kept the full result"    # a --limit run never replaces a full one

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class RunKey:
    """Everything that, changed, makes a stored result stale."""

    method_cache_key: str
    protocol: str
    protocol_version: str
    dataset_fingerprint: str
    limit: int | None
    seed: int
    n_boot: int
    text_policy: dict
    shard: str | None = None
    tie_policy: str | None = None      # None: ranked before ties had a policy (by key order)

    def digest(self) -> str:
        ident = {"schema": RESULT_SCHEMA_VERSION, "method": self.method_cache_key, "protocol": self.protocol,
                 "protocol_version": self.protocol_version, "dataset": self.dataset_fingerprint,
                 "limit": self.limit, "seed": self.seed, "n_boot": self.n_boot, "text_policy": self.text_policy}
        if self.shard is not None:   # absent for whole runs, so their keys match a merge of shards
            ident["shard"] = self.shard
        if self.tie_policy is not None:
            ident["tie_policy"] = self.tie_policy
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class Timings:
    """Where a method's time went on one protocol."""

    image_seconds: float = 0.0
    images_computed: int = 0
    images_cached: int = 0
    text_seconds: float = 0.0
    texts_computed: int = 0
    texts_cached: int = 0
    rank_seconds: float = 0.0
    total_seconds: float | None = None

    @property
    def latency_ms_per_image(self) -> float | None:
        """Time per computed image (batched, as the run did it); None when nothing was computed."""
        return round(1000 * self.image_seconds / self.images_computed, 3) if self.images_computed else None

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "total_seconds"}
        out = {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}
        out["latency_ms_per_image"] = self.latency_ms_per_image
        if self.total_seconds is not None:
            out["total_seconds"] = round(self.total_seconds, 4)
        return out

    @classmethod
    def from_json(cls, data: dict | None) -> "Timings | None":
        if data is None:
            return None
        return cls(**{f.name: data[f.name] for f in fields(cls) if data.get(f.name) is not None})

    @classmethod
    def merge(cls, parts: list["Timings"]) -> "Timings":
        """The sum of the shards' timings (the latency follows from the sums)."""
        total = cls()
        for part in parts:
            for f in fields(cls):
                value = getattr(part, f.name)
                if value is not None:
                    setattr(total, f.name, (getattr(total, f.name) or 0) + value)
        return total


@dataclass(frozen=True)
class ProtocolRecord:
    name: str
    version: str
    description: str


@dataclass(frozen=True)
class DatasetRecord:
    name: str
    fingerprint: str
    n_samples: int
    note: str | None = None


@dataclass(frozen=True)
class ConfigRecord:
    limit: int | None
    seed: int
    n_bootstrap: int
    text_policy: dict
    shard: str | None = None          # "i/n" for one shard of a run
    tie_policy: str | None = None     # how equal scores were ordered (bench.evaluation.ranking.TIE_POLICY)

    def to_json(self) -> dict:
        out = asdict(self)
        for optional in ("shard", "tie_policy"):   # absent where unset, as in records older than the field
            if out[optional] is None:
                del out[optional]
        return out


@dataclass
class ResultRecord:
    status: Status
    method: dict                       # MethodInfo.to_json(family)
    protocol: ProtocolRecord
    dataset: DatasetRecord
    config: ConfigRecord
    provenance: dict
    environment: dict
    run_key: str | None = None
    timings: Timings | None = None
    metrics: dict | None = None
    rankings_file: str | None = None
    rankings_sha256: str | None = None  # of the sidecar's bytes: a result and its sidecar are one pair
    error: dict | None = None
    merged_from: list[str] | None = None
    schema_version: int = RESULT_SCHEMA_VERSION
    path: Path | None = field(default=None, compare=False)   # where it was read from, if anywhere

    def __post_init__(self) -> None:
        self.status = Status(self.status)   # "ok" from code is as good as Status.OK

    # -- identity ---------------------------------------------------------------------------
    @property
    def method_name(self) -> str:
        return self.method["name"]

    @property
    def group(self) -> str:
        return self.method["group"]

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def method_key(self) -> str:
        """The method's cache key; records from before it was stored get it from their fields."""
        m = self.method
        return m.get("cache_key") or method_cache_key(m["name"], m["version"], m["preprocessing"], m["config"])

    def key(self) -> RunKey:
        return RunKey(method_cache_key=self.method_key, protocol=self.protocol.name,
                      protocol_version=self.protocol.version, dataset_fingerprint=self.dataset.fingerprint,
                      limit=self.config.limit, seed=self.config.seed, n_boot=self.config.n_bootstrap,
                      text_policy=self.config.text_policy, shard=self.config.shard,
                      tie_policy=self.config.tie_policy)

    def with_run_key(self) -> "ResultRecord":
        return replace(self, run_key=self.key().digest())

    def overall(self, metric: str) -> float | None:
        block = ((self.metrics or {}).get("overall") or {}).get(metric)
        return None if block is None else block["value"]

    # -- JSON -------------------------------------------------------------------------------
    def to_json(self) -> dict:
        out = {"schema_version": self.schema_version, "status": self.status.value, "run_key": self.run_key,
               "method": self.method, "protocol": asdict(self.protocol), "dataset": asdict(self.dataset),
               "config": self.config.to_json(), "provenance": self.provenance, "environment": self.environment,
               "timings": None if self.timings is None else self.timings.to_json(), "metrics": self.metrics,
               "rankings_file": self.rankings_file, "error": self.error}
        if self.rankings_sha256 is not None:   # absent from records older than the field
            out["rankings_sha256"] = self.rankings_sha256
        if self.merged_from is not None:
            out["merged_from"] = self.merged_from
        return out

    @classmethod
    def from_json(cls, data: dict, path: Path | None = None) -> "ResultRecord":
        """A record from a (current-schema) JSON object; KeyError/TypeError on a malformed one."""
        return cls(status=data["status"], method=data["method"], protocol=ProtocolRecord(**data["protocol"]),
                   dataset=DatasetRecord(**data["dataset"]), config=ConfigRecord(**data["config"]),
                   provenance=data.get("provenance") or {}, environment=data.get("environment") or {},
                   run_key=data.get("run_key"), timings=Timings.from_json(data.get("timings")),
                   metrics=data.get("metrics"), rankings_file=data.get("rankings_file"),
                   rankings_sha256=data.get("rankings_sha256"), error=data.get("error"),
                   merged_from=data.get("merged_from"), schema_version=data["schema_version"], path=path)


def describe_error(error: dict[str, Any] | None) -> str:
    """One line from a record's error block."""
    err = error or {}
    return err.get("reason") or err.get("message") or ""
