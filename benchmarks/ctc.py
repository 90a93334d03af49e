"""Per-query CTC lexicon matching time: the per-word scorer against the trie scorer, in one run.

For each language (en, es, zh) and gallery size (the lexicon alone, 10,000 and 50,000 words: the
lexicon plus wordfreq distractors, as ``bench.evaluation.protocols.build_gallery`` makes them), both scorers
score the same queries against the same compiled lexicon:

* old: ``methodkit.ctc_lexicon.ctc_log_likelihoods`` (one forward recursion per word, vectorised
  over the words of one length);
* trie: ``methodkit.ctc_trie.trie_log_likelihoods`` (one recursion per trie node).

Queries are the first ``--queries`` test_ood images of each language whose word is in the
lexicon, their posteriors computed once by PP-OCRv6 (the ``ppocrv6-ctc`` recogniser, its 18,710
classes) before any timing; without the rapidocr wheel, peaked synthetic posteriors over a
documented ~6,600-character CJK + Latin set instead (the JSON says which). Queries of one frame
count are scored in one call, as ``LexiconScorer.score`` does. Each (language, size) is timed
``--repeats`` times, the two scorers alternating; the headline keeps the fastest repeat of each
(the machine is shared; the JSON records its load average) and the median repeat is given beside it. Compiling the lexicon and building the
trie happen once per lexicon (a method keeps them) and are reported apart, not in the
per-query times. Every score of the two scorers is compared.

Writes benchmarks/results/ctc.json. Run: python benchmarks/ctc.py [--queries 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import methodkit.ctc_trie as ctc_trie  # noqa: E402
from methodkit.ctc_lexicon import IMPOSSIBLE, compile_lexicon, ctc_log_likelihoods, group_posteriors  # noqa: E402
from methodkit.ctc_trie import (SHORTLIST_OFFSET, build_trie, shortlist_log_likelihoods,  # noqa: E402
                               trie_log_likelihoods)
from bench.core.io import write_json_atomic  # noqa: E402
from bench.core.provenance import cpu_model, git_commit  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "ctc.json"
LANGUAGES = ("en", "es", "zh")
SIZES = (None, 10_000, 50_000)          # None: the lexicon alone (1,257 words a language in the default benchmark)
SHORTLIST_K = 1000


def _synthetic_charset() -> list[str]:
    """~6,600 classes: blank, ASCII letters, digits and punctuation, Latin-1 letters, the first
    6,400 CJK unified ideographs, space (a stand-in for a Chinese + Latin recogniser's set)."""
    latin = [chr(c) for c in range(0x21, 0x7F)] + [chr(c) for c in range(0xC0, 0x100) if chr(c).isalpha()]
    return ["<blank>"] + latin + [chr(c) for c in range(0x4E00, 0x4E00 + 6400)] + [" "]


def _synthetic_posteriors(n: int, n_classes: int, seed: int) -> list[np.ndarray]:
    """Peaked softmax posteriors, T = 40: standard normal logits, +12 on one random class per
    frame, +14 on the blank every other frame."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, 40, n_classes))
    logits[np.arange(n)[:, None], np.arange(40), rng.integers(1, n_classes, (n, 40))] += 12
    logits[:, ::2, 0] += 14
    p = np.exp(logits - logits.max(axis=2, keepdims=True))
    return list((p / p.sum(axis=2, keepdims=True)).astype(np.float32))


def _queries(ds, n: int) -> tuple[list[str], dict, dict, str]:
    """charset, {lang: posteriors}, {lang: lexicon index of each query's word}, what they are."""
    from adapters.rapidocr import PPOCR_V6
    from methodkit.network_pass import PosteriorPass

    samples, truth = {}, {}
    for lang in LANGUAGES:
        index = {e.semantic_id: i for i, e in enumerate(ds.lexicon_for(lang))}
        chosen = [s for s in ds.select(split="test_ood", lang=lang) if s.semantic_id in index][:n]
        samples[lang] = chosen
        truth[lang] = np.array([index[s.semantic_id] for s in chosen])
    if PPOCR_V6.availability().ok:
        model = PosteriorPass(PPOCR_V6, PPOCR_V6.resize)
        posteriors = {lang: model([it.image for it in ds.image_items([s.key for s in chosen])])
                      for lang, chosen in samples.items()}
        return model.charset, posteriors, truth, (
            "PP-OCRv6 small (rapidocr 3.10.0) posteriors of the first test_ood images of each language "
            "whose word is in the lexicon (the ppocrv6-ctc recogniser's own)")
    charset = _synthetic_charset()
    posteriors = {lang: _synthetic_posteriors(len(samples[lang]), len(charset), i) for i, lang in enumerate(LANGUAGES)}
    return charset, posteriors, truth, ("synthetic peaked softmax posteriors, T = 40 (rapidocr not installed): "
                                        "N(0,1) logits, +12 on a random class per frame, +14 on the blank "
                                        "every other frame, over a ~6,600-class CJK + Latin set")


def gallery_words(ds, lang: str, size: int | None) -> list[str]:
    """The lexicon of ``lang`` plus wordfreq distractors up to ``size`` words, as the gallery protocols build it."""
    from bench.data.distractors import distractors

    lexicon = [e.text for e in ds.lexicon_for(lang)]
    return lexicon + [e.text for e in distractors(lang, lexicon, max(0, (size or 0) - len(lexicon)))]


def _by_frames(posteriors: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(posteriors):
        groups.setdefault(p.shape[0], []).append(i)
    return [(np.array(idx), np.stack([posteriors[i] for i in idx])) for idx in groups.values()]


def _score_all(score, batches, n_queries: int, n_words: int) -> tuple[float, np.ndarray]:
    out = np.empty((n_queries, n_words))
    start = time.perf_counter()
    for idx, stacked in batches:
        out[idx] = score(stacked)
    return time.perf_counter() - start, out


def _one(ds, lang: str, size: int | None, posteriors, truth, charset, repeats: int, shortlist: bool) -> dict:
    words = gallery_words(ds, lang, size)
    start = time.perf_counter()
    lexicon = compile_lexicon(words, charset)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    trie = build_trie(lexicon)
    trie_s = time.perf_counter() - start
    batches, n = _by_frames(posteriors), len(posteriors)
    old_times, trie_times = [], []
    for _ in range(repeats):
        seconds, old = _score_all(lambda p: ctc_log_likelihoods(p, lexicon), batches, n, len(words))
        old_times.append(seconds)
        seconds, new = _score_all(lambda p: trie_log_likelihoods(p, trie), batches, n, len(words))
        trie_times.append(seconds)
    # words the trie's fast recursion hands to its exact one (end mass below _TINY of the best reading)
    best = np.empty(n)
    for idx, stacked in batches:
        best[idx] = np.log(group_posteriors(stacked, lexicon).max(axis=2)).sum(axis=1)
    rescored = int(((old - best[:, None]) < np.log(ctc_trie._TINY)).sum())
    impossible = old == IMPOSSIBLE
    finite = ~impossible
    diff = np.abs(old - new)[finite]
    row = {"lang": lang, "gallery": len(words), "queries": n, "frames": sorted({p.shape[0] for p in posteriors}),
           "old_seconds": [round(s, 4) for s in old_times], "trie_seconds": [round(s, 4) for s in trie_times],
           "compile_lexicon_seconds": round(compile_s, 3), "build_trie_seconds": round(trie_s, 3),
           "trie_nodes": trie.n_nodes, "labels_of_all_words": int(sum(len(w) for w in words)),
           "max_abs_score_difference": float(diff.max()) if diff.size else 0.0,
           "max_rel_score_difference": float((diff / np.abs(old[finite])).max()) if diff.size else 0.0,
           "scores_from_the_exact_recursion": rescored,
           "impossible_identical": bool(np.array_equal(impossible, new == IMPOSSIBLE)),
           "top1_identical": bool(np.array_equal(old.argmax(axis=1), new.argmax(axis=1))),
           "exact_top1_accuracy": float(np.mean(old.argmax(axis=1) == truth))}
    if shortlist:                                       # the approximate option, for orientation
        seconds, short = _score_all(lambda p: shortlist_log_likelihoods(p, trie, SHORTLIST_K), batches, n,
                                    len(words))
        row["shortlist"] = {"k": SHORTLIST_K, "approximate": True, "seconds": round(seconds, 4),
                            "top1_same_as_exact": float(np.mean(short.argmax(axis=1) == old.argmax(axis=1))),
                            "true_word_shortlisted": float(np.mean(short[np.arange(n), truth] > SHORTLIST_OFFSET))}
    return row


def _summary(rows: list[dict]) -> dict:
    """Per-query times from each row's fastest repeat (the headline) and from its median repeat."""
    queries = sum(r["queries"] for r in rows)
    old = sum(min(r["old_seconds"]) for r in rows)
    trie = sum(min(r["trie_seconds"]) for r in rows)
    old_median = sum(float(np.median(r["old_seconds"])) for r in rows)
    trie_median = sum(float(np.median(r["trie_seconds"])) for r in rows)
    return {"gallery_words": {r["lang"]: r["gallery"] for r in rows}, "queries": queries,
            "old_ms_per_query": round(1000 * old / queries, 2), "trie_ms_per_query": round(1000 * trie / queries, 2),
            "speedup": round(old / trie, 2),
            "old_ms_per_query_median_repeat": round(1000 * old_median / queries, 2),
            "trie_ms_per_query_median_repeat": round(1000 * trie_median / queries, 2),
            "speedup_median_repeat": round(old_median / trie_median, 2),
            "max_abs_score_difference": max(r["max_abs_score_difference"] for r in rows),
            "max_rel_score_difference": max(r["max_rel_score_difference"] for r in rows)}


def main() -> None:
    from bench.core.cache import default_dataset_path
    from bench.data.store import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10, help="test_ood images per language")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dataset", type=Path, default=None, help="default: the embedded benchmark")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    started = time.perf_counter()
    load = os.getloadavg()
    ds = load_dataset(args.dataset or default_dataset_path())
    charset, posteriors, truth, source = _queries(ds, args.queries)
    by_size = {}
    for size in SIZES:
        by_size["lexicon" if size is None else str(size)] = rows = []
        for lang in LANGUAGES:
            rows.append(_one(ds, lang, size, posteriors[lang], truth[lang], charset, args.repeats,
                             shortlist=size == SIZES[-1]))
            print({k: rows[-1][k] for k in ("lang", "gallery", "old_seconds", "trie_seconds")}, flush=True)
    galleries = {name: _summary(rows) for name, rows in by_size.items()}
    rows = [r for rows in by_size.values() for r in rows]
    result = {
        "benchmark": "ctc",
        "what": "per-query CTC lexicon matching time, per-word forward recursions (old) against the trie",
        "old": "methodkit.ctc_lexicon.ctc_log_likelihoods", "trie": "methodkit.ctc_trie.trie_log_likelihoods",
        "posteriors": source, "charset_classes": len(charset),
        "timing": f"fastest of {args.repeats} alternating repeats; queries of one frame count in one call; "
                  "lexicon compilation and trie building excluded (done once per lexicon, reported per row)",
        "n_queries_timed": sum(len(p) for p in posteriors.values()),
        "galleries": galleries,
        "speedup_50k": galleries["50000"]["speedup"],
        "speedup_50k_median_repeat": galleries["50000"]["speedup_median_repeat"],
        "max_abs_score_difference": max(r["max_abs_score_difference"] for r in rows),
        "max_rel_score_difference": max(r["max_rel_score_difference"] for r in rows),
        "impossible_identical": all(r["impossible_identical"] for r in rows),
        "scores_from_the_exact_recursion": sum(r["scores_from_the_exact_recursion"] for r in rows),
        "top1_identical": all(r["top1_identical"] for r in rows),
        "rows": rows,
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "numpy": np.__version__, "load_average_at_start": [round(x, 2) for x in load]},
        "git": git_commit(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json_atomic(args.out, result)
    print(f"speedup at 50k: {result['speedup_50k']}x; max score difference {result['max_abs_score_difference']:.3g} "
          f"(relative {result['max_rel_score_difference']:.3g}) -> {args.out}")


if __name__ == "__main__":
    main()
