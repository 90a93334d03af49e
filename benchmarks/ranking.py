"""Ranking cost of the harness as the gallery grows (exact cosine, chunked, key tie-break).

Writes benchmarks/results/ranking.json. Run: python benchmarks/ranking.py [--queries N]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np

from bench.provenance import cpu_model
from bench.ranking import cosine_scorer, rank_queries


def measure(n_queries: int, n_gallery: int, dim: int = 128, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n_queries, dim)).astype(np.float32)
    g = rng.standard_normal((n_gallery, dim)).astype(np.float32)
    relevant = [[int(i)] for i in rng.integers(0, n_gallery, n_queries)]
    gkeys = [f"g{i:08d}" for i in range(n_gallery)]
    qkeys = [f"q{i:08d}" for i in range(n_queries)]
    start = time.perf_counter()
    rank_queries(cosine_scorer(q, g), n_queries, qkeys, gkeys, relevant)
    seconds = time.perf_counter() - start
    return {"queries": n_queries, "gallery": n_gallery, "dim": dim, "seconds": round(seconds, 4),
            "queries_per_second": round(n_queries / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--galleries", default="1000,4200,20000")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ranking.json")
    args = parser.parse_args()
    rows = [measure(args.queries, int(n)) for n in args.galleries.split(",")]
    report = {"benchmark": "ranking", "machine": {"cpu": cpu_model(), "python": platform.python_version()},
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
