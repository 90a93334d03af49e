"""The R/D protocol: how tight and how separated the semantic classes of a method's embeddings are.

Reported per language (a class is one word's renders in that language), pooled over
languages (a class is a concept's renders in every language) and for images and lexicon
texts together, each with the class sizes used and ``random_rd``, the figure structureless
random vectors of the same dimension get at the same class sizes. The embeddings come from the
method's family operations (``bench.engine.families``): this module never calls a method.
"""

from __future__ import annotations

import numpy as np

from bench.data.schema import LANGUAGES
from bench.evaluation.metrics import random_rd, rd_ratio
from bench.evaluation.protocols import TopologyTask


def rd_block(x: np.ndarray, ids: list[int]) -> dict:
    """R/D of one set of embeddings grouped by ``ids``, with its class sizes and random reference."""
    t = rd_ratio(x, ids)
    return {"radius": round(t.radius, 6), "distance": round(t.distance, 6), "ratio": round(t.ratio, 6),
            "random_rd": round(random_rd(ids, x.shape[1]), 6), "n_classes": t.n_classes, "n_points": t.n_points,
            "class_sizes": {str(size): n for size, n in sorted(t.class_sizes.items())}}


def topology(task: TopologyTask, ds, images: np.ndarray, texts: np.ndarray) -> dict:
    """The R/D block of a result: ``images`` and ``texts`` are the method's embeddings of
    ``task.image_keys`` and ``task.text_keys`` (rows in that order), ``ds`` their dataset."""
    img_ids = [ds.sample(k).semantic_id for k in task.image_keys]
    img_langs = [ds.sample(k).lang for k in task.image_keys]
    txt_ids = [ds.lexicon_entry(k).semantic_id for k in task.text_keys]

    image_stats = {"pooled": rd_block(images, img_ids)}
    for lang in LANGUAGES:
        sel = [i for i, l in enumerate(img_langs) if l == lang]
        if sel:
            image_stats[lang] = rd_block(images[sel], [img_ids[i] for i in sel])
    joint = rd_block(np.concatenate([images, texts]), img_ids + txt_ids)

    # Distances between the language centroids of the image embeddings (the paper's Figure 4).
    unit = images / np.linalg.norm(images, axis=1, keepdims=True).clip(min=1e-12)
    centroids = {lang: unit[[i for i, l in enumerate(img_langs) if l == lang]].mean(0)
                 for lang in LANGUAGES if lang in img_langs}
    langs = sorted(centroids)
    centroid_dist = {f"{a}-{b}": round(float(np.linalg.norm(centroids[a] - centroids[b])), 6)
                     for i, a in enumerate(langs) for b in langs[i + 1:]}
    return {"image": image_stats, "image+text": joint, "language_centroid_distances": centroid_dist}
