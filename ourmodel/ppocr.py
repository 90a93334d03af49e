"""Frozen pretrained reading backbones: PP-OCR recognisers shipped in RapidOCR's wheels
(Apache-2.0), run with onnxruntime.

Two backbones, each a source of per-frame inputs (B, 40, C) for a 48 x 320 image that the
trainable ``SequenceHeadTower`` pools and projects:

* ``ppocrv4-features`` (generation 1): PP-OCRv4 (``rapidocr-onnxruntime``) cut before its CTC
  classifier: the recogniser's 120-d sequence feature.
* ``ppocrv6-posteriors`` (generation 2): PP-OCRv6 small (``rapidocr==3.10.0``), whole: the
  log-posteriors of its character classifier grouped onto an *alphabet* (the case-folded
  characters of the training lexicon; each letter's case variants summed, as the CTC lexicon
  scorer does) and blank and space, the classifier cut to those classes. What the classifier learnt from
  vastly more text than our 16 training styles is the head's input, not a feature the head must
  learn to read.

Preprocessing follows RapidOCR: resize to height 48 keeping the aspect ratio (capped at width
320), scale to [-1, 1], pad the right with zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from methodkit.wheel_model import PPOCR_V4_WHEEL, PPOCR_V6_WHEEL, WheelModel, onnx_threads

if TYPE_CHECKING:
    from PIL import Image

HEIGHT, WIDTH = 48, 320
LOG_FLOOR = 1e-4      # log(p + floor): a posterior's log without -inf, as the head's input


class BackboneUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Backbone:
    name: str
    model: WheelModel
    short: str                          # "PP-OCRv4"
    label: str
    feature_tensor: str | None = None   # a sequence feature to cut the graph at; None: posteriors
    # Images per onnxruntime call. PP-OCRv6 is fastest in small batches (2 threads, 48 x 320: 21 ms
    # per image at 8, 25 at 32); PP-OCRv4's results were made at 32, which its int8 outputs depend on.
    batch: int = 32

    @property
    def posteriors(self) -> bool:
        return self.feature_tensor is None

    def path(self):
        availability = self.model.availability()
        if not availability.ok:
            raise BackboneUnavailable(f"{availability.reason} ({availability.fix})")
        return self.model.path()

    def digest(self) -> str:
        self.path()   # raises BackboneUnavailable with the fix
        return self.model.sha256()

    def onnx_model(self, alphabet: str = ""):
        """The graph the inputs come from. A feature backbone is cut at its feature, the CTC
        classifier's nodes removed (onnxruntime would still run them). A posterior backbone keeps
        only the classifier columns of blank, space and ``alphabet``'s characters (their case
        variants): its softmax is then over those classes, i.e. the posterior given that the
        image is written in the lexicon's characters, and costs 16x less than over all 18,710."""
        import onnx

        model = onnx.load(str(self.path()))
        if self.feature_tensor is None:
            return _restrict_classifier(model, classes(charset_of(model), alphabet))
        needed, kept = {self.feature_tensor}, []
        for node in reversed(model.graph.node):
            if needed & set(node.output):
                kept.append(node)
                needed |= set(node.input)
        del model.graph.node[:]
        model.graph.node.extend(reversed(kept))
        del model.graph.output[:]
        model.graph.output.append(onnx.helper.make_tensor_value_info(self.feature_tensor, onnx.TensorProto.FLOAT, None))
        return model


def charset_of(model) -> list[str]:
    """A RapidOCR recogniser's classes: blank, the dictionary in its metadata, space."""
    meta = {p.key: p.value for p in model.metadata_props}
    return ["<blank>"] + meta["character"].splitlines() + [" "]


GROUPS_BEFORE_ALPHABET = ("<blank>", " ")   # the posterior groups' order: these, then the alphabet's


def group_charset(alphabet: str) -> list[str]:
    """What each posterior group reads, in the order of the head's inputs (``classes``)."""
    return [*GROUPS_BEFORE_ALPHABET, *alphabet]


def posteriors_of(inputs: np.ndarray) -> np.ndarray:
    """A posterior backbone's head inputs, ``log(p + LOG_FLOOR)``, back to posteriors (float64)."""
    return np.clip(np.exp(inputs.astype(np.float64)) - LOG_FLOOR, 0.0, 1.0)


def classes(charset: Sequence[str], alphabet: str) -> list[list[int]]:
    """Class indices per posterior group: blank, space, then each alphabet character's case
    variants (a character the recogniser cannot output, like "¡" for PP-OCRv6, has none)."""
    index = {c: i for i, c in enumerate(charset) if i}
    return [[0], [index[" "]]] + [sorted({index[v] for v in (c, c.upper()) if v in index}) for c in alphabet]


def _restrict_classifier(model, groups: list[list[int]]):
    """Keep the classifier's columns of ``groups``' classes, in group order."""
    from onnx import numpy_helper

    keep = np.array([i for g in groups for i in g], dtype=np.int64)
    inits = {t.name: t for t in model.graph.initializer}
    n_classes = len(charset_of(model))
    for node in model.graph.node:
        if node.op_type in ("MatMul", "Add") and len(node.input) == 2 and node.input[1] in inits:
            array = numpy_helper.to_array(inits[node.input[1]])
            if array.shape and array.shape[-1] == n_classes:
                inits[node.input[1]].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array[..., keep]),
                                                                      node.input[1]))
    # The stored shapes of the classifier's tensors say 18,710 classes; onnxruntime infers them anew.
    del model.graph.value_info[:]
    model.graph.output[0].type.tensor_type.shape.dim[-1].dim_value = len(keep)
    return model


PPOCR_V4 = Backbone("ppocrv4-features", PPOCR_V4_WHEEL, "PP-OCRv4", "PP-OCRv4 rec (ch_PP-OCRv4_rec_infer.onnx, rapidocr-onnxruntime), frozen, 120-d sequence feature",
                    feature_tensor="transpose_51.tmp_0")
PPOCR_V6 = Backbone("ppocrv6-posteriors", PPOCR_V6_WHEEL, "PP-OCRv6", "PP-OCRv6 small rec (PP-OCRv6_rec_small.onnx, rapidocr 3.10.0), frozen, log-posteriors "
                    "over the lexicon's alphabet", batch=8)
BACKBONES = {b.name: b for b in (PPOCR_V4, PPOCR_V6)}


def backbone(name: str) -> Backbone:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r} (choose from {', '.join(BACKBONES)})")
    return BACKBONES[name]


def lexicon_alphabet(words: Sequence[str]) -> str:
    """The characters of ``words``, case-folded, sorted, without space: the posterior groups."""
    return "".join(sorted({c for w in words for c in w.lower()} - {" "}))


def preprocess(images: Sequence["Image.Image"]) -> np.ndarray:
    from PIL import Image

    batch = np.zeros((len(images), 3, HEIGHT, WIDTH), dtype=np.float32)
    for i, im in enumerate(images):
        w = min(WIDTH, max(1, int(np.ceil(HEIGHT * im.width / im.height))))
        arr = np.asarray(im.convert("L").resize((w, HEIGHT), Image.BILINEAR), dtype=np.float32)
        batch[i, :, :, :w] = (arr / 255.0 - 0.5) / 0.5
    return batch


class PosteriorGroups:
    """Sums the restricted classifier's posteriors onto their groups (a letter's case variants
    are one group, as in the CTC lexicon scorer) and takes the log."""

    def __init__(self, groups: list[list[int]]):
        sizes = [len(g) for g in groups]
        self.size = len(groups)
        self.group_of = np.repeat(np.arange(len(groups)), sizes)
        self.pairs = [g for g in range(len(groups)) if sizes[g] > 1]
        self.single = np.array([g for g in range(len(groups)) if sizes[g] == 1])
        starts = np.cumsum([0] + sizes[:-1])
        self.single_col = starts[self.single] if len(self.single) else np.zeros(0, np.int64)

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        """(B, T, restricted classes) posteriors -> (B, T, groups) log-posteriors."""
        out = np.zeros(probs.shape[:-1] + (self.size,), dtype=np.float32)
        out[..., self.single] = probs[..., self.single_col]
        for g in self.pairs:
            out[..., g] = probs[..., self.group_of == g].sum(-1)
        return np.log(out + LOG_FLOOR)


class SharedPosteriorInputs:
    """A posterior backbone's head inputs from the recogniser's one shared pass over each image
    (``methodkit.network_pass``, the pass ``ppocrv6`` and ``ppocrv6-ctc`` read): the whole
    classifier's posteriors renormalised over the alphabet's classes (the restricted classifier of
    ``PPOCRFeatures`` computes the same softmax over fewer columns, to float rounding), grouped and
    logged. The pass's input differs from ``PPOCRFeatures``' (which training and ``ours-int8`` use):
    RGB rather than greyscale (the same for grey images) and each image at its own padded width, so
    a word wider than 320 px at height 48 is not squeezed: (T_i, groups)."""

    def __init__(self, source: Backbone, alphabet: str, threads: int | None = None):
        from methodkit.network_pass import PosteriorPass

        if not source.posteriors or not alphabet:
            raise ValueError(f"backbone {source.name} has no posteriors to share, or no alphabet was given")
        self.network = PosteriorPass(source.model, "pil", threads)
        groups = classes(self.network.charset, alphabet)
        self.keep = np.array([i for g in groups for i in g], dtype=np.int64)
        self.groups = PosteriorGroups(groups)

    def __call__(self, images: Sequence["Image.Image"]) -> list[np.ndarray]:
        return self.from_posteriors(self.network(images))

    def from_posteriors(self, posteriors: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The head's inputs from the pass's (T_i, classes) posteriors, for a caller that reads them too."""
        out = []
        for probs in posteriors:
            kept = probs[:, self.keep]
            out.append(self.groups((kept / kept.sum(-1, keepdims=True))[None])[0])
        return out


class PPOCRFeatures:
    """Per-frame inputs of a frozen PP-OCR backbone (``alphabet`` for a posterior backbone)."""

    def __init__(self, threads: int | None = None, model=None, source: Backbone = PPOCR_V4, alphabet: str = ""):
        import onnxruntime as ort

        if source.posteriors and not alphabet:
            raise ValueError(f"backbone {source.name} needs the alphabet its head was trained on")
        model = model if model is not None else source.onnx_model(alphabet)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or onnx_threads()
        # Idle onnxruntime threads otherwise spin for a while after each run, stealing the cores
        # from the numpy head that runs next (measured: 25 -> 12 ms per single image).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        self.groups = None
        self.batch = source.batch
        if source.posteriors:
            self.groups = PosteriorGroups(classes(charset_of(model), alphabet))

    def __call__(self, images: Sequence["Image.Image"], batch_size: int | None = None) -> np.ndarray:
        batch_size = batch_size or self.batch
        out = []
        for i in range(0, len(images), batch_size):
            x = self.session.run([self.output_name], {self.input_name: preprocess(images[i:i + batch_size])})[0]
            out.append(x if self.groups is None else self.groups(x))
        if out:
            return np.concatenate(out)
        width = self.session.get_outputs()[0].shape[-1] if self.groups is None else self.groups.size
        return np.zeros((0, WIDTH // 8, width if isinstance(width, int) else 0), dtype=np.float32)
