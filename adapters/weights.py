"""Where a hub model's weights are looked for, without ever downloading them.

Order: an explicit path (``--model-path`` / ``--option M.model_path=DIR``), then
``$HWR_BENCH_MODELS/<org>/<name>`` and ``$HWR_BENCH_MODELS/<name>``, then the
Hugging Face cache (``local_files_only``). The answer says every place looked,
so an unavailable method can name them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

MODELS_ENV = "HWR_BENCH_MODELS"


@dataclass(frozen=True)
class WeightsLookup:
    repo_id: str
    path: Path | None
    looked: tuple[str, ...]

    @property
    def found(self) -> bool:
        return self.path is not None

    def reason(self) -> str:
        return f"weights for {self.repo_id} not found (looked in: {'; '.join(self.looked)})"

    def fix(self, method: str) -> str:
        return (f"on a machine with internet: `huggingface-cli download {self.repo_id} --local-dir "
                f"$HWR_BENCH_MODELS/{self.repo_id}`, then set {MODELS_ENV} here; or pass "
                f"--option {method}.model_path=DIR")


def find_weights(repo_id: str, explicit: str | os.PathLike | None = None, marker: str = "config.json") -> WeightsLookup:
    looked: list[str] = []
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit).expanduser())
    root = os.environ.get(MODELS_ENV)
    if root:
        candidates += [Path(root) / repo_id, Path(root) / repo_id.split("/")[-1]]
    else:
        looked.append(f"${MODELS_ENV} (unset)")
    for candidate in candidates:
        looked.append(str(candidate))
        if (candidate / marker).is_file():
            return WeightsLookup(repo_id, candidate, tuple(looked))
    cached = _hf_cache(repo_id)
    looked.append(f"Hugging Face cache ({repo_id})")
    return WeightsLookup(repo_id, cached, tuple(looked))


def _hf_cache(repo_id: str) -> Path | None:
    if "/" not in repo_id:
        return None
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        return None
    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not cached (or a malformed id): the caller reports where it looked
        return None


def folder_digest(path: Path) -> str:
    """A cheap identity of a weights folder: config files whole, weight files by size and head."""
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        h.update(rel.encode())
        if file.suffix in (".json", ".txt", ".model", ".jinja"):
            h.update(file.read_bytes())
        else:
            h.update(str(file.stat().st_size).encode())
            with file.open("rb") as f:
                h.update(f.read(1 << 20))
    return h.hexdigest()[:16]
