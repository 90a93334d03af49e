"""Visual-tower speed on this CPU: images per second and ms per image, batch 1 and 64, 1 and 2 threads.

* ``ours``: frozen PP-OCRv4 recogniser (onnxruntime, 48x320) + the trained head (numpy);
* ``ours-int8``: the same with the int8-quantised backbone (``ourmodel/quantize.py``);
* ``mnv3``: the paper's MobileNetV3-Small tower + projector (torch fp32, 32x192).

Writes benchmarks/results/encoder.json. Run: python benchmarks/encoder.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def _time(fn, batch, repeats: int) -> dict:
    fn(batch)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    return {"batch": len(batch), "median_s": round(median, 5), "ms_per_image": round(1000 * median / len(batch), 3),
            "images_per_s": round(len(batch) / median, 1), "repeats": repeats}


def word_images(n: int, seed: int = 0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (64, int(rng.integers(120, 300))), dtype=np.uint8), mode="L")
            for _ in range(n)]


def bench_ours(threads: int, repeats: int, int8: bool = False) -> list[dict]:
    from adapters.ours import SHIPPED
    from ourmodel.inference import NumpyDualEncoder
    from ourmodel.ppocr import PPOCRFeatures

    from ourmodel.quantize import BACKBONE_FILE, default_int8_dir

    model = None
    if int8:
        import onnx

        model = onnx.load(str(default_int8_dir() / BACKBONE_FILE))
    features = PPOCRFeatures(threads=threads, model=model)
    tuned = int8 and (default_int8_dir() / "model.safetensors").is_file()
    head = NumpyDualEncoder(default_int8_dir() if tuned else SHIPPED)
    fn = lambda ims: head.encode_features(features(ims, batch_size=64))
    return [dict(_time(fn, word_images(b), repeats if b == 1 else max(3, repeats // 10)), threads=threads)
            for b in (1, 64)]


def bench_mnv3(threads: int, repeats: int) -> list[dict]:
    import torch

    from ourmodel.towers import MobileNetTower

    torch.set_num_threads(threads)
    tower = MobileNetTower().eval()
    out = []
    for b in (1, 64):
        x = torch.rand(b, 1, 32, 192)
        with torch.inference_mode():
            out.append(dict(_time(lambda batch: tower(x), list(range(b)), repeats if b == 1 else max(3, repeats // 10)),
                            threads=threads))
    return out


def main() -> None:
    from bench.core.provenance import cpu_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "encoder.json")
    args = parser.parse_args()
    report = {"benchmark": "encoder", "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                                                  "python": platform.python_version()}, "rows": {}}
    import importlib.util

    for name, fn in (("ours", bench_ours), ("ours-int8", lambda t, r: bench_ours(t, r, int8=True)),
                     ("mnv3", bench_mnv3)):
        if name == "mnv3" and importlib.util.find_spec("torch") is None:
            report["skipped"] = {name: "torch is not installed (pip install -e '.[train]')"}
            continue
        report["rows"][name] = [row for threads in (1, 2) for row in fn(threads, args.repeats)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
