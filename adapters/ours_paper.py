"""``ours-paper``: the paper's own recipe (``bench train --recipe paper``) as a method, without torch.

The visual tower runs as ONNX (onnxruntime); the text side is the trained text tower's vectors of
the training lexicon, precomputed at export (``ourmodel/paper/export.py``), so a word outside that
lexicon cannot be embedded: such a query is an error naming the word, never a silent guess.
Checkpoint: ``--option ours-paper.checkpoint=DIR`` (a run's ``final/`` folder), default
``ourmodel/checkpoints/ours-paper``. A checkpoint's ``meta.json`` says how it was trained; a smoke
checkpoint (a few CPU steps, for the plumbing) says so in every result's description.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.api import (Availability, EmbeddingRetriever, MethodInfo, MethodOutputError, file_sha256, normalise_text,
                       onnx_threads)
from methodkit.params import onnx_param_count

SHIPPED = Path(__file__).resolve().parent.parent / "ourmodel" / "checkpoints" / "ours-paper"
FILES = ("visual.onnx", "text_vectors.npy", "lexicon.json", "recipe.json", "meta.json")


@dataclass(frozen=True)
class OursPaperOptions:
    checkpoint: Path | None = None   # an exported folder (`bench train --recipe paper` writes OUT/final)


class OursPaper(EmbeddingRetriever):
    Options = OursPaperOptions
    batch_size = 64

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.checkpoint = Path(self.options.checkpoint or SHIPPED)
        self._session = None
        self._texts: dict[tuple[str, str], int] | None = None

    def availability(self) -> Availability:
        missing = [name for name in FILES if not (self.checkpoint / name).is_file()]
        if missing:
            return Availability.no(f"no paper-recipe checkpoint at {self.checkpoint} (missing {', '.join(missing)})",
                                   "train one: `bench train --recipe paper --device cuda --out DIR`, then pass "
                                   "--option ours-paper.checkpoint=DIR/final")
        return Availability.yes()

    def _json(self, name: str) -> dict:
        return json.loads((self.checkpoint / name).read_text(encoding="utf-8"))

    @property
    def info(self) -> MethodInfo:
        if not self.availability().ok:
            return MethodInfo(name="ours-paper", group="ours", version="ckpt-missing", description="no checkpoint")
        meta, recipe = self._json("meta.json"), self._json("recipe.json")
        weights = self.checkpoint / "visual.onnx"
        smoke = "SMOKE checkpoint (a few steps, for the plumbing; not the paper's model): " if meta.get("smoke") else ""
        return MethodInfo(
            name="ours-paper", group="ours", version=f"onnx@{file_sha256(weights)[:16]}",
            description=f"{smoke}the paper's recipe: MobileNetV3-Small from scratch ({recipe['text_model']} text "
                        f"tower), trained on {meta.get('device_name', '?')}; ONNX visual tower, the lexicon's text "
                        "vectors precomputed",
            params=onnx_param_count(weights), model_bytes=weights.stat().st_size, licence="Apache-2.0",
            requires=("onnxruntime",), preprocessing=f"greyscale, height {recipe['image_height']}, aspect kept, "
                                                     f"right-padded to {recipe['image_width']}",
            config={"checkpoint": str(self.checkpoint), "recipe": recipe, "trained": meta})

    def _run(self):
        if self._session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = onnx_threads()
            self._session = ort.InferenceSession(str(self.checkpoint / "visual.onnx"), options,
                                                 providers=["CPUExecutionProvider"])
        return self._session

    def embed_images(self, items) -> np.ndarray:
        from ourmodel.images import image_batch

        recipe = self._json("recipe.json")
        batch = image_batch([it.image for it in items], recipe["image_height"], recipe["image_width"])
        return self._run().run(["embedding"], {"image": batch})[0]

    def embed_texts(self, texts, lang: str) -> np.ndarray:
        if self._texts is None:
            lexicon = self._json("lexicon.json")
            self._texts = {(e["lang"], normalise_text(e["text"])): i for i, e in enumerate(lexicon)}
            self._vectors = np.load(self.checkpoint / "text_vectors.npy")
        rows = [self._texts.get((lang, normalise_text(t))) for t in texts]
        unknown = [t for t, r in zip(texts, rows) if r is None]
        if unknown:
            raise MethodOutputError(f"ours-paper embeds the words of its training lexicon only; {unknown[0]!r} ({lang}) "
                                    f"is not in {self.checkpoint / 'lexicon.json'} ({len(unknown)} such words)")
        return self._vectors[rows]
