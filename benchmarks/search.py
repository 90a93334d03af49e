"""Ranking cost of the harness as the gallery grows: exact cosine top-k with the key tie-break.

Random unit vectors (128-d), 10,000 queries, galleries from 1,000 to 1,000,000, each size in a
fresh process so its peak memory (RSS) is its own. The harness never holds a queries x gallery
matrix: it scores a chunk of queries at a time (``bench.evaluation.ranking.CHUNK_CELLS`` scores), takes
the top k by partition and a relevant item's rank by counting, so time is linear in the gallery
and memory is the gallery plus one chunk.

Where faiss-cpu is installed (extra ``[faiss]``) each size is also searched with faiss: exact
(flat inner product) and approximate (HNSW), with HNSW's recall@10 against the exact top-10.

Writes benchmarks/results/search.json. Run: python benchmarks/search.py [--queries N] [--galleries ...]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np


def _unit(rng, n, dim):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def faiss_comparison(q, g, exact_top, hnsw_max: int) -> dict:
    """faiss (extra [faiss]) on the same vectors: exact flat search, and HNSW with its recall@10
    against the harness's exact top-10."""
    try:
        import faiss
    except ImportError:
        return {"skipped": "faiss-cpu is not installed (pip install -e '.[faiss]')"}
    out = {"version": faiss.__version__}
    flat = faiss.IndexFlatIP(g.shape[1])
    flat.add(g)
    start = time.perf_counter()
    flat.search(q, 10)
    out["flat_exact_seconds"] = round(time.perf_counter() - start, 3)
    if len(g) > hnsw_max:
        out["hnsw"] = f"skipped above {hnsw_max} items (build time)"
        return out
    hnsw = faiss.IndexHNSWFlat(g.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    start = time.perf_counter()
    hnsw.add(g)
    build = time.perf_counter() - start
    hnsw.hnsw.efSearch = 64
    start = time.perf_counter()
    _, found = hnsw.search(q, 10)
    search = time.perf_counter() - start
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found.tolist(), exact_top.tolist())]))
    out["hnsw"] = {"M": 32, "efSearch": 64, "build_seconds": round(build, 3), "search_seconds": round(search, 3),
                   "recall_at_10": round(recall, 4)}
    return out


def measure(n_queries: int, n_gallery: int, dim: int = 128, seed: int = 0, hnsw_max: int = 100_000) -> dict:
    from bench.evaluation.ranking import CHUNK_CELLS, cosine_scorer, rank_queries

    rng = np.random.default_rng(seed)
    q, g = _unit(rng, n_queries, dim), _unit(rng, n_gallery, dim)
    relevant = [[int(i)] for i in rng.integers(0, n_gallery, n_queries)]
    gkeys = [f"g{i:08d}" for i in range(n_gallery)]
    qkeys = [f"q{i:08d}" for i in range(n_queries)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    ranking = rank_queries(cosine_scorer(q, g), n_queries, qkeys, gkeys, relevant, k=10)
    seconds = time.perf_counter() - start
    # Spot-check exactness against a full sort on a few queries.
    for i in range(0, n_queries, max(1, n_queries // 5)):
        full = np.argsort(-(q[i] @ g.T), kind="stable")[:10]
        assert ranking.top_idx[i].tolist() == full.tolist()
    row = {"queries": n_queries, "gallery": n_gallery, "dim": dim, "seconds": round(seconds, 3),
            "queries_per_second": round(n_queries / seconds, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_before_ranking_mb": round(before, 1),
            "gallery_mb": round(g.nbytes / 2**20, 1),
            "full_score_matrix_mb_never_held": round(n_queries * n_gallery * 8 / 2**20, 1),
            "chunk_cells": CHUNK_CELLS}
    row["faiss"] = faiss_comparison(q, g, ranking.top_idx, hnsw_max)
    return row


def _child(queue, n_queries, n_gallery):
    queue.put(measure(n_queries, n_gallery))


def isolated(n_queries: int, n_gallery: int) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, n_queries, n_gallery))
    proc.start()
    row = queue.get()
    proc.join()
    return row


def main() -> None:
    from bench.core.provenance import cpu_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--galleries", default="1000,10000,100000,1000000")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "search.json")
    args = parser.parse_args()
    rows = []
    for n in args.galleries.split(","):
        rows.append(isolated(args.queries, int(n)))
        print(json.dumps(rows[-1]), flush=True)
    report = {"benchmark": "search", "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                                                 "python": platform.python_version()},
              "method": "exact cosine, chunked, top-10 by partition, ranks by counting, key tie-break",
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
