"""Write tests/data/ours_fixture/: a few test_ood images of the built small benchmark and the
shipped ``ours``' committed per-query OOD results for them, so CI can check that the shipped
model still reproduces its committed numbers without building the 19k-image benchmark.

    .venv/bin/python benchmarks/make_ours_fixture.py [--dataset PATH] [--per-lang 8] [--seed 0]

What it writes:

* ``<key>.png``: each query image's PNG bytes, exactly as stored in the dataset (their SHA-256 is
  the content hash the harness keys caches by, and part of the mini dataset's fingerprint);
* ``fixture.json``: per image its key, text, semantic id, language and style (the split is
  test_ood), the PNG's SHA-256, and its stored row of ``results/ours/ood.rankings.json.gz``
  (``top_keys``, ``top_scores``, ``relevant_ranks``); and where those rows came from: the
  source result's ``run_key``, method version (the checkpoint digest), dataset fingerprint, and
  the SHA-256 of the packaged lexicon, which the source dataset's ``lexicon.parquet`` must equal
  (the OOD gallery is the whole lexicon of the query's language, so the mini dataset that
  tests/test_shipped_ours.py writes carries it whole, from ``bench.data.lexicon``).

The sample: ``--per-lang`` test_ood images per language, drawn with ``numpy`` from ``--seed``
over the sorted keys, so rerunning the script on the same data gives the same fixture.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.core.cache import default_dataset_path  # noqa: E402
from bench.data.lexicon import LEXICON_PATH, lexicon_digest, load_lexicon  # noqa: E402
from bench.data.schema import LANGUAGES  # noqa: E402
from bench.store.results import read_rankings, read_result  # noqa: E402

OUT = ROOT / "tests" / "data" / "ours_fixture"
RESULT = ROOT / "results" / "ours" / "ood.json"
MAX_BYTES = 300_000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=None, help="the built small benchmark (default: bench's)")
    parser.add_argument("--per-lang", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    import pyarrow.parquet as pq

    dataset = args.dataset or default_dataset_path()
    manifest = json.loads((dataset / "manifest.json").read_text())
    record = read_result(RESULT)
    stored = read_rankings(RESULT)
    if manifest["fingerprint"] != record.dataset.fingerprint:
        raise SystemExit(f"{dataset}: fingerprint {manifest['fingerprint'][:12]} is not the one "
                         f"{RESULT.name} was made on ({record.dataset.fingerprint[:12]})")

    # The mini dataset takes its lexicon from the package; it must be the source dataset's.
    lexicon = pq.read_table(dataset / manifest["files"]["lexicon"]).to_pylist()
    if (sorted((r["semantic_id"], r["lang"], r["text"]) for r in lexicon)
            != sorted((e.semantic_id, e.lang, e.text) for e in load_lexicon())):
        raise SystemExit(f"{dataset}: its lexicon differs from {LEXICON_PATH}; store it in the fixture instead")

    table = pq.read_table(dataset / manifest["files"]["samples"], filters=[("split", "=", "test_ood")])
    rows = {r["key"]: r for r in table.to_pylist()}
    rng = np.random.default_rng(args.seed)
    chosen = []
    for lang in LANGUAGES:
        keys = sorted(k for k, r in rows.items() if r["lang"] == lang)
        chosen += sorted(rng.choice(keys, size=args.per_lang, replace=False).tolist())

    index = {lang: {k: i for i, k in enumerate(block["query_keys"])} for lang, block in stored.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.png"):
        old.unlink()
    samples = []
    for key in chosen:
        r = rows[key]
        data = r["image"]["bytes"]
        (args.out / f"{key}.png").write_bytes(data)
        block = stored[r["lang"]]
        i = index[r["lang"]][key]
        samples.append({"key": key, "text": r["text"], "semantic_id": r["semantic_id"], "lang": r["lang"],
                        "style": r["style"], "png_sha256": hashlib.sha256(data).hexdigest(),
                        "stored": {"top_keys": block["top_keys"][i], "top_scores": block["top_scores"][i],
                                   "relevant_ranks": block["relevant_ranks"][i]}})
    fixture = {
        "about": "test_ood images of the small benchmark and the shipped ours' committed per-query OOD rows "
                 "for them; written by benchmarks/make_ours_fixture.py, read by tests/test_shipped_ours.py",
        "source": {"result": str(RESULT.relative_to(ROOT)), "run_key": record.run_key,
                   "method_version": record.method["version"], "dataset_name": record.dataset.name,
                   "dataset_fingerprint": record.dataset.fingerprint,
                   "gallery_size": {lang: block["gallery_size"] for lang, block in stored.items()},
                   "lexicon_sha256": lexicon_digest()},
        "sample": {"split": "test_ood", "per_lang": args.per_lang, "seed": args.seed},
        "samples": samples,
    }
    (args.out / "fixture.json").write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {len(samples)} images to {args.out} ({size / 1000:.0f} kB)")
    if size > MAX_BYTES:
        raise SystemExit(f"{args.out}: {size} bytes, over the {MAX_BYTES} budget; use a smaller --per-lang")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
