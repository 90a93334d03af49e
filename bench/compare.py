"""Paired comparison of two methods from their stored per-query rankings (clustered by semantic id)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from bench.errors import HwrBenchError
from bench.metrics import PairedTest, paired_bootstrap
from bench.results import rankings_path, read_rankings, read_result, result_path
from bench.summary import DEFAULT_BOOTSTRAP, query_clusters, query_values


class RankingsError(HwrBenchError):
    """A result's rankings sidecar (``<protocol>.rankings.json.gz``) is missing, truncated or malformed."""

    def __init__(self, path: Path, problem: str):
        self.path = Path(path)
        super().__init__(f"{path}: {problem}; re-run that method on that protocol to write it again")


def load_rankings(result_file: Path) -> dict:
    """The rankings sidecar of ``result_file``, checked for the fields every reader uses (each
    subtask's query keys and ids and the ranks of its relevant items, one per query); a missing,
    truncated or malformed one is a ``RankingsError`` naming the sidecar."""
    sidecar = rankings_path(Path(result_file))
    if not sidecar.is_file():
        raise RankingsError(sidecar, f"rankings sidecar missing (the result {Path(result_file).name} needs it)")
    try:
        payload = read_rankings(Path(result_file))
    except (HwrBenchError, OSError, EOFError, ValueError, zlib.error, MemoryError) as exc:
        # bench.results names the file and says what is wrong; anything else is said here.
        text = str(exc)
        problem = (text[len(f"{sidecar}: "):] if text.startswith(f"{sidecar}: ")
                   else f"not a readable rankings sidecar ({text or type(exc).__name__})")
        raise RankingsError(sidecar, problem) from None
    if not isinstance(payload, dict) or not payload:
        raise RankingsError(sidecar, "not rankings (expected an object of subtasks)")
    for name, st in payload.items():
        if not isinstance(st, dict):
            raise RankingsError(sidecar, f"subtask {name!r}: not an object")
        lists = {f: st.get(f) for f in ("query_keys", "query_ids", "relevant_ranks")}
        bad = [f for f, v in lists.items() if not isinstance(v, list)]
        if bad:
            raise RankingsError(sidecar, f"subtask {name!r}: field {bad[0]!r} missing or not a list")
        if len({len(v) for v in lists.values()}) != 1:
            raise RankingsError(sidecar, f"subtask {name!r}: query_keys, query_ids and relevant_ranks differ "
                                         "in length")
    return payload


def per_query(results_dir: Path, method: str, protocol: str, metric: str) -> dict[tuple[str, str], tuple[float, int]]:
    """(subtask, query key) -> (the metric's per-query value, the query's semantic id)."""
    path = result_path(results_dir, method, protocol)
    if not path.exists():
        raise HwrBenchError(f"{path}: no result for {method!r} on {protocol!r} (run `bench run` first)")
    result = read_result(path)
    if not result.ok or not result.rankings_file:
        raise HwrBenchError(f"{path}: status {result.status!r} has no per-query rankings")
    out = {}
    for name, st in load_rankings(path).items():
        values = query_values(st)
        if metric not in values:
            raise HwrBenchError(f"{path}: metric {metric!r} not available (have {', '.join(sorted(values))})")
        out.update({(name, k): (float(v), int(c))
                    for k, v, c in zip(st["query_keys"], values[metric], query_clusters(st))})
    return out


def compare_methods(results_dir: Path, a: str, b: str, protocol: str, metric: str,
                    n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0) -> tuple[PairedTest, int]:
    va, vb = per_query(results_dir, a, protocol, metric), per_query(results_dir, b, protocol, metric)
    common = sorted(set(va) & set(vb))
    if not common:
        raise HwrBenchError(f"{a!r} and {b!r} share no queries on {protocol!r}")
    test = paired_bootstrap(np.array([va[q][0] for q in common]), np.array([vb[q][0] for q in common]),
                            np.array([va[q][1] for q in common]), n_boot=n_boot, seed=seed)
    return test, len(common)
