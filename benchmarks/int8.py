"""What int8 costs `ours`, graph by graph, on the training validator's fixed subsets (300 test_id
and 300 test_ood images per language; Acc@1 in-domain / OOD / cross-lingual):

* ``fp32``: the shipped head on the fp32 PP-OCRv6 posteriors (the reference);
* ``int8-8bit``: the same head on the backbone quantised with full 8-bit weights;
* ``int8-7bit``: the same head on the shipped recipe's graph (7-bit weight range, ``reduce_range``);
* ``int8-7bit+tuned-head``: the shipped ``ours-int8`` (its head tuned on the 7-bit graph's outputs).

Both int8 graphs are quantised here from the shipped checkpoint (``ourmodel.quantize``, the same
calibration images), so the only difference between them is the weight range. int8 results depend
on the CPU (onnxruntime's u8 x s8 kernels saturate without VNNI): the JSON records the CPU.

Writes benchmarks/results/int8.json. Run: python benchmarks/int8.py  (needs torch: the [dev] extra)
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from bench.core.cache import default_cache_dir, default_dataset_path
from bench.core.provenance import cpu_model
from bench.data.store import load_dataset
from ourmodel.model import DualEncoder
from ourmodel.ppocr import backbone
from ourmodel.quantize import RECIPE, calibration_images, default_checkpoint_dir, default_int8_dir, quantize_backbone
from ourmodel.training_run import make_validator, ppocr_inputs

OUT = Path(__file__).parent / "results" / "int8.json"


def main() -> None:
    ds = load_dataset(default_dataset_path())
    cache = default_cache_dir()
    config = json.loads((default_checkpoint_dir() / "config.json").read_text())
    source, alphabet = backbone(config["source"]), config.get("alphabet", "")
    images = calibration_images(ds, RECIPE["calibration_images"])
    heads = {"shipped": DualEncoder.load(default_checkpoint_dir()), "tuned": DualEncoder.load(default_int8_dir())}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        graphs = {"fp32": None}
        for name, reduce_range in (("int8-8bit", False), ("int8-7bit", True)):
            graphs[name] = quantize_backbone(images, Path(tmp) / f"{name}.onnx", source.onnx_model(alphabet),
                                             reduce_range=reduce_range)
        for name, graph in graphs.items():
            started = time.perf_counter()
            # No feature cache: every graph's posteriors are computed here, for the subsets only.
            validate = make_validator(ds, ppocr_inputs(ds, None, source, graph), cache, 300, 0,
                                      config.get("spelling_dim", 0))
            for head in ("shipped", "tuned") if name == "int8-7bit" else ("shipped",):
                model = heads[head].eval()
                with torch.no_grad():
                    scores = validate(model)
                label = name + ("+tuned-head" if head == "tuned" else "")
                rows[label] = {k: v for k, v in scores.items() if k != "text_xling_acc1"}
            rows[name]["seconds"] = round(time.perf_counter() - started, 1)
            print(name, rows[name], flush=True)
    record = {"subsets": "300 test_id + 300 test_ood images per language (the training validator's, seed 0)",
              "acc1": rows, "machine": {"cpu": cpu_model(), "python": platform.python_version()}}
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
