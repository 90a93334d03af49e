"""``bench plot``: the figures people would rather look at than read, from ``results/`` alone
(plus, for the embedding projection, one method's cached embeddings).

* ``accuracy_vs_latency.png``: OOD Acc@1 against per-image latency (log), marker area by
  parameter count (the paper's Figure 3);
* ``xling_heatmap.png``: query language x lexicon language Acc@1 per method (diagonal:
  within-language OOD);
* ``projection_<method>.png``: PCA of OOD image and lexicon embeddings, colour = semantic id,
  marker = language (the paper's Figure 4 in spirit);
* ``gallery_size.png``: Acc@1 and search latency per query against gallery size (log), per
  method (the cost of a lexicon that grows);
* ``int8_cim.png``: latency of a quantised method and its fp32 original on this CPU beside the CIM
  estimates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from bench.api.groups import group_info
from bench.data.schema import LANGUAGES
from bench.evaluation.protocols import GALLERY_AXIS, axis_specs, gallery_size_of
from bench.store.efficiency import load_efficiency, quantised_pairs
from bench.store.results import iter_results

MARKERS = {"en": "o", "zh": "s", "es": "^"}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("bench plot needs matplotlib (pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, out: Path) -> Path:
    """PNG bytes that depend on the figure only (no software version or date in the metadata)."""
    # tight_layout ignores a suptitle: keep 0.4 inch free above the panels for it.
    top = 1 - 0.4 / fig.get_figheight() if fig._suptitle is not None else 1
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(out, dpi=120, metadata={"Software": None})
    plt.close(fig)
    return out


def _ok(results, protocol):
    return {r.method_name: r for r in results if r.protocol.name == protocol and r.ok}


def accuracy_vs_latency(results_dir: Path, out: Path) -> Path | None:
    plt = _pyplot()
    results = iter_results(results_dir)
    ood = _ok(results, "ood")
    eff = load_efficiency(results_dir)
    points = []
    for name, r in sorted(ood.items()):
        if not group_info(r.group).contender:
            continue   # ablations run ours' network: same latency, labels on top of each other
        latency = (eff.get(name, {}).get("latency_ms") or {}).get("batch1")
        if latency is None and r.timings is not None:
            latency = r.timings.latency_ms_per_image
        if not latency:
            continue
        points.append((name, latency, r.overall("acc@1"), r.method.get("params") or 0))
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, latency, acc, params in points:
        size = 40 + 400 * np.sqrt(params / 1e7) if params else 40
        ax.scatter(latency, acc, s=size, alpha=0.6)
        ax.annotate(name, (latency, acc), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("latency per image, ms (log; batch 1 where measured by `bench efficiency`)")
    ax.set_ylabel("OOD Acc@1")
    ax.set_title("Accuracy vs latency (marker area ~ parameters; ablations and references left out)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    return _save(plt, fig, out)


def xling_heatmap(results_dir: Path, out: Path) -> Path | None:
    plt = _pyplot()
    results = iter_results(results_dir)
    xling, ood = _ok(results, "xling"), _ok(results, "ood")
    methods = [m for m in sorted(xling) if not group_info(xling[m].group).baseline]
    if not methods:
        return None
    cols = min(3, len(methods))
    rows = int(np.ceil(len(methods) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, methods):
        matrix = np.full((3, 3), np.nan)
        subtasks = xling[name].metrics["subtasks"]
        for i, a in enumerate(LANGUAGES):
            for j, b in enumerate(LANGUAGES):
                block = (ood[name].metrics["subtasks"].get(a) if a == b and name in ood
                         else subtasks.get(f"{a}→{b}"))
                if block:
                    matrix[i, j] = block["acc@1"]["value"]
        ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
        for (i, j), v in np.ndenumerate(matrix):
            if not np.isnan(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black",
                        fontsize=9)
        ax.set_xticks(range(3), LANGUAGES)
        ax.set_yticks(range(3), LANGUAGES)
        ax.set_xlabel("lexicon")
        ax.set_ylabel("image")
        ax.set_title(name, fontsize=9)
    for ax in list(axes.flat)[len(methods):]:
        ax.axis("off")
    fig.suptitle("Acc@1 by image language x lexicon language (diagonal: within-language OOD)", fontsize=10)
    return _save(plt, fig, out)


def gallery_size(results_dir: Path, out: Path) -> Path | None:
    """Acc@1 and ms/query against gallery size, one line per method, from the gallery-axis protocols."""
    plt = _pyplot()
    results = iter_results(results_dir)
    names = {s.name for s in axis_specs(GALLERY_AXIS)}
    lines: dict[str, list[tuple[int, float, float | None]]] = {}
    for r in results:
        if r.ok and r.protocol.name in names and group_info(r.group).contender:
            size = gallery_size_of(r.metrics)
            latency = (r.metrics.get("query_latency_ms") or {}).get("value")
            lines.setdefault(r.method_name, []).append((size, r.overall("acc@1"), latency))
    if not lines:
        return None
    fig, (acc_ax, lat_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    # Distinct colours for up to 20 methods (the default cycle repeats after 10), markers beside them.
    colours, markers = plt.get_cmap("tab20").colors, "osD^v<>ph*"
    sizes = sorted({p[0] for pts in lines.values() for p in pts})
    for i, name in enumerate(sorted(lines)):
        pts = sorted(lines[name])
        style = {"marker": markers[i % len(markers)], "color": colours[(2 * i) % 20 + (i // 10) % 2], "label": name}
        acc_ax.plot([p[0] for p in pts], [p[1] for p in pts], **style)
        timed = [p for p in pts if p[2] is not None]
        lat_ax.plot([p[0] for p in timed], [p[2] for p in timed], **style)
    for ax, label in ((acc_ax, "Acc@1 (test_ood queries)"), (lat_ax, "search latency (ms/query, log)")):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("gallery size (words per language, log)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    lat_ax.set_yscale("log")
    lat_ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle("Gallery size: accuracy and cost as the lexicon grows", fontsize=10)
    return _save(plt, fig, out)


def default_projections(results_dir: Path) -> list[str]:
    """The methods ``bench plot`` projects unless told: of a featured group (``ours``), with an R/D
    result, not quantised."""
    return sorted(r.method_name for r in iter_results(results_dir)
                  if r.protocol.name == "rd" and r.ok and group_info(r.group).featured
                  and "quantized_from" not in (r.method.get("config") or {}))


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The first two principal coordinates, each axis signed so that its largest loading is positive
    (an SVD's signs are arbitrary: without a convention the picture may come out mirrored)."""
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2] * np.sign(vt[:2][np.arange(2), np.abs(vt[:2]).argmax(1)])[:, None]
    return centred @ axes.T


def projection(name: str, dataset, embed: Callable, out: Path, n_ids: int = 12) -> Path:
    """PCA of method ``name``'s OOD image embeddings of ``n_ids`` semantic ids (and their lexicon
    words); ``embed(image_keys, text_keys)`` gives the (image, text) vectors (``bench plot`` hands in
    the engine's ``embeddings``: a view never runs a method itself)."""
    plt = _pyplot()
    ood = dataset.select(split="test_ood")
    ids = sorted({s.semantic_id for s in ood})[:: max(1, len({s.semantic_id for s in ood}) // n_ids)][:n_ids]
    samples = sorted((s for s in ood if s.semantic_id in ids), key=lambda s: s.key)
    words = sorted((e for e in dataset.lexicon if e.semantic_id in ids), key=lambda e: e.key)
    images, texts = embed([s.key for s in samples], [e.key for e in words])
    unit = np.concatenate([images, texts])
    unit = unit / np.linalg.norm(unit, axis=1, keepdims=True).clip(min=1e-12)
    xy = pca_2d(unit)
    colour = {sid: plt.cm.tab20(i % 20) for i, sid in enumerate(ids)}
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    for (x, y), s in zip(xy[:len(samples)], samples):
        ax.scatter(x, y, color=colour[s.semantic_id], marker=MARKERS[s.lang], s=22, alpha=0.75)
    for (x, y), e in zip(xy[len(samples):], words):
        ax.scatter(x, y, color=colour[e.semantic_id], marker=MARKERS[e.lang], s=110, edgecolors="black")
    for lang, marker in MARKERS.items():
        ax.scatter([], [], color="grey", marker=marker, label=lang)
    ax.legend(title="language (large: lexicon word)", fontsize=8)
    ax.set_title(f"{name}: PCA of OOD image and word embeddings, colour = semantic id", fontsize=9)
    return _save(plt, fig, out)


def int8_cim(results_dir: Path, out: Path) -> Path | None:
    """The first quantised method with a measured fp32 original (``config.quantized_from``)."""
    plt = _pyplot()
    eff = load_efficiency(results_dir)
    pairs = quantised_pairs(eff)
    if not pairs:
        return None
    quantised, base = pairs[0]
    bars = [(f"{base} fp32, CPU", eff[base]["latency_ms"]["batch1"]),
            (f"{quantised}, CPU", eff[quantised]["latency_ms"]["batch1"])]
    for precision, record in sorted((eff[base].get("cim") or {}).items()):
        bars.append((f"CIM {precision}, one image (estimate)", record["latency_us"] / 1000))
        bars.append((f"CIM {precision}, pipelined (estimate)", record["pipelined_us_per_image"] / 1000))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.barh([b[0] for b in bars], [b[1] for b in bars], color=[f"C{i}" for i in range(len(bars))])
    for i, (_, value) in enumerate(bars):
        ax.text(value, i, f" {value:.3g} ms", va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("latency per image, ms (log)")
    ax.set_title(f"{base}: fp32 and int8 on this CPU, and the compute-in-memory estimate", fontsize=9)
    return _save(plt, fig, out)
