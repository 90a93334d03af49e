"""Where `ours+rerank` loses to exact CTC (issue #31): the recall of its shortlist, and whether a
shortlist from the non-learned character pyramid, or the union of both, would close the gap.

On the training validator's fixed OOD subsets (300 test_ood images per language, seed 0), for each
image's own language's lexicon: recall@K (the true word among the K best) of the shipped `ours`
embedding, of the non-learned levels-1-3 pyramid (the Bernoulli likelihood of benchmarks/pyramid.py),
and of their union (K of each); and Acc@1 after the exact CTC likelihood re-scores each shortlist
(what `ours+rerank` does with its own). Nothing is learned or tuned here. Writes
benchmarks/results/shortlist_recall.json.
Run: python benchmarks/shortlist_recall.py  (needs torch: the [dev] or [train] extra)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.pyramid import bernoulli_scores, shipped_setup  # noqa: E402
from benchmarks.suite import machine_and_commit  # noqa: E402
from bench.core.io import write_json_atomic  # noqa: E402
from bench.data.schema import LANGUAGES  # noqa: E402
from ourmodel.anchors import checkpoint_text_inputs  # noqa: E402
from ourmodel.distill import teacher_topk  # noqa: E402
from ourmodel.pyramid import Pyramid  # noqa: E402
from ourmodel.training_run import validation_subsets  # noqa: E402

OUT = Path(__file__).parent / "results" / "shortlist_recall.json"
KS = (1, 5, 10, 20, 50)


def shortlists(order: np.ndarray, k: int) -> list[set]:
    return [set(row[:k].tolist()) for row in order]


def main() -> None:
    started = time.perf_counter()
    ds, cache, inputs_for, alphabet, model, config = shipped_setup()
    pyramid = Pyramid(alphabet, (1, 2, 3))
    samples = validation_subsets(ds, 300, 0)["test_ood"]
    x = inputs_for(samples)
    langs = np.array([s.lang for s in samples])
    truth = np.array([s.semantic_id for s in samples])
    counts: dict[str, dict[int, int]] = {}
    for lang in LANGUAGES:
        lex = [e for e in sorted(ds.lexicon, key=lambda e: e.semantic_id) if e.lang == lang]
        texts, sids = [e.text for e in lex], np.array([e.semantic_id for e in lex])
        mask = langs == lang
        with torch.no_grad():
            text = model.encode_texts(torch.from_numpy(checkpoint_text_inputs(config, texts, [lang] * len(texts),
                                                                              cache))).numpy()
            img = model.encode_images(torch.from_numpy(x[mask])).numpy()
        orders = {"ours": np.argsort(-(img @ text.T), 1, kind="stable"),
                  "pyramid 1-3": np.argsort(-bernoulli_scores(pyramid.images(x[mask]), pyramid.words(texts)), 1,
                                            kind="stable")}
        ctc_rows, _ = teacher_topk(x[mask], [lang] * int(mask.sum()), {lang: texts}, {lang: np.arange(len(lex))},
                                   alphabet, len(lex))
        ctc_rank = np.empty_like(ctc_rows)
        for i, row in enumerate(ctc_rows):
            ctc_rank[i, row] = np.arange(len(row))
        want = truth[mask]
        for k in KS:
            lists = {name: shortlists(order, k) for name, order in orders.items()}
            lists["union"] = [a | b for a, b in zip(lists["ours"], lists["pyramid 1-3"])]
            for name, short in lists.items():
                recall = sum(int(np.flatnonzero(sids == w)[0]) in s for s, w in zip(short, want))
                reranked = sum(sids[min(s, key=lambda r: ctc_rank[i, r])] == w for i, (s, w) in enumerate(zip(short, want)))
                c = counts.setdefault(name, {})
                c[f"recall@{k}"] = c.get(f"recall@{k}", 0) + recall
                c[f"ctc-reranked acc@1 @{k}"] = c.get(f"ctc-reranked acc@1 @{k}", 0) + int(reranked)
        c = counts.setdefault("exact CTC", {})
        c["acc@1"] = c.get("acc@1", 0) + int((sids[ctc_rows[:, 0]] == want).sum())
    n = len(samples)
    record = {"subsets": "300 test_ood images per language (the training validator's, seed 0)", "dataset": ds.name,
              "fingerprint": ds.fingerprint[:16], "queries": n,
              "rates": {name: {k: round(v / n, 4) for k, v in c.items()} for name, c in counts.items()},
              **machine_and_commit(), "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(record["rates"], indent=1))
    write_json_atomic(OUT, record)


if __name__ == "__main__":
    main()
