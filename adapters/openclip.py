"""``openclip:<arch>/<tag>``: any open_clip model (extra ``[clip]``; open_clip needs torchvision).

Weights are a local file, looked up in order:
``--option openclip:<arch>/<tag>.model_path=FILE_OR_DIR`` (or ``bench run
--model-path``), ``$HWR_BENCH_MODELS/openclip/<arch>/<tag>/``, then the
Hugging Face cache of the tag's hub repository; not found, it is downloaded
from that repository when the run is online (not ``--offline``/``HF_HUB_OFFLINE=1``). A folder is searched for
``open_clip_model.safetensors`` / ``open_clip_pytorch_model.bin``. Images are
letterboxed to a white square (see ``adapters.hf_clip``) and go through the
model's own eval transform.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adapters.hf_clip import letterbox
from adapters.weights import MODELS_ENV, download_file
from bench.api import Availability, EmbeddingRetriever, MethodInfo

WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def _in_folder(folder: Path) -> Path | None:
    return next((folder / f for f in WEIGHT_FILES if (folder / f).is_file()), None)


@dataclass(frozen=True)
class OpenCLIPOptions:
    model_path: Path | None = None   # the weights file, or a folder holding one of WEIGHT_FILES


class OpenCLIP(EmbeddingRetriever):
    Options = OpenCLIPOptions
    batch_size = 32

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        if not spec or "/" not in spec:
            raise ValueError(f"openclip needs <arch>/<tag>, e.g. openclip:ViT-B-32/laion2b_s34b_b79k (got {spec!r})")
        self.arch, self.tag = spec.split("/", 1)
        self._model = None
        self.weights, self.looked = self._find(self.options.model_path)

    def _find(self, explicit) -> tuple[Path | None, list[str]]:
        looked, candidates = [], []
        if explicit:
            candidates.append(Path(explicit).expanduser())
        if os.environ.get(MODELS_ENV):
            candidates.append(Path(os.environ[MODELS_ENV]) / "openclip" / self.arch / self.tag)
        else:
            looked.append(f"${MODELS_ENV} (unset)")
        for c in candidates:
            looked.append(str(c))
            if c.is_file():
                return c, looked
            if c.is_dir() and _in_folder(c):
                return _in_folder(c), looked
        cached = self._hf_cached()
        looked.append(f"Hugging Face cache for {self.arch}/{self.tag}")
        return cached, looked

    def _hf_cached(self) -> Path | None:
        if importlib.util.find_spec("open_clip") is None:
            return None
        try:
            import open_clip
            from huggingface_hub import try_to_load_from_cache

            cfg = open_clip.get_pretrained_cfg(self.arch, self.tag) or {}
            repo = cfg.get("hf_hub", "").rstrip("/")
            for name in WEIGHT_FILES:
                found = try_to_load_from_cache(repo, name) if repo else None
                if isinstance(found, str):
                    return Path(found)
        except Exception:  # an unknown arch/tag: reported as not found, with where we looked
            return None
        return None

    def fetch_weights(self) -> None:
        # The pretrained tag's single weights file from its hub repository (open_clip's own table).
        if self.weights is not None or self.options.model_path or importlib.util.find_spec("open_clip") is None:
            return
        import open_clip

        repo = ((open_clip.get_pretrained_cfg(self.arch, self.tag) or {}).get("hf_hub") or "").rstrip("/")
        if not repo:
            self.looked.append(f"open_clip names no hub repository for {self.arch}/{self.tag}")
            return
        self.weights, note = download_file(repo, WEIGHT_FILES)
        self.looked.append(f"{repo}: {note}")

    def availability(self) -> Availability:
        for module in ("torch", "torchvision", "open_clip"):
            if importlib.util.find_spec(module) is None:
                return Availability.no(f"{module} is not installed (extra [clip])", "pip install -e '.[clip]'")
        if self.weights is None:
            return Availability.no(f"open_clip weights for {self.arch}/{self.tag} not found "
                                   f"(looked in: {'; '.join(self.looked)})",
                                   f"run online without --offline / HF_HUB_OFFLINE=1 and it downloads itself; or "
                                   f"put {WEIGHT_FILES[0]} in $HWR_BENCH_MODELS/openclip/{self.arch}/{self.tag}/ "
                                   f"or pass --option openclip:{self.arch}/{self.tag}.model_path=FILE")
        return Availability.yes()

    @property
    def info(self) -> MethodInfo:
        digest, size = "missing", None
        if self.weights is not None:
            size = self.weights.stat().st_size
            with self.weights.open("rb") as f:
                digest = hashlib.sha256(str(size).encode() + f.read(1 << 20)).hexdigest()[:16]
        return MethodInfo(
            name=f"openclip:{self.spec}", group="end-to-end",
            version=f"open_clip/{self.arch}/{self.tag}@{digest}",
            description=f"open_clip {self.arch} ({self.tag}): cosine between image and text features",
            params=None, model_bytes=size, licence="see the model card", requires=("extra [clip]",),
            preprocessing="greyscale letterboxed to a white square, RGB, then the model's eval transform",
            config={"arch": self.arch, "tag": self.tag})

    def _load(self):
        if self._model is None:
            import open_clip
            import torch

            model, _, transform = open_clip.create_model_and_transforms(self.arch, pretrained=str(self.weights))
            self._model = (model.eval(), transform, open_clip.get_tokenizer(self.arch), torch)
        return self._model

    def embed_images(self, items) -> np.ndarray:
        model, transform, _, torch = self._load()
        batch = torch.stack([transform(letterbox(it.image).convert("RGB")) for it in items])
        with torch.inference_mode():
            return model.encode_image(batch).float().numpy()

    def embed_texts(self, texts, lang: str) -> np.ndarray:
        model, _, tokenizer, torch = self._load()
        with torch.inference_mode():
            return model.encode_text(tokenizer(list(texts))).float().numpy()
