"""What adapting the recogniser's last stage to the hand tier's writers buys (issue #31).

``ours`` reads a frozen, print-trained PP-OCRv6; the paper's claim is that such a backbone fails
on handwriting and must be adapted. Here the recogniser's classifier (``ourmodel.adapt``, started
from the ONNX graph's own weights) is trained with CTC on the hand tier's training transcriptions,
three ways: the classifier alone, a residual adapter on its 120-d input feature alone, and both.
Every ``--val-every`` steps, three readers of the adapted posteriors rank each image's own
language's lexicon on the training validator's subsets of the hand tier (300 test_id and 300
test_ood images per language, seed 0), Acc@1:

* ``ctc``: each word's exact CTC likelihood (what ``ppocrv6-ctc`` computes);
* ``pyramid 1-3``: the non-learned levels-1-3 character pyramid (``benchmarks/pyramid.py``);
* ``ours-hand head``: the shipped ``ours-hand`` head and text tower, frozen (trained on the frozen
  recogniser's posteriors; not re-trained on the adapted ones).

Step 0 is the frozen recogniser. The adapted posteriors come from the 320-px squeezed input that
training uses (``PPOCRFeatures``), not the harness's own-width pass, so step 0 differs slightly
from the leaderboard. Writes benchmarks/results/adapt_hand.json.
Run: python benchmarks/adapt_hand.py [--steps 600]  (needs torch: the [dev] or [train] extra)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.suite import machine_and_commit  # noqa: E402
from bench.core.cache import default_cache_dir, default_dataset_path  # noqa: E402
from bench.core.io import write_json_atomic  # noqa: E402
from bench.data.schema import LANGUAGES  # noqa: E402
from bench.data.store import load_dataset  # noqa: E402
from ourmodel.adapt import FEATURES, ctc_loss, tail_from_onnx  # noqa: E402
from ourmodel.anchors import checkpoint_text_inputs  # noqa: E402
from ourmodel.distill import teacher_topk  # noqa: E402
from ourmodel.model import DualEncoder  # noqa: E402
from ourmodel.ppocr import lexicon_alphabet  # noqa: E402
from ourmodel.pyramid import Pyramid, bernoulli_log_odds, sparse_word_scores  # noqa: E402
from ourmodel.training_run import ppocr_inputs, validation_subsets  # noqa: E402

OUT = Path(__file__).parent / "results" / "adapt_hand.json"
HEAD = Path(__file__).resolve().parent.parent / "ourmodel" / "checkpoints" / "ours-hand"
VARIANTS = {"classifier": {"adapter": 0, "classifier": True},
            "adapter": {"adapter": 256, "classifier": False},
            "adapter+classifier": {"adapter": 256, "classifier": True}}


class Readers:
    """The three readers of head inputs over the validator's subsets (see the module doc)."""

    def __init__(self, ds, cache: Path, alphabet: str):
        self.alphabet = alphabet
        lexicon = sorted(ds.lexicon, key=lambda e: (e.semantic_id, e.lang))
        self.rows = {lang: np.array([i for i, e in enumerate(lexicon) if e.lang == lang]) for lang in LANGUAGES}
        self.texts = {lang: [lexicon[i].text for i in self.rows[lang]] for lang in LANGUAGES}
        self.sids = np.array([e.semantic_id for e in lexicon])
        self.pyramid = Pyramid(alphabet, (1, 2, 3))
        self.cells = {lang: self.pyramid.word_cells(self.texts[lang]) for lang in LANGUAGES}
        self.head = DualEncoder.load(HEAD).eval()
        config = json.loads((HEAD / "config.json").read_text())
        with torch.no_grad():
            self.text = self.head.encode_texts(torch.from_numpy(checkpoint_text_inputs(
                config, [e.text for e in lexicon], [e.lang for e in lexicon], cache))).numpy()

    def acc1(self, x: np.ndarray, samples) -> dict[str, float]:
        truth = np.array([s.semantic_id for s in samples])
        langs = np.array([s.lang for s in samples])
        top, _ = teacher_topk(x, list(langs), self.texts, self.rows, self.alphabet, 1)
        hits = {"ctc": self.sids[top[:, 0]] == truth}
        with torch.no_grad():
            img = self.head.encode_images(torch.from_numpy(x)).numpy()
        bernoulli = bernoulli_log_odds(self.pyramid.images(x))
        hits["pyramid 1-3"], hits["ours-hand head"] = np.zeros(len(x), bool), np.zeros(len(x), bool)
        for lang in LANGUAGES:
            mask, rows = langs == lang, self.rows[lang]
            best = np.argmax(sparse_word_scores(bernoulli[mask], *self.cells[lang]), 1)
            hits["pyramid 1-3"][mask] = self.sids[rows][best] == truth[mask]
            hits["ours-hand head"][mask] = self.sids[rows][np.argmax(img[mask] @ self.text[rows].T, 1)] == truth[mask]
        return {name: round(float(h.mean()), 4) for name, h in hits.items()}


def adapt(variant: dict, train_x: torch.Tensor, train_texts: list[str], alphabet: str, args, validate) -> list[dict]:
    torch.manual_seed(0)
    tail = tail_from_onnx(alphabet, variant["adapter"])
    tail.classifier.requires_grad_(variant["classifier"])
    optim = torch.optim.AdamW([p for p in tail.parameters() if p.requires_grad], lr=args.lr, weight_decay=1e-4)
    rng = np.random.default_rng(0)
    curve, started = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        idx = rng.choice(len(train_x), args.batch, replace=False)
        loss = ctc_loss(tail, train_x[idx], [train_texts[i] for i in idx], alphabet)
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % args.val_every == 0 or step == args.steps:
            point = {"step": step, "loss": round(float(loss), 4), "train_seconds": round(time.perf_counter() - started, 1),
                     **validate(tail)}
            curve.append(point)
            print(json.dumps(point), flush=True)
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--val-every", type=int, default=100)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    started = time.perf_counter()
    ds = load_dataset(default_dataset_path("hand"))
    cache = default_cache_dir()
    alphabet = lexicon_alphabet([e.text for e in ds.lexicon])
    train = ds.select(split="train")
    sequence_features = ppocr_inputs(ds, cache, FEATURES)          # cached, as training's inputs are
    train_x = torch.from_numpy(sequence_features(train))
    subsets = validation_subsets(ds, 300, 0)
    val_x = {split: torch.from_numpy(sequence_features(samples)) for split, samples in subsets.items()}
    readers = Readers(ds, cache, alphabet)

    def validate(tail) -> dict:
        with torch.no_grad():
            return {split: readers.acc1(tail.head_inputs(val_x[split]).numpy(), samples)
                    for split, samples in subsets.items()}

    frozen = {"step": 0, **validate(tail_from_onnx(alphabet))}
    print(json.dumps(frozen), flush=True)
    curves = {name: [frozen] + adapt(variant, train_x, [s.text for s in train], alphabet, args, validate)
              for name, variant in VARIANTS.items()}
    write_json_atomic(args.out, {
        "benchmark": "adapt_hand", "what": __doc__.split("\n\n")[0], **machine_and_commit(),
        "dataset": ds.name, "fingerprint": ds.fingerprint[:16], "train_images": len(train),
        "subsets": "300 test_id + 300 test_ood images per language (the training validator's, seed 0)",
        "options": {"steps": args.steps, "batch": args.batch, "lr": args.lr, "adapter_width": 256},
        "variants": VARIANTS, "curves": curves, "seconds": round(time.perf_counter() - started, 1)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
