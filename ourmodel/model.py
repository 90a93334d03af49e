"""The dual encoder as one object: config, towers, temperature, and its checkpoint format.

A checkpoint is a folder with ``model.safetensors`` (tensors) and ``config.json``
(architecture, backbone identity, training data fingerprint, training summary).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from methodkit.text_encoder import ANCHOR_DIM
from ourmodel.towers import EMBED_DIM, MobileNetTower, PyramidTower, SequenceHeadTower, TextProjector


@dataclass
class ModelConfig:
    backbone: str = "ppocr"          # "ppocr" (a frozen PP-OCR backbone's per-frame inputs + head) or "mnv3"
    source: str = "ppocrv4-features"  # for "ppocr": which frozen backbone (ourmodel.ppocr.BACKBONES)
    alphabet: str = ""               # for a posterior source: the characters of its posterior groups
    feature_dim: int = 120           # ppocr per-frame input width
    input_proj: int = 0              # per-frame linear map before the head's convs (0: none)
    embed_dim: int = EMBED_DIM
    anchor: str = "use-multilingual-v3"
    anchor_dim: int = ANCHOR_DIM
    spelling_dim: int = 0            # a spelling vector appended to the anchor (ourmodel.anchors; 0: none)
    pyramid_levels: list = field(default_factory=list)   # generation 3 (ourmodel.pyramid): both towers read
                                     # character-presence pyramids of these levels (empty: the conv head)
    char_dim: int = 128              # generation 3: the shared character embedding's width
    image_height: int = 32           # mnv3 input size
    image_width: int = 192
    extra: dict = field(default_factory=dict)   # provenance: backbone digest, data fingerprint, ...

    @property
    def anchor_width(self) -> int:
        """Columns of the text tower's input that its projector reads (anchor + spelling vector);
        a generation 3 word's pyramid follows them."""
        return self.anchor_dim + self.spelling_dim


class DualEncoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        if config.backbone == "ppocr" and config.pyramid_levels:
            self.visual = PyramidTower(len(config.alphabet), tuple(config.pyramid_levels), config.char_dim,
                                       config.embed_dim)
        elif config.backbone == "ppocr":
            self.visual = SequenceHeadTower(config.feature_dim, config.embed_dim, input_proj=config.input_proj)
        elif config.backbone == "mnv3":
            self.visual = MobileNetTower(config.embed_dim)
        else:
            raise ValueError(f"unknown backbone {config.backbone!r}")
        self.text = TextProjector(config.anchor_width, config.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(float(torch.log(torch.tensor(1 / 0.07)))))

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual(x)

    def encode_texts(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs``: ``ourmodel.anchors.text_inputs``' rows (anchor [+ spelling vector] [+ the word's
        flattened pyramid])."""
        if not self.config.pyramid_levels:
            return self.text(inputs)
        width = self.config.anchor_width
        spelled, _ = self.visual.encoder(inputs[:, width:].reshape(len(inputs), len(self.visual.regions), -1))
        return F.normalize(self.text.project(inputs[:, :width]) + spelled, dim=-1)

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "model.safetensors.tmp"
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, str(tmp))
        tmp.chmod(0o644)
        tmp.replace(folder / "model.safetensors")
        (folder / "config.json.tmp").write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        (folder / "config.json.tmp").replace(folder / "config.json")

    @classmethod
    def load(cls, folder: Path) -> "DualEncoder":
        from safetensors.torch import load_file

        folder = Path(folder)
        config = ModelConfig(**json.loads((folder / "config.json").read_text()))
        model = cls(config)
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        model.eval()
        return model

    def n_params(self, part: str = "visual") -> int:
        module = {"visual": self.visual, "text": self.text}[part]
        return sum(p.numel() for p in module.parameters())
