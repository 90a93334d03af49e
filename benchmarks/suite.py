"""Wall time of the default suite on this machine: `bench run` with its default methods (every
method that runs offline), all protocols, the default benchmark (built beforehand).

* cold: empty output cache, empty results folder: every embedding, transcript and score computed;
* warm, recompute: caches filled, results recomputed (``--overwrite always``): ranking and
  metrics only;
* warm, up to date: a plain re-run (every result skipped);
* ``bench leaderboard`` on the results.

Targets (issue #8, 2-core machine): cold <= 15 min, warm <= 30 s, leaderboard <= 2 s.
Writes benchmarks/results/suite.json. Run: python benchmarks/suite.py [--skip-cold]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS_S = {"cold": 15 * 60, "warm_recompute": 30, "warm_up_to_date": 30, "leaderboard": 2}

# The profile (cProfile of a warm, up-to-date `bench run`, 2026-11-25) and the fix it led to.
HOTSPOT = {
    "finding": "a warm run with every result up to date still decoded all 7,542 test PNGs up front "
               "(2.28 s of 4.51 s profiled)",
    "fix": "bench.engine.runner decodes (and so validates) the images only before the first computation",
    "warm_up_to_date_seconds_before": 3.88,
}


def _bench(*args, env, cwd) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return round(seconds, 2)


def main() -> None:
    from bench.core.cache import default_cache_dir, default_dataset_path
    from bench.core.provenance import cpu_model
    from bench.api.registry import DEFAULT, METHODS

    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-cold", action="store_true", help="reuse the cache (no cold run)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "suite.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hwr-suite-"))
    cache = work / "cache" if not args.skip_cold else default_cache_dir() / "outputs"
    env = {**os.environ, "HWR_BENCH_DATA": str(default_dataset_path())}
    common = ["--results-dir", str(work / "results"), "--cache-dir", str(cache), "--quiet"]
    timings = {}
    if not args.skip_cold:
        timings["cold"] = _bench("run", *common, env=env, cwd=work)
    timings["warm_recompute"] = _bench("run", *common, "--overwrite", "always", env=env, cwd=work)
    timings["warm_up_to_date"] = _bench("run", *common, env=env, cwd=work)
    timings["leaderboard"] = _bench("leaderboard", "--results-dir", str(work / "results"), "--out",
                                    str(work / "leaderboard.md"), env=env, cwd=work)
    report = {"benchmark": "suite", "methods": list(METHODS.tagged(DEFAULT)),
              "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()},
              "seconds": timings, "targets_s": TARGETS_S,
              "met": {k: timings[k] <= TARGETS_S[k] for k in timings}, "hotspot": HOTSPOT}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
