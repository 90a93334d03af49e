"""``ours+rerank``'s frontier: shortlist size K against Acc@1 against matching time per query.

On the default benchmark's test_ood images (the first ``--queries`` of each language whose word is
in the lexicon), at three galleries (the lexicon alone, 10,000 and 50,000 words: the lexicon plus
wordfreq distractors, as the gallery protocols build them), in one run and on the same queries:

* ``ours``: cosine alone (K = 0);
* ``ours+rerank@K``: ours' K nearest words re-scored by their exact CTC likelihood
  (``methodkit.ctc_trie.rescored_shortlist``);
* ``ours+rerank@K+pyramid@K``: the same plus the K words most likely under the non-learned
  character pyramid (what the method runs, at its defaults K = 10; the pyramid's scoring of the
  whole gallery counts as matching);
* ``ppocrv6-ctc``: every gallery word's exact CTC likelihood (the trie scorer, what it runs).

All three read the same PP-OCRv6 pass, computed once per image before any timing, and ours' image
embedding is computed once too: neither is matching. *Matching* is what turns them into a
query's scores over the gallery: the cosine, plus the shortlist's re-scoring for ``ours+rerank``;
the trie over the whole gallery for ``ppocrv6-ctc``. Text vectors and the compiled lexicon are
made once per gallery (a serving system keeps them) and reported apart. Acc@1: the truth word
scores strictly above every other word (a tie counts as a miss; the harness breaks ties by key).

Writes benchmarks/results/rerank.json. Run: python benchmarks/rerank.py [--queries 1000] [--ks 5,20,100]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ctc import gallery_words  # noqa: E402
from benchmarks.suite import machine_and_commit  # noqa: E402
from bench.core.io import write_json_atomic  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "rerank.json"
LANGUAGES = ("en", "es", "zh")
SIZES = (None, 10_000, 50_000)          # None: the lexicon alone
KS = (1, 5, 10, 20, 50, 100)
CHUNK = 64                              # queries whose posteriors are held at once (a few MB each)


def _hits(scores: np.ndarray, truth: np.ndarray) -> int:
    rows = np.arange(len(truth))
    mine = scores[rows, truth]
    others = scores.copy()
    others[rows, truth] = -np.inf
    return int((mine > others.max(axis=1)).sum())


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _chunk(method, scorer, galleries, posteriors, truth, ks, tally) -> None:
    """Score one chunk of queries every way at every gallery size, adding hits and seconds to ``tally``."""
    from adapters.ours import reranked
    from methodkit.ctc_lexicon import by_frame_count
    from methodkit.ctc_trie import trie_log_likelihoods

    features = method.ours._features
    images, presence = method.encode(features.from_posteriors(posteriors))   # ours' image side, with its pyramid
    groups = by_frame_count(posteriors)
    for size, (words, vectors) in galleries.items():
        trie = scorer.compiled(words)
        cosine, cos_s = _timed(lambda: images @ vectors.T)
        _add(tally, size, "ours", _hits(cosine, truth), len(truth), cos_s)
        for k in ks:
            scores, seconds = _timed(lambda: reranked(posteriors, trie, cosine, k))
            _add(tally, size, f"ours+rerank@{k}", _hits(scores, truth), len(truth), cos_s + seconds)
            scores, seconds = _timed(lambda: reranked(posteriors, trie, cosine, k,
                                                      method.pyramid_top(presence, words, k)))
            _add(tally, size, f"ours+rerank@{k}+pyramid@{k}", _hits(scores, truth), len(truth), cos_s + seconds)

        def exact():
            out = np.empty(cosine.shape)
            for idx in groups:
                out[idx] = trie_log_likelihoods([posteriors[i] for i in idx], trie)
            return out
        scores, seconds = _timed(exact)
        _add(tally, size, "ppocrv6-ctc", _hits(scores, truth), len(truth), seconds)


def _add(tally: dict, size, name: str, hits: int, queries: int, seconds: float) -> None:
    row = tally.setdefault(str(size or "lexicon"), {}).setdefault(name, {"hits": 0, "queries": 0, "seconds": 0.0})
    row["hits"] += hits
    row["queries"] += queries
    row["seconds"] += seconds


def _language(ds, method, lang: str, n: int, ks, tally: dict, built: dict) -> int:
    from methodkit.ctc_trie import TrieLexiconScorer

    index = {e.semantic_id: i for i, e in enumerate(ds.lexicon_for(lang))}
    samples = [s for s in ds.select(split="test_ood", lang=lang) if s.semantic_id in index][:n]
    galleries = {}
    for size in SIZES:
        words = gallery_words(ds, lang, size)
        vectors, text_s = _timed(lambda: method.ours.embed_texts(words, lang))
        galleries[size] = (words, vectors)
        built.setdefault(str(size or "lexicon"), {})[lang] = {"words": len(words), "text_vectors_seconds": round(text_s, 1)}
    features = method.ours._features
    scorer = TrieLexiconScorer(features.network.charset)
    for size, (words, _) in galleries.items():
        _, compile_s = _timed(lambda: scorer.compiled(words).lexicon_labels)   # the trie and the labels it keeps
        built[str(size or "lexicon")][lang]["compile_seconds"] = round(compile_s, 2)
        _, cells_s = _timed(lambda: method.pyramid_top(np.zeros((0, 1, 1), np.float32), words, 1))
        built[str(size or "lexicon")][lang]["pyramid_cells_seconds"] = round(cells_s, 2)
    for lo in range(0, len(samples), CHUNK):
        chunk = samples[lo:lo + CHUNK]
        posteriors = features.network([it.image for it in ds.image_items([s.key for s in chunk])])
        truth = np.array([index[s.semantic_id] for s in chunk])
        if lo == 0:    # untimed: the compiled kernels' first calls
            _chunk(method, scorer, galleries, posteriors, truth, ks, {})
        _chunk(method, scorer, galleries, posteriors, truth, ks, tally)
        print(f"{lang}: {min(lo + CHUNK, len(samples))}/{len(samples)}", flush=True)
    return len(samples)


def main() -> None:
    from bench.api import load_dataset
    from bench.api.registry import create
    from bench.core.cache import default_cache_dir, default_dataset_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=1000, help="test_ood queries per language")
    ap.add_argument("--ks", default=",".join(map(str, KS)), help="shortlist sizes")
    ap.add_argument("--dataset", type=Path, default=None, help="default: the embedded benchmark")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    provenance = machine_and_commit()
    ds = load_dataset(args.dataset or default_dataset_path())
    method = create("ours+rerank")
    if not method.availability().ok:
        raise SystemExit(f"ours+rerank is unavailable: {method.availability().reason}")
    from bench.api import RunContext

    method.prepare(RunContext(dataset=ds, seed=0, cache_dir=default_cache_dir() / "rerank-benchmark"))
    tally: dict = {}
    built: dict = {}
    started = time.perf_counter()
    queries = {lang: _language(ds, method, lang, args.queries, ks, tally, built) for lang in LANGUAGES}
    rows = {size: {name: {"acc@1": round(r["hits"] / r["queries"], 4), "queries": r["queries"],
                          "matching_ms_per_query": round(1000 * r["seconds"] / r["queries"], 3)}
                   for name, r in by_name.items()}
            for size, by_name in tally.items()}
    write_json_atomic(args.out, {
        "benchmark": "rerank", "what": __doc__.split("\n\n")[0], **provenance,
        "load_average": os.getloadavg(), "dataset": ds.name, "fingerprint": ds.fingerprint[:16],
        "queries": queries, "ks": ks, "method_version": method.info.version, "galleries": built,
        "rows": rows, "seconds": round(time.perf_counter() - started, 1)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
