"""Where a result came from: package version, git commit, machine; and the rule that results
written into the repository's own ``results/`` come from committed code.

A tree is *dirty* when a tracked file differs from its commit or an untracked Python file exists.
The outputs (``results/``, ``leaderboard.md``) are left out of that test: a run rewrites them, and
they say nothing about which code made them.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from pathlib import Path

import bench
from bench.core.errors import HwrBenchError

SOURCE_ROOT = Path(bench.__file__).resolve().parent.parent
OUTPUT_PATHS = ("results", "leaderboard.md")   # what runs write: not code


class DirtyTreeError(HwrBenchError):
    """Results for the repository's own ``results/`` would come from uncommitted code."""


def dirty_paths(porcelain: str) -> list[str]:
    """The paths of ``git status --porcelain`` output that make a tree dirty (pure, for tests)."""
    out = []
    for line in porcelain.splitlines():
        if len(line) < 4:
            continue
        status, path = line[:2], line[3:].split(" -> ")[-1].strip('"')
        top = path.split("/", 1)[0]
        if top in OUTPUT_PATHS:
            continue
        if status == "??" and not path.endswith(".py"):   # untracked: only new code counts
            continue
        out.append(path)
    return out


@functools.lru_cache(maxsize=1)
def git_commit() -> dict:
    try:
        head = subprocess.run(["git", "-C", str(SOURCE_ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "-C", str(SOURCE_ROOT), "status", "--porcelain"],
                                capture_output=True, text=True, timeout=10)
        changed = dirty_paths(status.stdout)
        return {"commit": head.stdout.strip(), "dirty": bool(changed), "changed": changed[:20]}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def is_repository_results(results_dir: Path) -> bool:
    """Whether ``results_dir`` is the checkout's own committed ``results/`` folder."""
    return (SOURCE_ROOT / ".git").exists() and Path(results_dir).resolve() == (SOURCE_ROOT / "results").resolve()


def check_committed_code(results_dir: Path, allow_dirty: bool) -> None:
    """Refuse to write into the repository's ``results/`` from a dirty tree (``--allow-dirty`` overrides).

    A committed result must be reproducible from its commit; one made from uncommitted code is not.
    """
    if allow_dirty or not is_repository_results(results_dir):
        return
    git = git_commit()
    if git.get("dirty"):
        shown = ", ".join(git["changed"][:3]) + (" ..." if len(git["changed"]) > 3 else "")
        raise DirtyTreeError(f"{results_dir}: the repository's own results must come from committed code, and "
                             f"{SOURCE_ROOT} has uncommitted changes ({shown}); commit them, pass --results-dir "
                             "elsewhere, or pass --allow-dirty")


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    import numpy

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "numpy": numpy.__version__,
    }
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    return env


def provenance() -> dict:
    git = {k: v for k, v in git_commit().items() if k != "changed"}
    return {"package_version": bench.__version__, "git": git}
