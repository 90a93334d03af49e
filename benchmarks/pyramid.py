"""What each level of the character pyramid adds (issue #31), before anything is learned.

On the training validator's fixed subsets (300 test_id and 300 test_ood images per language,
seed 0; the subsets of benchmarks/headroom.py), each image's own language's lexicon is ranked by
the Bernoulli likelihood of each word's pyramid (``ourmodel.pyramid``) under the image's presence
pyramid, sum over regions and characters of y log q + (1 - y) log (1 - q): levels 1 (the bag of
characters of headroom.py), 1-2, 1-3, 1-4 (the shipped levels) and 1-5, beside the exact CTC
likelihood on the same posteriors and the shipped ``ours``. Nothing is learned, so the rows say
what the levels can carry, not what a trained head makes of them. Writes benchmarks/results/pyramid.json.
Run: python benchmarks/pyramid.py  (needs torch: the [dev] or [train] extra)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.suite import machine_and_commit  # noqa: E402
from bench.core.cache import default_cache_dir, default_dataset_path  # noqa: E402
from bench.core.io import write_json_atomic  # noqa: E402
from bench.data.schema import LANGUAGES  # noqa: E402
from bench.data.store import load_dataset  # noqa: E402
from ourmodel.anchors import checkpoint_text_inputs  # noqa: E402
from ourmodel.distill import teacher_topk  # noqa: E402
from ourmodel.model import DualEncoder  # noqa: E402
from ourmodel.ppocr import backbone  # noqa: E402
from ourmodel.pyramid import Pyramid  # noqa: E402
from ourmodel.quantize import default_checkpoint_dir  # noqa: E402
from ourmodel.training_run import TRAINING_BACKBONES, source_alphabet, validation_subsets  # noqa: E402

OUT = Path(__file__).parent / "results" / "pyramid.json"
LEVEL_SETS = {"1": (1,), "1-2": (1, 2), "1-3": (1, 2, 3), "1-4": (1, 2, 3, 4), "1-5": (1, 2, 3, 4, 5)}


def bernoulli_scores(presence: np.ndarray, words: np.ndarray) -> np.ndarray:
    """(N, W) sum over regions and characters of y log q + (1 - y) log(1 - q): ``presence`` (N,
    regions, C) an image's q, ``words`` (W, regions, C) each word's 0/1 pyramid y."""
    q = presence.reshape(len(presence), -1).astype(np.float64)
    y = words.reshape(len(words), -1).astype(np.float64)
    log_yes, log_no = np.log(q + 1e-6), np.log(1.0 - q + 1e-6)
    return log_yes @ y.T + log_no @ (1.0 - y).T


def shipped_setup():
    """(dataset, cache root, its cached PP-OCRv6 inputs, their alphabet, the shipped ours and its
    config): what the scripts reading the validator's subsets start from."""
    ds = load_dataset(default_dataset_path())
    cache = default_cache_dir()
    inputs_for = TRAINING_BACKBONES["ppocrv6"].inputs(ds, cache)
    alphabet = source_alphabet(ds, backbone("ppocrv6-posteriors"))
    model = DualEncoder.load(default_checkpoint_dir()).eval()
    config = json.loads((default_checkpoint_dir() / "config.json").read_text())
    return ds, cache, inputs_for, alphabet, model, config


def main() -> None:
    started = time.perf_counter()
    ds, cache, inputs_for, alphabet, model, config = shipped_setup()
    lexicon = {lang: [e for e in sorted(ds.lexicon, key=lambda e: e.semantic_id) if e.lang == lang] for lang in LANGUAGES}
    with torch.no_grad():
        text = {lang: model.encode_texts(torch.from_numpy(checkpoint_text_inputs(
            config, [e.text for e in lex], [lang] * len(lex), cache))).numpy() for lang, lex in lexicon.items()}
    rows = {lang: np.arange(len(lex)) for lang, lex in lexicon.items()}
    texts = {lang: [e.text for e in lex] for lang, lex in lexicon.items()}
    record = {"subsets": "300 test_id + 300 test_ood images per language (the training validator's, seed 0)",
              "dataset": ds.name, "fingerprint": ds.fingerprint[:16], "acc1": {}}
    for split, samples in validation_subsets(ds, 300, 0).items():
        x = inputs_for(samples)
        truth = np.array([s.semantic_id for s in samples])
        langs = np.array([s.lang for s in samples])
        hits: dict[str, np.ndarray] = {}
        for lang in LANGUAGES:
            mask = langs == lang
            sids = np.array([e.semantic_id for e in lexicon[lang]])
            found = {}
            for name, levels in LEVEL_SETS.items():
                pyramid = Pyramid(alphabet, levels)
                found[f"levels {name}"] = sids[np.argmax(bernoulli_scores(pyramid.images(x[mask]),
                                                                          pyramid.words(texts[lang])), 1)]
            top, _ = teacher_topk(x[mask], [lang] * int(mask.sum()), {lang: texts[lang]}, {lang: rows[lang]}, alphabet, 1)
            found["exact CTC"] = sids[top[:, 0]]
            with torch.no_grad():
                img = model.encode_images(torch.from_numpy(x[mask])).numpy()
            found["ours (shipped)"] = sids[np.argmax(img @ text[lang].T, 1)]
            for name, got in found.items():
                hits.setdefault(name, np.zeros(len(samples), bool))[mask] = got == truth[mask]
        record["acc1"][split] = {name: {**{lang: round(float(h[langs == lang].mean()), 4) for lang in LANGUAGES},
                                        "all": round(float(h.mean()), 4)} for name, h in hits.items()}
        print(split, json.dumps({k: v["all"] for k, v in record["acc1"][split].items()}), flush=True)
    record.update(machine_and_commit(), seconds=round(time.perf_counter() - started, 1))
    write_json_atomic(OUT, record)


if __name__ == "__main__":
    main()
