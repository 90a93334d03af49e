"""What the text tower sees of a word: the frozen multilingual anchor, and optionally its spelling.

The multilingual USE anchor maps some distinct Chinese words onto bit-identical vectors (26
lexicon words onto 6: 鳄鱼 / 鲨鱼 / 鲸鱼 ...), and no projector can separate identical inputs. The
paper's text tower reads subword tokens, so it sees every character; ours gets the same
information from a *spelling vector* appended to the anchor: the word's character unigrams and
bigrams (with word-boundary marks), signed-hashed into ``dim`` buckets and L2-normalised. It is
deterministic, needs no model, and two words share it only if they share every n-gram count.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from methodkit.text_encoder import embed_anchors
from ourmodel.pyramid import Pyramid


def spelling_vectors(texts: Sequence[str], dim: int) -> np.ndarray:
    """(N, dim) L2-normalised signed-hash counts of each text's character 1- and 2-grams."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        marked = f"\x02{text.lower()}\x03"
        grams = [c for c in text.lower()] + [marked[i:i + 2] for i in range(len(marked) - 1)]
        for gram in grams:
            h = zlib.crc32(gram.encode("utf-8"))
            out[row, h % dim] += 1.0 if (h >> 31) & 1 else -1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def text_inputs(texts: Sequence[str], langs: Sequence[str], cache_root: Path | None, spelling_dim: int = 0,
                pyramid: Pyramid | None = None) -> np.ndarray:
    """The text tower's input: the anchor, then (if ``spelling_dim``) the spelling vector, then (if
    ``pyramid``, generation 3) the word's flattened pyramid of characters."""
    parts = [embed_anchors(list(texts), list(langs), cache_root)]
    if spelling_dim:
        parts.append(spelling_vectors(texts, spelling_dim))
    if pyramid is not None:
        parts.append(pyramid.words(texts).reshape(len(texts), -1))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def checkpoint_pyramid(config: dict) -> Pyramid | None:
    """The pyramid a checkpoint's ``config.json`` reads (None: a generation 1 or 2 head)."""
    levels = config.get("pyramid_levels") or []
    return Pyramid(config["alphabet"], tuple(levels)) if levels else None


def checkpoint_text_inputs(config: dict, texts: Sequence[str], langs: Sequence[str],
                           cache_root: Path | None) -> np.ndarray:
    """``text_inputs`` as the checkpoint with this ``config.json`` reads them."""
    return text_inputs(texts, langs, cache_root, config.get("spelling_dim", 0), checkpoint_pyramid(config))
