"""The paper's training recipe (section 4.1 and 3.3) as data: one frozen dataclass, read by the
trainer, the CLI (``--set KEY=VALUE``) and the docs; and each departure from the paper, said once.
"""

from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, fields, replace

from bench.api import HwrBenchError, did_you_mean
from ourmodel.train import TrainConfigError, check_option_type

DEVICES = ("auto", "cpu", "cuda")


class RecipeError(HwrBenchError, ValueError):
    """An option of the paper recipe that cannot be used; names the option."""


@dataclass(frozen=True)
class PaperRecipe:
    # the visual tower (section 4.1)
    visual: str = "mobilenetv3-small"        # from scratch, 1.29M parameters with its projector
    image_height: int = 32
    image_width: int = 128
    # the text tower: a multilingual DistilBERT, bottom layers frozen (section 4.1); "anchors" trains a
    # projector on the packed frozen anchors instead (where transformers or the weights are missing)
    text_model: str = "distilbert-base-multilingual-cased"
    text_trainable_layers: int = 2           # the top layers trained; the paper does not say how many
    text_max_length: int = 16
    # the shared space and the objective (section 3.3)
    embed_dim: int = 128
    temperature_init: float = 0.07           # learnable, CLIP's log parametrisation
    lam: float = 1.0                         # L = L_con + lambda * L_sem
    # batches: several instances per semantic id, as many ids as there are categories (capped)
    instances: int = 3
    ids_per_batch: int = 0                   # 0: every category of the training data in each batch
    max_batch: int = 4096
    # optimisation: AdamW, two stages (pre-training on renders, fine-tuning on real handwriting)
    lr_pretrain: float = 1e-4
    lr_finetune: float = 1e-5
    epochs_pretrain: int = 20
    epochs_finetune: int = 20
    weight_decay: float = 0.01
    pretrain_samples: int = 262_144          # the paper's synthetic pre-training set
    # the run
    augment: bool = True                     # on the device: scale, shift, shear, stroke width, contrast, noise
    steps: int = 0                           # >0: stop each stage after this many steps (smoke runs)
    val_every: int = 200
    seed: int = 0

    def __post_init__(self):
        hints = typing.get_type_hints(PaperRecipe)
        for f in fields(self):
            try:
                check_option_type(f.name, getattr(self, f.name), hints[f.name])
            except TrainConfigError as exc:
                raise RecipeError(f"paper recipe option {exc}") from None
        for name in ("image_height", "image_width", "embed_dim", "instances", "max_batch", "val_every"):
            if getattr(self, name) < 1:
                raise RecipeError(f"paper recipe option {name}: must be at least 1, not {getattr(self, name)}")
        if self.image_height % 16 or self.image_width % 16:
            raise RecipeError("paper recipe options image_height and image_width: multiples of 16 (the tower "
                              f"down-samples by 16), not {self.image_height}x{self.image_width}")

    def with_overrides(self, overrides: dict) -> "PaperRecipe":
        known = [f.name for f in fields(self)]
        for key in overrides:
            if key not in known:
                raise RecipeError(f"paper recipe has no option {key!r}{did_you_mean(key, known)} "
                                  f"(known: {', '.join(known)})")
        return replace(self, **overrides)

    def to_json(self) -> dict:
        return asdict(self)


PAPER = PaperRecipe()


@dataclass(frozen=True)
class Departure:
    what: str
    paper: str
    here: str
    why: str


# Where this implementation of the recipe differs from the paper, each with what it affects.
DEPARTURES: tuple[Departure, ...] = (
    Departure("frozen DistilBERT layers", "\"bottom layers\" (count not given)",
              f"all but the top {PAPER.text_trainable_layers} of 6, and the embeddings",
              "the paper does not say how many; option text_trainable_layers"),
    Departure("text tower on a machine without transformers or the weights", "DistilBERT",
              "text_model=anchors: the frozen multilingual USE anchors packed with the data, and a trained "
              "projector", "the lent GPU machines have torch but neither transformers nor a hub"),
    Departure("batch size", "sized to the category count",
              f"instances x categories, capped at {PAPER.max_batch}",
              "every category in each batch (the small tier's 1,257 x 3 = 3,771 fit one GPU); the cap bounds "
              "memory for larger lexicons, and a CPU run lowers it"),
    Departure("pre-training data", "262k synthetic renders (unreleased)",
              "`bench data build --size paper-train` (70 renders per word and language: 263,970, deterministic "
              "per seed); the default pack is the small tier's 15,084 train renders, augmented on the device",
              "the paper's renders and fonts are not released; the 64 MiB a lent GPU machine carries"),
    Departure("fine-tuning data", "IAM + HWDB1.0",
              "any imported dataset (`bench data import iam|hwdb|table`) or the hand tier's train split",
              "IAM and HWDB need registration; the hand tier is calibrated to them"),
    Departure("input size", "not given", f"{PAPER.image_height}x{PAPER.image_width} grey, aspect kept, right-padded",
              "word images; the tower keeps horizontal resolution in its last stages"),
    Departure("inference", "PyTorch on an RTX 4090",
              "the visual tower in ONNX (onnxruntime, CPU), the lexicon's text vectors precomputed",
              "every shipped method runs without torch"),
)
