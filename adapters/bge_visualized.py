"""``bge-visualized``: BGE-Visualized (the paper's BGE-Visualized row) through FlagEmbedding 1.2.11,
the last release that ships ``FlagEmbedding.visual`` (later ones moved it to research code).

FlagEmbedding's ``Visualized_BGE`` joins an EVA-CLIP image encoder to the BGE-M3 text model; it
needs the text model (``BAAI/bge-m3``, a transformers checkpoint) and the visual weights
(``Visualized_m3.pth`` in ``BAAI/bge-visualized``), both looked up locally first and downloaded when
the run may download (``adapters.weights``). Images and words are encoded as the model card does
(``encode_image`` on its own preprocessing, ``encode_text`` on the tokenizer's output), L2-normalised,
ranked by cosine. Extra ``[bge]``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from adapters.weights import CHECKPOINT_FILES, download, download_file, find_weights
from bench.api import Availability, EmbeddingRetriever, MethodInfo, file_sha256, downloads_allowed
from adapters.ocr_packages import package_version

TEXT_REPO = "BAAI/bge-m3"
VISUAL_REPO = "BAAI/bge-visualized"
VISUAL_FILE = "Visualized_m3.pth"


class BGEVisualized(EmbeddingRetriever):
    batch_size = 16

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.text = find_weights(TEXT_REPO)
        self.visual = find_weights(VISUAL_REPO, marker=VISUAL_FILE)
        self._model = None

    def fetch_weights(self) -> None:
        self.text = download(self.text, CHECKPOINT_FILES)
        if not self.visual.found and downloads_allowed():
            path, _why = download_file(VISUAL_REPO, (VISUAL_FILE,))
            if path is not None:
                self.visual = find_weights(VISUAL_REPO, path.parent, marker=VISUAL_FILE)

    def availability(self) -> Availability:
        for module, dist in (("FlagEmbedding", "FlagEmbedding"), ("torch", "torch")):
            if importlib.util.find_spec(module) is None:
                return Availability.no(f"{dist} is not installed (extra [bge])", "pip install -e '.[bge]'")
        for lookup in (self.text, self.visual):
            if not lookup.found:
                return Availability.no(lookup.reason(), lookup.fix("bge-visualized"))
        return Availability.yes()

    @property
    def _visual_file(self) -> Path | None:
        return self.visual.path / VISUAL_FILE if self.visual.found else None

    @property
    def info(self) -> MethodInfo:
        weights = self._visual_file
        return MethodInfo(
            name="bge-visualized", group="end-to-end",
            version=f"FlagEmbedding {package_version('FlagEmbedding')}/{VISUAL_FILE}@"
                    f"{file_sha256(weights)[:16] if weights else 'missing'}",
            description="BGE-Visualized (EVA-CLIP image encoder + BGE-M3) via FlagEmbedding; cosine",
            licence="MIT (see the model card)", requires=("extra [bge]",),
            preprocessing="greyscale to RGB, then the model's own preprocessing",
            config={"text_repo": TEXT_REPO, "visual_repo": VISUAL_REPO, "visual_file": VISUAL_FILE})

    def _load(self):
        if self._model is None:
            import torch
            from FlagEmbedding.visual.modeling import Visualized_BGE

            model = Visualized_BGE(model_name_bge=str(self.text.path), model_weight=str(self._visual_file))
            self._model = (model.eval(), torch)
        return self._model

    def embed_images(self, items) -> np.ndarray:
        model, torch = self._load()
        batch = torch.stack([model.preprocess_val(it.image.convert("RGB")) for it in items])
        with torch.inference_mode():
            vectors = model.encode_image(batch)
        return torch.nn.functional.normalize(vectors.float(), dim=-1).numpy()

    def embed_texts(self, texts, lang: str) -> np.ndarray:
        model, torch = self._load()
        tokens = model.tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True)
        with torch.inference_mode():
            vectors = model.encode_text(tokens)
        return torch.nn.functional.normalize(vectors.float(), dim=-1).numpy()
