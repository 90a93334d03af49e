"""`rapidocr+embed` from a warm OCR cache: a run that computes no image, timed (issue #29: under 2 minutes).

The two-stage method transcribes each image with `rapidocr`, then embeds the transcripts and the
lexicon with the multilingual text encoder. Once the transcripts are cached, what is left is the
embedding stage, which used to embed one text at a time (28.7 minutes). This script:

1. runs `bench run -m rapidocr+embed` once into a temporary cache (every default protocol), so
   the engine's transcripts of every image the method reads are cached;
2. keeps only the engine's cache (`rapidocr-*`): the text encoder's cache (`anchors-*`) and the
   method's own vectors (`rapidocr_embed-*`) are removed;
3. times `bench run -m rapidocr+embed --overwrite always` on that cache: every text embedded, no
   image computed (the wall time of the whole command: start, loading, embedding, ranking, metrics).

Writes benchmarks/results/ocr_embed.json. Run: python benchmarks/ocr_embed.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite import _bench, machine_and_commit  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "ocr_embed.json"
METHOD = "rapidocr+embed"
TARGET_S = 120


def main() -> None:
    from bench.core.cache import default_dataset_path
    from bench.core.io import write_json_atomic

    work = Path(tempfile.mkdtemp(prefix="hwr-ocr-embed-"))
    try:
        dataset = default_dataset_path()
        env = {**os.environ, "HWR_BENCH_DATA": str(dataset)}
        cache = work / "cache"
        first = _bench("run", "-m", METHOD, "--results-dir", str(work / "first"), "--cache-dir", str(cache),
                       "--quiet", env=env, cwd=ROOT)
        removed = sorted(p.name for p in cache.iterdir() if not p.name.startswith("rapidocr-"))
        for name in removed:
            (shutil.rmtree if (cache / name).is_dir() else os.remove)(cache / name)
        kept = sorted(p.name for p in cache.iterdir())
        seconds = _bench("run", "-m", METHOD, "--results-dir", str(work / "second"), "--cache-dir", str(cache),
                         "--overwrite", "always", "--quiet", env=env, cwd=ROOT)
        timings = {f.stem: json.loads(f.read_text()).get("timings") for f in sorted((work / "second").glob("*/*.json"))}
        report = {
            "benchmark": "ocr_embed",
            "what": f"wall seconds of `bench run -m {METHOD}` (every default protocol) with the OCR engine's "
                    "transcripts cached and the text encoder's cache empty: no image computed, every text embedded",
            **machine_and_commit(), "dataset": dataset.name,
            "cache_kept": kept, "cache_removed": removed,
            "seconds": {"cold_filling_the_cache": first, "warm_ocr": seconds},
            "timings_per_protocol": timings,   # what each result records (images here: transcripts embedded)
            "target_s": TARGET_S, "met": seconds <= TARGET_S,
        }
        write_json_atomic(OUT, report)
        print(json.dumps(report, indent=2, ensure_ascii=False))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
