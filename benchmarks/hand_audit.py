"""Look at the hand tier: a contact sheet of 60 random OOD renders, and 100 random OOD failures of
the strongest method (all of them where it fails fewer) for a person to classify by eye.

    python benchmarks/hand_audit.py [--dataset DIR] [--results-dir results/hand]

Writes docs/hand_contact_sheet.png, docs/hand_audit/NNN.png (the failures at full size),
docs/hand_audit/sheet-K.png (25 per sheet, numbered, for reading) and docs/hand_audit/audit.tsv
(number, key, language, writer, truth, the method's top-1 word, verdict). The verdict column is a
person's: "legible" (legible but misread) or "illegible" (illegible to a careful reader); a rerun
keeps the verdicts already written for the same keys and never invents one. docs/hand_audit/README.md
counts them.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.core.io import write_bytes_atomic  # noqa: E402

VERDICTS = ("legible", "illegible")


def strongest(results_dir: Path) -> str:
    """The method with the best OOD Acc@1 on the tier, sanity baselines (oracle, random) left out."""
    from bench.api.groups import group_info
    from bench.store.results import iter_results

    ranked = [(r.metrics["overall"]["acc@1"]["value"], r.method_name) for r in iter_results(results_dir)
              if r.protocol.name == "ood" and r.ok and not group_info(r.group).baseline]
    if not ranked:
        raise SystemExit(f"{results_dir}: no OOD result to audit")
    return max(ranked, key=lambda v: v[0])[1]      # ties: the first in folder order


def failures(results_dir: Path, method: str) -> list[dict]:
    from bench.store.results import read_rankings, result_path

    out = []
    for lang, sub in read_rankings(result_path(results_dir, method, "ood")).items():
        for i, key in enumerate(sub["query_keys"]):
            if sub["relevant_ranks"][i] and min(sub["relevant_ranks"][i]) == 1:
                continue
            out.append({"key": key, "lang": lang, "writer": sub["query_styles"][i],
                        "truth": sub["truth_text"][i], "top1": sub["top1_text"][i]})
    return sorted(out, key=lambda f: f["key"])


def _sheet(images, labels, cols: int, tile=(330, 64)):
    from PIL import Image, ImageDraw

    rows = (len(images) + cols - 1) // cols
    sheet = Image.new("L", (cols * tile[0], rows * (tile[1] + 14)), 255)
    draw = ImageDraw.Draw(sheet)
    for i, (image, label) in enumerate(zip(images, labels)):
        image = image.copy()
        image.thumbnail((tile[0] - 8, tile[1]))
        x, y = (i % cols) * tile[0], (i // cols) * (tile[1] + 14)
        sheet.paste(image, (x, y + 12))
        draw.text((x, y), label, fill=0)
    return sheet


def _png(image) -> bytes:
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()


def read_verdicts(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {row["key"]: row["verdict"] for row in csv.DictReader(f, delimiter="\t") if row.get("verdict")}


def main() -> None:
    from bench.api import load_dataset
    from bench.core.cache import default_dataset_path
    from bench.store.results import read_result, result_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, default=default_dataset_path("hand"))
    ap.add_argument("--results-dir", type=Path, default=ROOT / "results" / "hand")
    ap.add_argument("--docs", type=Path, default=ROOT / "docs")
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    args.results_dir = args.results_dir.resolve()
    ds = load_dataset(args.dataset)
    rng = np.random.default_rng(0)

    ood = ds.select(split="test_ood")
    picked = [ood[int(i)] for i in rng.choice(len(ood), 60, replace=False)]
    sheet = _sheet([ds.image_item(s.key).image for s in picked], [s.text for s in picked], cols=4)
    write_bytes_atomic(args.docs / "hand_contact_sheet.png", _png(sheet))

    method = strongest(args.results_dir)
    made_on = read_result(result_path(args.results_dir, method, "ood")).dataset.fingerprint
    if made_on != ds.fingerprint:
        raise SystemExit(f"{args.results_dir}: {method}'s OOD result was made on dataset {made_on[:16]}, "
                         f"not on {args.dataset} ({ds.fingerprint[:16]})")
    failed = failures(args.results_dir, method)
    chosen = [failed[int(i)] for i in sorted(rng.choice(len(failed), min(args.n, len(failed)), replace=False))]
    folder = args.docs / "hand_audit"
    folder.mkdir(parents=True, exist_ok=True)
    verdicts = read_verdicts(folder / "audit.tsv")
    chosen_keys = {f["key"] for f in chosen}
    dropped = sorted(k for k in verdicts if k not in chosen_keys)
    if dropped:
        raise SystemExit(f"{folder / 'audit.tsv'}: verdicts for {len(dropped)} image(s) no longer drawn "
                         f"(e.g. {dropped[0]}): the results or dataset changed; move the file away to start over")
    images = [ds.image_item(f["key"]).image for f in chosen]
    for n, image in enumerate(images):
        write_bytes_atomic(folder / f"{n:03d}.png", _png(image))
    for k in range(0, len(images), 25):
        write_bytes_atomic(folder / f"sheet-{k // 25}.png",
                           _png(_sheet(images[k:k + 25], [str(n) for n in range(k, k + len(images[k:k + 25]))], 3)))
    lines = ["n\tkey\tlang\twriter\ttruth\ttop1\tpng_sha256\tverdict"]
    for n, f in enumerate(chosen):
        verdict = verdicts.get(f["key"], "")
        if verdict and verdict not in VERDICTS:
            raise SystemExit(f"{folder / 'audit.tsv'}: verdict {verdict!r} for {f['key']} is not one of {VERDICTS}")
        digest = hashlib.sha256(_png(images[n])).hexdigest()[:16]
        lines.append("\t".join([str(n), f["key"], f["lang"], f["writer"], f["truth"], f["top1"], digest, verdict]))
    write_bytes_atomic(folder / "audit.tsv", ("\n".join(lines) + "\n").encode())
    counts = {v: sum(1 for f in chosen if verdicts.get(f["key"]) == v) for v in VERDICTS}
    pending = len(chosen) - sum(counts.values())
    fingerprint = ds.fingerprint[:16]
    readme = [
        "# Legibility audit of the hand tier",
        "",
        f"Made by `python benchmarks/hand_audit.py` from `{_shown(args.results_dir)}` on dataset "
        f"`{ds.name}` (fingerprint `{fingerprint}`): {len(chosen)} failures drawn at random (seed 0) from the "
        f"{len(failed)} OOD queries that `{method}`, the strongest method on OOD Acc@1, did not rank first.",
        "",
        "Each was read by eye without its label (`sheet-K.png` numbers them; `NNN.png` at full size), then the "
        "reading compared with the truth and classified in `audit.tsv`: *legible* (read right: the method "
        "misread a word a careful reader reads) or *illegible* (read wrong, or not at all, without knowing "
        "the answer).",
        "",
        "| verdict | count |",
        "|---|---:|",
        *(f"| {v} | {counts[v]} |" for v in VERDICTS),
        *([f"| not yet classified | {pending} |"] if pending else []),
        "",
    ]
    write_bytes_atomic(folder / "README.md", "\n".join(readme).encode())
    print(f"{method}: {len(failed)} OOD failures; audited {len(chosen)}: {counts}, {pending} pending")


if __name__ == "__main__":
    main()
