"""What the shipped head leaves unread in its own inputs (issue #15: what limits `ours`).

On the training validator's fixed subsets (300 test_id and 300 test_ood images per language, seed
0), three readers of the *same* inputs, PP-OCRv6's per-frame posteriors over the lexicon's
characters, each ranking the image's own language's lexicon (Acc@1):

* ``ours``: the shipped head and text tower (one vector search in the 128-d space);
* ``ctc``: each word's exact CTC likelihood (``methodkit.ctc_lexicon``, the teacher of
  ``ourmodel/distill.py``; ``ppocrv6-ctc`` is the same scorer on the unrestricted classifier);
* ``bag-of-characters``: nothing learned, no order: the probability that each character appears
  in some frame, q_c = 1 - prod_t (1 - p_t(c)), and each word scored by the Bernoulli likelihood
  of its set of characters, sum_c [c in w] log q_c + [c not in w] log(1 - q_c). As a function of
  the word it is a dot product with the word's character-indicator vector, so a dual encoder could
  compute it exactly if its two towers shared one embedding per character.

Also per OOD style, and how many training images teach each character (per language: distinct
characters, the median count of training images whose word has the character, and the share of
characters seen in at most 4 images, i.e. in one word's renders). Writes benchmarks/results/headroom.json.
Run: python benchmarks/headroom.py  (needs torch: the [dev] or [train] extra); on the hand tier with
its own head: python benchmarks/headroom.py --size hand --checkpoint ourmodel/checkpoints/ours-hand
(writes benchmarks/results/headroom_hand.json)
"""

from __future__ import annotations

import json
import platform
from collections import Counter
import time
from pathlib import Path

import numpy as np
import torch

from bench.core.cache import default_cache_dir, default_dataset_path
from bench.core.provenance import cpu_model
from bench.data.schema import LANGUAGES
from bench.data.store import load_dataset
from ourmodel.anchors import checkpoint_text_inputs
from ourmodel.distill import teacher_topk
from ourmodel.model import DualEncoder
from ourmodel.ppocr import GROUPS_BEFORE_ALPHABET, backbone, posteriors_of
from ourmodel.quantize import default_checkpoint_dir
from ourmodel.training_run import TRAINING_BACKBONES, source_alphabet, validation_subsets

OUT = Path(__file__).parent / "results" / "headroom.json"


def bag_of_characters_scores(inputs: np.ndarray, words: list[str], alphabet: str) -> np.ndarray:
    """(N, len(words)) Bernoulli log-likelihood of each word's character set (see the module doc)."""
    probs = posteriors_of(inputs)[:, :, len(GROUPS_BEFORE_ALPHABET):]   # the alphabet's groups
    present = 1.0 - np.prod(1.0 - probs, axis=1)
    column = {c: i for i, c in enumerate(alphabet)}
    indicator = np.zeros((len(words), len(alphabet)))
    for row, word in enumerate(words):
        indicator[row, [column[c] for c in word.lower() if c in column]] = 1.0
    log_yes, log_no = np.log(present + 1e-6), np.log(1.0 - present + 1e-6)
    return log_yes @ indicator.T + log_no @ (1.0 - indicator).T


def training_images_per_character(ds) -> dict:
    out = {}
    for lang in LANGUAGES:
        counts = Counter(c for s in ds.select(split="train", lang=lang) for c in set(s.text.lower()) if c != " ")
        seen = np.array(list(counts.values()))
        out[lang] = {"characters": len(counts), "median_images": float(np.median(seen)),
                     "share_in_at_most_4_images": round(float((seen <= 4).mean()), 4)}
    return out


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default=None, help="the embedded benchmark's size (default: small; hand: the hand tier)")
    ap.add_argument("--checkpoint", type=Path, default=default_checkpoint_dir(), help="default: the shipped ours")
    args = ap.parse_args()
    out = OUT if args.size in (None, "small") else OUT.with_name(f"headroom_{args.size}.json")
    started = time.perf_counter()
    ds = load_dataset(default_dataset_path(args.size))
    cache = default_cache_dir()
    model = DualEncoder.load(args.checkpoint).eval()
    config = model.config
    if not config.alphabet:
        raise SystemExit(f"{args.checkpoint}: the head does not read posteriors")
    inputs_for = TRAINING_BACKBONES["ppocrv6"].inputs(ds, cache)
    alphabet = source_alphabet(ds, backbone(config.source))
    lexicon = sorted(ds.lexicon, key=lambda e: (e.semantic_id, e.lang))
    rows = {lang: np.array([i for i, e in enumerate(lexicon) if e.lang == lang]) for lang in LANGUAGES}
    texts = {lang: [lexicon[i].text for i in rows[lang]] for lang in LANGUAGES}
    sids = np.array([e.semantic_id for e in lexicon])
    with torch.no_grad():
        checkpoint_config = json.loads((args.checkpoint / "config.json").read_text())
        text = model.encode_texts(torch.from_numpy(checkpoint_text_inputs(
            checkpoint_config, [e.text for e in lexicon], [e.lang for e in lexicon], cache))).numpy()
    record = {"subsets": "300 test_id + 300 test_ood images per language (the training validator's, seed 0)",
              "checkpoint": str(args.checkpoint), "dataset": ds.name, "acc1": {}, "ood_by_style": {}}
    for split, samples in validation_subsets(ds, 300, 0).items():
        x = inputs_for(samples)
        truth = np.array([s.semantic_id for s in samples])
        langs = np.array([s.lang for s in samples])
        with torch.no_grad():
            img = np.concatenate([model.encode_images(torch.from_numpy(x[i:i + 512])).numpy()
                                  for i in range(0, len(x), 512)])
        top_rows, _ = teacher_topk(x, list(langs), texts, rows, alphabet, 1)
        hits = {"ours": np.zeros(len(samples), bool), "ctc": sids[top_rows[:, 0]] == truth,
                "bag-of-characters": np.zeros(len(samples), bool)}
        for lang in LANGUAGES:
            mask = langs == lang
            hits["ours"][mask] = sids[rows[lang]][np.argmax(img[mask] @ text[rows[lang]].T, 1)] == truth[mask]
            bag = bag_of_characters_scores(x[mask], texts[lang], alphabet)
            hits["bag-of-characters"][mask] = sids[rows[lang]][np.argmax(bag, 1)] == truth[mask]
        record["acc1"][split] = {reader: {**{lang: round(float(h[langs == lang].mean()), 4) for lang in LANGUAGES},
                                          "all": round(float(h.mean()), 4)} for reader, h in hits.items()}
        if split == "test_ood":
            styles = np.array([s.style for s in samples])
            record["ood_by_style"] = {style: {"n": int((styles == style).sum()),
                                              **{reader: round(float(h[styles == style].mean()), 4)
                                                 for reader, h in hits.items()}}
                                      for style in sorted(set(styles))}
        print(split, json.dumps(record["acc1"][split]), flush=True)
    record["training_images_per_character"] = training_images_per_character(ds)
    record["seconds"] = round(time.perf_counter() - started, 1)
    record["machine"] = {"cpu": cpu_model(), "python": platform.python_version()}
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
