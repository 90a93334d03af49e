"""A trained paper-recipe model as ``ours-paper`` runs it, without torch: the visual tower in ONNX
and the lexicon's text vectors precomputed.

The folder holds ``visual.onnx`` (input ``image``: (B, 1, H, W) float32 grey in [0, 1], ink dark;
output ``embedding``: (B, 128) L2-normalised), ``text_vectors.npy`` (L, 128) float32 with
``lexicon.json`` naming each row (semantic id, language, text), ``recipe.json`` and ``meta.json``
(how it was trained: steps, device, and whether it is a smoke checkpoint).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ourmodel.paper.model import PaperModel
from ourmodel.paper.packed import Pack


def export(model: PaperModel, pack: Pack, out: Path, meta: dict) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = model.float().cpu().eval()
    r = model.recipe
    dummy = torch.zeros(1, 1, r.image_height, r.image_width)
    torch.onnx.export(model.visual, (dummy,), str(out / "visual.onnx"), dynamo=False, opset_version=17,
                      input_names=["image"], output_names=["embedding"],
                      dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}})
    rows = np.arange(len(pack.lexicon))
    with torch.no_grad():
        vectors = torch.cat([model.encode_texts(torch.from_numpy(part), [pack.lexicon[i]["text"] for i in part])
                             for part in np.array_split(rows, max(1, len(rows) // 256)) if len(part)])
    np.save(out / "text_vectors.npy", vectors.numpy().astype(np.float32))
    (out / "lexicon.json").write_text(json.dumps(pack.lexicon, ensure_ascii=False), encoding="utf-8")
    (out / "recipe.json").write_text(json.dumps(r.to_json(), indent=2) + "\n")
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out
