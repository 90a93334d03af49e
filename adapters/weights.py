"""Where a hub model's weights are looked for, and fetched when the run may download.

Order: an explicit path (``--model-path`` / ``--option M.model_path=DIR``), then
``$HWR_BENCH_MODELS/<org>/<name>`` and ``$HWR_BENCH_MODELS/<name>``, then the
Hugging Face cache (``local_files_only``). Nothing here touches the network except
``download``/``download_file``, which a method calls from ``fetch_weights`` only when
``bench.api.retriever.downloads_allowed()`` (not ``--offline``, not ``HF_HUB_OFFLINE=1``); they use
``huggingface_hub`` (its progress bars, its cache, ``HF_ENDPOINT``). The answer says every
place looked, so an unavailable method can name them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

MODELS_ENV = "HWR_BENCH_MODELS"
# What a transformers checkpoint needs: configs, tokenizer files and safetensors weights (not the
# TensorFlow, Flax, ONNX or pickled copies many repositories also hold).
CHECKPOINT_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken"]


@dataclass(frozen=True)
class WeightsLookup:
    repo_id: str
    path: Path | None
    looked: tuple[str, ...]

    @property
    def found(self) -> bool:
        return self.path is not None

    def reason(self) -> str:
        from bench.api import downloads_allowed

        tried = any(note.startswith(("download", "huggingface_hub")) for note in self.looked)
        later = "; `bench run` downloads them" if not tried and downloads_allowed() and "/" in self.repo_id else ""
        return f"weights for {self.repo_id} not found (looked in: {'; '.join(self.looked)}){later}"

    def fix(self, method: str) -> str:
        return (f"run online without --offline / HF_HUB_OFFLINE=1 and it downloads itself; or, on a machine with "
                f"internet, `hf download {self.repo_id} --local-dir $HWR_BENCH_MODELS/{self.repo_id}`, then set "
                f"{MODELS_ENV} here; or pass --option {method}.model_path=DIR")


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
    looked.append(hf_cache_entry(repo_id))
    return WeightsLookup(repo_id, cached, tuple(looked))


def _offline_note() -> str:
    return "downloads off (--offline or HF_HUB_OFFLINE=1)"


def _failed(exc: BaseException) -> str:
    from huggingface_hub import constants

    first = (str(exc).strip().splitlines() or [""])[0]
    return f"download from {constants.ENDPOINT} failed: {type(exc).__name__}: {first}"[:300]


def download(lookup: WeightsLookup, allow_patterns: list[str] | None = None) -> WeightsLookup:
    """``lookup`` as it was if found or downloads are off; else the repository downloaded into the
    Hugging Face cache (what it says where it looked records the download or why it failed)."""
    from bench.api import downloads_allowed

    if lookup.found or "/" not in lookup.repo_id:
        return lookup
    if not downloads_allowed():
        return WeightsLookup(lookup.repo_id, None, lookup.looked + (_offline_note(),))
    try:
        from huggingface_hub import constants, snapshot_download

        path = Path(snapshot_download(lookup.repo_id, allow_patterns=allow_patterns))
    except ImportError:
        return WeightsLookup(lookup.repo_id, None, lookup.looked + ("huggingface_hub is not installed",))
    except Exception as exc:   # no network, no such repository, a server error: unavailable, with why
        return WeightsLookup(lookup.repo_id, None, lookup.looked + (_failed(exc),))
    return WeightsLookup(lookup.repo_id, path, lookup.looked + (f"downloaded from {constants.ENDPOINT}",))


def download_file(repo_id: str, filenames: tuple[str, ...]) -> tuple[Path | None, str]:
    """The first of ``filenames`` that ``repo_id`` has, downloaded (a single-file checkpoint);
    (None, why) when downloads are off or none could be fetched."""
    from bench.api import downloads_allowed

    if not downloads_allowed():
        return None, _offline_note()
    try:
        from huggingface_hub import constants, hf_hub_download
    except ImportError:
        return None, "huggingface_hub is not installed"
    error: BaseException | None = None
    for name in filenames:
        try:
            return Path(hf_hub_download(repo_id, name)), f"downloaded from {constants.ENDPOINT}"
        except Exception as exc:   # this file is absent: try the next name
            error = exc
    return None, _failed(error) if error else "nothing to download"


def hf_cache_entry(repo_id: str) -> str:
    """Where the Hugging Face cache keeps ``repo_id`` on this machine, as a path a user can look at."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return f"the Hugging Face cache ({repo_id}; huggingface_hub is not installed)"
    return str(Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}")


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
