"""``leaderboard.md`` from ``results/`` alone, deterministically (same files, same bytes).

One table per protocol in the paper's layout, rows grouped by method family,
the best value of each column in bold (reference baselines excluded). A row
made under an older protocol version or on a different dataset is marked
stale; a row computed on a subset of the queries is marked as such.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.efficiency.measure import load_efficiency
from bench.protocols import PROTOCOLS
from bench.results import STATUS_OK, StoredResult, iter_results
from bench.retriever import GROUPS
from bench.schema import LANGUAGES, XLING_DIRECTIONS

GROUP_TITLES = {"reference": "Reference baselines", "two-stage": "Two-stage (OCR, then lexicon matching)",
                "end-to-end": "End-to-end embedding", "vlm": "General vision-language models",
                "ours": "Ours",
                "ablation": "Ours, ablations (`bench ablate`: reduced budget, small train split only; compare within this group)"}
STALE, SUBSET = "†", "‡"
MISSING = "—"


def _fmt(value, digits: int = 4) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _metric(block: dict | None, name: str):
    if not block or name not in block:
        return None
    return block[name]["value"]


class _Column:
    def __init__(self, title: str, getter, *, higher_is_better: bool | None = True, digits: int = 4,
                 ci: str | None = None):
        self.title, self.getter, self.higher, self.digits, self.ci = title, getter, higher_is_better, digits, ci


def _within_columns(include_nes: bool = True) -> list[_Column]:
    cols = [_Column("Acc@1 (95% CI)", lambda r: _metric(r["metrics"]["overall"], "acc@1"), ci="acc@1")]
    cols += [_Column(f"Acc@{k}", lambda r, k=k: _metric(r["metrics"]["overall"], f"acc@{k}")) for k in (3, 5)]
    cols.append(_Column("MRR", lambda r: _metric(r["metrics"]["overall"], "mrr")))
    if include_nes:
        cols.append(_Column("NES", lambda r: _metric(r["metrics"]["overall"], "nes")))
    cols += [_Column(f"Acc@1 {lang}", lambda r, lang=lang: _metric(r["metrics"]["subtasks"].get(lang), "acc@1"))
             for lang in LANGUAGES]
    return cols


def _xling_columns() -> list[_Column]:
    cols = [_Column(f"{a}→{b}", lambda r, n=f"{a}→{b}": _metric(r["metrics"]["subtasks"].get(n), "acc@1"))
            for a, b in XLING_DIRECTIONS]
    cols.append(_Column("Avg (95% CI)", lambda r: _metric(r["metrics"]["overall"], "acc@1"), ci="acc@1"))
    return cols


def _t2i_columns() -> list[_Column]:
    cols = [_Column("mAP (95% CI)", lambda r: _metric(r["metrics"]["overall"], "map"), ci="map"),
            _Column("Acc@1", lambda r: _metric(r["metrics"]["overall"], "acc@1")),
            _Column("MRR", lambda r: _metric(r["metrics"]["overall"], "mrr"))]
    cols += [_Column(f"mAP {lang}", lambda r, lang=lang: _metric(r["metrics"]["subtasks"].get(lang), "map"))
             for lang in LANGUAGES]
    return cols


def _rd_columns() -> list[_Column]:
    def img(field):
        return lambda r: ((r["metrics"].get("image") or {}).get("all") or {}).get(field)
    return [_Column("Radius r̄", img("radius"), higher_is_better=None),
            _Column("Distance d̄", img("distance"), higher_is_better=None),
            _Column("R/D (images) ↓", img("ratio"), higher_is_better=False),
            _Column("R/D (images+texts) ↓", lambda r: (r["metrics"].get("image+text") or {}).get("ratio"),
                    higher_is_better=False)]


TABLES = (
    ("id", "Within-language retrieval, in-domain styles (`id`)", lambda: _within_columns()),
    ("ood", "Within-language retrieval, out-of-domain styles (`ood`)", lambda: _within_columns()),
    ("xling", "Cross-lingual retrieval, Acc@1 (`xling`, image language → lexicon language)", _xling_columns),
    ("t2i", "Text → image retrieval (`t2i`)", _t2i_columns),
    ("rd", "Embedding topology on the OOD set (`rd`)", _rd_columns),
)


def _reference_fingerprint(results: list[StoredResult]) -> str | None:
    counts = Counter(r.data["dataset"]["fingerprint"] for r in results if r.status == STATUS_OK)
    if not counts:
        return None
    top = max(counts.values())
    return min(fp for fp, c in counts.items() if c == top)


def _latency(by_method: dict[str, list[StoredResult]], method: str):
    for r in by_method.get(method, []):
        lat = (r.data.get("timings") or {}).get("latency_ms_per_image")
        if lat is not None:
            return lat
    return None


def build_leaderboard(results_dir: Path) -> str:
    results = iter_results(results_dir)
    ref_fp = _reference_fingerprint(results)
    by_method: dict[str, list[StoredResult]] = {}
    for r in results:
        by_method.setdefault(r.method, []).append(r)
    for rs in by_method.values():
        rs.sort(key=lambda r: list(PROTOCOLS).index(r.protocol) if r.protocol in PROTOCOLS else 99)

    lines = ["# hwr-bench leaderboard", "",
             "Generated by `bench leaderboard` from the result files in `results/`; do not edit by hand.",
             ""]
    if ref_fp:
        names = sorted({r.data["dataset"]["name"] for r in results
                        if r.status == STATUS_OK and r.data["dataset"]["fingerprint"] == ref_fp})
        notes = sorted({r.data["dataset"].get("note") or "" for r in results
                        if r.data["dataset"]["fingerprint"] == ref_fp} - {""})
        lines += [f"Dataset: {', '.join(names)} (fingerprint `{ref_fp[:16]}`)."
                  + "".join(f" Note: {n}." for n in notes), ""]
    efficiency = load_efficiency(results_dir)
    used_marks: set[str] = set()
    for protocol, title, columns_fn in TABLES:
        rows = [r for r in results if r.protocol == protocol and r.status == STATUS_OK]
        if not rows:
            continue
        table, marks = _table(rows, columns_fn(), ref_fp, by_method, efficiency)
        used_marks |= marks
        lines += [f"## {title}", "", PROTOCOLS[protocol].description + ".", "", table, ""]

    if used_marks:
        lines.append("Marks:")
        if STALE in used_marks:
            lines.append(f"- {STALE} stale: made under an older protocol version or on a different "
                         "dataset than the other rows; re-run it.")
        if SUBSET in used_marks:
            lines.append(f"- {SUBSET} computed on a subset of the queries (`--limit`).")
        lines.append("")

    lines += ["Run latency is the evaluation run's own time per computed image (batched); "
              "`bench efficiency` measures latency properly (table below).", ""]
    lines += _efficiency_section(efficiency, results)
    figures = sorted(p.name for p in (Path(results_dir) / "plots").glob("*.png"))
    if figures:
        lines += ["## Plots", "", "Made by `bench plot` from these results:", ""]
        lines += [f"- [{name}]({Path(results_dir).name}/plots/{name})" for name in figures]
        lines.append("")

    not_run = [r for r in results if r.status != STATUS_OK]
    if not_run:
        lines += ["## Not in the tables", ""]
        for r in sorted(not_run, key=lambda r: (r.method, r.protocol)):
            err = r.data.get("error") or {}
            reason = err.get("reason") or err.get("message") or ""
            fix = f" Fix: {err['fix']}" if err.get("fix") else ""
            lines.append(f"- `{r.method}` / `{r.protocol}`: {r.status}. {reason}{fix}".rstrip())
        lines.append("")
    lines += ["Metric definitions are in `bench/metrics.py`; intervals are 95% percentile bootstrap "
              "intervals over queries (stratified by language or direction).", ""]
    return "\n".join(lines)


def _table(rows: list[StoredResult], columns: list[_Column], ref_fp, by_method,
           efficiency: dict[str, dict]) -> tuple[str, set[str]]:
    values = {id(r): [c.getter(r.data) for c in columns] for r in rows}
    best: list = []
    for i, c in enumerate(columns):
        pool = [values[id(r)][i] for r in rows
                if r.data["method"]["group"] != "reference" and values[id(r)][i] is not None]
        if not pool or c.higher is None:
            best.append(None)
        else:
            best.append(max(pool) if c.higher else min(pool))

    header = ["Method"] + [c.title for c in columns] + ["Params (M)", "Weights (MB)", "Run latency (ms/img)"]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    marks: set[str] = set()
    groups = sorted({r.data["method"]["group"] for r in rows},
                    key=lambda g: (GROUPS.index(g) if g in GROUPS else len(GROUPS), g))
    for group in groups:
        out.append("| " + " | ".join([f"*{GROUP_TITLES.get(group, group)}*"] + [""] * (len(header) - 1)) + " |")
        for r in sorted((r for r in rows if r.data["method"]["group"] == group), key=lambda r: r.method):
            name = f"`{r.method}`"
            spec = PROTOCOLS.get(r.protocol)
            if (spec and r.data["protocol"]["version"] != spec.version) or r.data["dataset"]["fingerprint"] != ref_fp:
                name += f" {STALE}"
                marks.add(STALE)
            if r.data["config"].get("limit") is not None:
                name += f" {SUBSET}"
                marks.add(SUBSET)
            cells = [name]
            for i, c in enumerate(columns):
                v = values[id(r)][i]
                text = _fmt(v, c.digits)
                if v is not None and best[i] is not None and v == best[i]:
                    text = f"**{text}**"
                if c.ci and v is not None:
                    ci = ((r.data["metrics"].get("overall") or {}).get(c.ci) or {}).get("ci95")
                    if ci:
                        text += f" ({ci[0]:.3f}–{ci[1]:.3f})"
                cells.append(text)
            # Sizes from `bench efficiency` where measured (newer than a result's own record).
            measured = efficiency.get(r.method, {})
            params = measured.get("params", r.data["method"].get("params"))
            cells.append(MISSING if params is None else f"{params / 1e6:.2f}")
            size = measured.get("model_bytes", r.data["method"].get("model_bytes"))
            cells.append(MISSING if size is None else f"{size / 1e6:.1f}")
            latency = _latency(by_method, r.method)
            cells.append(MISSING if latency is None else f"{latency:.2f}")
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out), marks


def _acc(results: list[StoredResult], method: str, protocol: str, metric: str = "acc@1"):
    for r in results:
        if r.method == method and r.protocol == protocol and r.status == STATUS_OK:
            return _metric(r.data["metrics"]["overall"], metric)
    return None


def _efficiency_section(by_name: dict[str, dict], results: list[StoredResult]) -> list[str]:
    if not by_name:
        return []

    def num(value, scale=1.0, digits=2):
        return MISSING if value is None else f"{value / scale:.{digits}f}"

    out = ["## Efficiency (`bench efficiency`)", "",
           "Per query image, measured on this machine by `bench efficiency` (latency: median of single-image "
           "calls after warm-up, and per image in a batch of the sample). MACs count the weight layers "
           "(`compute_layers`); CIM is an *estimate* on a simulated NeuRRAM-like RRAM chip (array work "
           "only: no digital ops or data movement; `bench/efficiency/cim.py`).", "",
           "| Method | Params (M) | Weights (MB) | MACs (M) | Latency b1 (ms) | Latency batched (ms/img) | "
           "Peak RSS (MB) | OOD Acc@1 | CIM int8 energy (µJ) | CIM int8 latency (ms) | CIM int8 pipelined "
           "(ms/img) | CIM int4 energy (µJ) | CIM cores |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in sorted(by_name):
        r = by_name[name]
        lat = r.get("latency_ms", {})
        batched = next((v for k, v in sorted(lat.items()) if k != "batch1"), None)
        cim = r.get("cim") or {}
        out.append("| " + " | ".join([
            f"`{name}`", num(r.get("params"), 1e6), num(r.get("model_bytes"), 1e6, 1),
            num(r.get("macs_per_image"), 1e6, 1), num(lat.get("batch1")), num(batched),
            num(r.get("peak_rss_mb"), 1, 0), num(_acc(results, name, "ood"), 1, 4),
            num((cim.get("int8") or {}).get("energy_uj"), 1, 1), num((cim.get("int8") or {}).get("latency_us"), 1e3, 1),
            num((cim.get("int8") or {}).get("pipelined_us_per_image"), 1e3, 3),
            num((cim.get("int4") or {}).get("energy_uj"), 1, 1),
            MISSING if not cim else str(cim["int8"]["cores"])]) + " |")
    quantised = [(n, r["method"]["config"]["quantized_from"]) for n, r in sorted(by_name.items())
                 if (r["method"].get("config") or {}).get("quantized_from") in by_name]
    if quantised:
        out += ["", "int8 against fp32 (accuracy change on every protocol, measured speed-up on this CPU):", "",
                "| Method | vs | Δ Acc@1 id | Δ Acc@1 ood | Δ Acc@1 xling | Δ mAP t2i | speed-up b1 | speed-up batched |",
                "|---|---|---:|---:|---:|---:|---:|---:|"]
        for name, base in quantised:
            deltas = []
            for protocol, metric in (("id", "acc@1"), ("ood", "acc@1"), ("xling", "acc@1"), ("t2i", "map")):
                a, b = _acc(results, name, protocol, metric), _acc(results, base, protocol, metric)
                deltas.append(MISSING if a is None or b is None else f"{a - b:+.4f}")
            lat, base_lat = by_name[name]["latency_ms"], by_name[base]["latency_ms"]
            ups = [f"{base_lat[k] / lat[k]:.2f}×" if lat.get(k) and base_lat.get(k) else MISSING
                   for k in ("batch1", next((k for k in sorted(lat) if k != "batch1"), ""))]
            out.append("| " + " | ".join([f"`{name}`", f"`{base}`", *deltas, *ups]) + " |")
    out.append("")
    return out


def write_leaderboard(results_dir: Path, out: Path) -> str:
    from bench.io import write_bytes_atomic

    text = build_leaderboard(results_dir)
    write_bytes_atomic(out, text.encode())
    return text
