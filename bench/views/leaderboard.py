"""``leaderboard.md`` from ``results/`` alone, deterministically (same files, same bytes).

One table per registered protocol, with the columns its ``ProtocolSpec`` names,
rows grouped by method group, the best value of each column in bold in the
direction the column states, among the rows that retrieve above chance
(reference baselines excluded). A row made under an older protocol version or on a different dataset is marked
stale; a row computed on a subset of the queries is marked as such.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from bench.api.groups import group_info, group_order
from bench.core.cache import DEFAULT_SIZE, EMBEDDED_TIERS
from bench.core.errors import HwrBenchError
from bench.core.io import write_bytes_atomic
from bench.evaluation.ranking import TIE_POLICY
from bench.evaluation.protocols import GALLERY_AXIS, PROTOCOLS, Column, axis_specs, gallery_size_of, overall
from bench.store.efficiency import load_efficiency, quantised_pairs
from bench.store.records import ResultRecord, Status, describe_error
from bench.store.results import iter_results

STALE, SUBSET = "†", "‡"
MISSING = "—"


@dataclass(frozen=True)
class Cell:
    """One table cell as data: what it shows and what it sorts by; Markdown and HTML render it."""
    text: str
    sort: float | str | None = None    # the value a viewer sorts the column by (None: missing)
    best: bool = False                 # the column's best value (bold)
    code: bool = False                 # a name (Markdown backticks)
    suffix: str = ""                   # marks after the name (stale, subset, answered subtasks)
    interval: str = ""                 # the 95% interval, "0.123–0.456"
    method: str | None = None          # the method this cell names (the report links it)


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...] = ()
    heading: str | None = None         # a group heading row instead of cells


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[Row, ...]
    left: int = 1                      # leading text columns; the rest are numbers (right-aligned)


def _num_cell(value, text: str | None = None, best=None, interval: str = "") -> Cell:
    shown = text if text is not None else _fmt(value)
    return Cell(shown, sort=value, best=value is not None and best is not None and value == best, interval=interval)


# Text from data (method names, reasons, notes, group names) must not change the Markdown's
# structure: a line break would end a table row or a list item and could start a heading, a '|' in
# a table cell would end the cell, and a '<' could open raw HTML. Such text is put on one line, its
# pipes and '<' escaped with a backslash (Markdown shows them plainly), and a name shown as code
# gets a fence its own backticks cannot close.
_LINE_BREAKS = re.compile(r"[ \t]*[\r\n]+[ \t]*")


def one_line(text) -> str:
    """``text`` with every line break (and the blanks around it) made one space."""
    return _LINE_BREAKS.sub(" ", str(text))


def escape_pipes(code: str) -> str:
    """A code span for a table cell: every '|' escaped with a backslash (the table reads it as the
    cell's text, not its end; a code span's backslashes are otherwise literal, so none is doubled)."""
    return code.replace("|", "\\|")


def md_text(text) -> str:
    """Free text from data, safe anywhere in the Markdown: one line; '|' and '<' escaped (a
    backslash already before one is doubled, so that it still shows)."""
    return re.sub(r"(\\*)([|<])", lambda m: m.group(1) * 2 + "\\" + m.group(2), one_line(text))


def md_code(text) -> str:
    """``text`` on one line as a code span (pipes not escaped: for paragraphs; a table cell
    escapes them as code)."""
    text = one_line(text)
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs) + 1 if runs else 1)
    # CommonMark strips one space each side from a span that starts and ends with one, unless it is all spaces.
    pad = " " if text[:1] == "`" or text[-1:] == "`" or (text[:1] == text[-1:] == " " and text.strip()) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def cell_markdown(c: Cell) -> str:
    text = escape_pipes(md_code(c.text)) if c.code else md_text(c.text)
    if c.best:
        text = f"**{text}**"
    return text + md_text(c.suffix) + (f" ({md_text(c.interval)})" if c.interval else "")


def table_markdown(table: Table) -> str:
    n = len(table.header)
    out = ["| " + " | ".join(md_text(h) for h in table.header) + " |",
           "|" + "|".join(["---"] * table.left + ["---:"] * (n - table.left)) + "|"]
    for row in table.rows:
        cells = ([f"*{md_text(row.heading)}*"] + [""] * (n - 1) if row.heading is not None
                 else [cell_markdown(c) for c in row.cells])
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


NES_NOTE = ("NES: 1 − normalised edit distance to the true word. For transcription methods (`rapidocr`, "
            "`tesseract`, VLMs) it scores the method's raw output, as the paper's Table 2 does, so it can fall "
            "below Acc@1; for embedding and scoring methods, which write no text, the top-1 lexicon word.")
AXIS_NOTES = {
    GALLERY_AXIS: ("The same seeded test_ood queries (100 per language) ranked against galleries that grow from "
                     "the lexicon to 10,000 and 50,000 words per language (distractors: the most frequent "
                     "`wordfreq` words of the language that are not lexicon words; hits unchanged). Search latency: "
                     "ms per query, model and matching, one query at a time after the gallery is indexed (text "
                     "vectors embedded, lexicon compiled), 10 queries per language, measured in the row's own run"),
}


def machine_label(environment: dict | None) -> str:
    """The machine a measurement was made on, from a recorded environment: "CPU, N cores"."""
    env = environment or {}
    cores = env.get("cpu_count")
    return f"{env.get('cpu') or 'unknown CPU'}" + (f", {cores} cores" if cores else "")


def machines_sentence(by_method: dict[str, str]) -> str:
    """Where a column's measurements were made, named once; rows from several machines are listed
    by machine, since their timings cannot be compared."""
    machines: dict[str, list[str]] = {}
    for method, label in sorted(by_method.items()):
        machines.setdefault(label, []).append(method)
    if len(machines) <= 1:
        return f"Measured on {md_text(next(iter(machines), 'no machine'))}."
    parts = "; ".join(f"{md_text(label)}: " + ", ".join(md_code(m) for m in methods)
                      for label, methods in sorted(machines.items()))
    return (f"**Measured on {len(machines)} machines** ({parts}): compare timings only between rows of one "
            "machine.")


def _fmt(value, digits: int = 4) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _reference_fingerprint(results: list[ResultRecord]) -> str | None:
    counts = Counter(r.dataset.fingerprint for r in results if r.ok)
    if not counts:
        return None
    top = max(counts.values())
    return min(fp for fp, c in counts.items() if c == top)


@dataclass(frozen=True)
class Section:
    """A part of the leaderboard: a heading (none: loose paragraphs) and its blocks in order,
    each a paragraph of Markdown text or a Table."""
    title: str | None
    blocks: tuple = ()
    key: str = ""                      # what it shows: a protocol name, "style", "efficiency", ...
    level: int = 2


def leaderboard_sections(results_dir: Path, results: list[ResultRecord] | None = None,
                         tiers: bool | None = None, plots_link: str | None = None) -> list[Section]:
    """Everything ``leaderboard.md`` shows, as data (the report renders the same sections, without
    the other tiers: each tier's site is made from its own results and images). ``tiers``: add the
    other tiers' boards from results/<tier>/; by default only when ``results`` is not given (a
    given record list is shown alone). ``plots_link``: the plots folder's parent as the page links it
    (default: the results folder's name)."""
    tiers = results is None if tiers is None else tiers
    results = iter_results(results_dir) if results is None else results
    ref_fp = _reference_fingerprint(results)
    sections = [Section("hwr-bench leaderboard", (
        f"Generated by `bench leaderboard` from the result files in `{_shown_folder(results_dir)}`; "
        "do not edit by hand.",), level=1)]
    if ref_fp:
        names = sorted({r.dataset.name for r in results if r.ok and r.dataset.fingerprint == ref_fp})
        notes = sorted({r.dataset.note or "" for r in results if r.dataset.fingerprint == ref_fp} - {""})
        sections.append(Section(None, (f"Dataset: {', '.join(map(md_text, names))} (fingerprint `{ref_fp[:16]}`)."
                                       + "".join(f" Note: {md_text(n)}." for n in notes),), key="dataset"))
    efficiency = load_efficiency(results_dir)
    eligible = _above_chance(results)
    used_marks: set[str] = set()
    axes_done: set[str] = set()
    for spec in PROTOCOLS.values():
        rows = [r for r in results if r.protocol.name == spec.name and r.ok]
        if not rows or not spec.columns:
            continue
        if spec.axis is not None:
            if spec.axis[0] not in axes_done:
                axes_done.add(spec.axis[0])
                table = _axis_table(results, spec.axis[0], ref_fp, used_marks, eligible)
                note = AXIS_NOTES.get(spec.axis[0], "")
                axis_names = {s.name for s in axis_specs(spec.axis[0])}
                timed = {r.method_name: machine_label(r.environment) for r in results
                         if r.ok and r.protocol.name in axis_names and r.metrics.get("query_latency_ms")}
                if timed:
                    note = f"{note}. {machines_sentence(timed)}"
                sections.append(Section(spec.title or spec.name, (note, table), key=spec.axis[0]))
            continue
        table = _table(rows, spec.columns, ref_fp, efficiency, used_marks, eligible)
        notes = (NES_NOTE,) if any("nes" in c.path for c in spec.columns) else ()
        sections.append(Section(spec.title or spec.name, (spec.description + ".", table) + notes, key=spec.name))
    sections += _style_section(results, "ood")
    sections += _marks(used_marks)
    sections.append(Section(None, (
        "Run latency is each row's own evaluation run's time per computed image (batched; — where every "
        "image came from the cache of an earlier protocol); `bench efficiency` measures latency properly "
        "(table below).",)))
    sections += _efficiency_section(efficiency, results)
    sections += _plots_section(Path(results_dir), plots_link)
    sections += _not_run_section(results)
    sections.append(Section(None, (
        "Metric definitions are in `bench/evaluation/metrics.py`; intervals are 95% percentile cluster-bootstrap "
        "intervals: whole semantic ids are resampled (a concept's renders and its cross-lingual directions "
        "are not independent queries).",)))
    return sections + (_tier_sections(Path(results_dir)) if tiers else [])


TIER_NOTES = {
    "hand": "The same lexicon, splits and protocols written by generative writers instead of fonts "
            "(`bench/data/hand.py`). On a separate calibration split, its difficulty is fitted towards the "
            "paper's real-handwriting RapidOCR figures and bounded by legibility (where the bound holds, the "
            "figure is not reached) "
            "(`benchmarks/calibrate_hand.py`, `benchmarks/results/hand_calibration.json`; docs/data.md). "
            "Run with `bench run --dataset hand` (results in `results/hand/`).",
}


def _tier_sections(results_dir: Path) -> list[Section]:
    """The other embedded tiers' leaderboards (results/<tier>/), one heading level down."""
    out: list[Section] = []
    for tier in EMBEDDED_TIERS:
        folder = results_dir / tier
        results = iter_results(folder) if tier != DEFAULT_SIZE and folder.is_dir() else []
        if not results:
            continue
        # Its title line gives way to the tier heading; its plots are linked from the page's folder.
        inner = leaderboard_sections(folder, results, tiers=False, plots_link=f"{results_dir.name}/{tier}")[1:]
        out.append(Section(f"The {tier} tier", (TIER_NOTES.get(tier, ""),), key=f"tier-{tier}"))
        out += [replace(section, level=section.level + 1, key=section.key and f"{tier}/{section.key}")
                for section in inner]
    return out


def sections_markdown(sections: list[Section]) -> str:
    lines: list[str] = []
    for section in sections:
        if section.title is not None:
            lines += ["#" * section.level + " " + one_line(section.title), ""]
        for block in section.blocks:
            lines += [table_markdown(block) if isinstance(block, Table) else block, ""]
    return "\n".join(lines)


def build_leaderboard(results_dir: Path, results: list[ResultRecord] | None = None,
                      tiers: bool | None = None) -> str:
    return sections_markdown(leaderboard_sections(results_dir, results, tiers))


def _marks(used_marks: set[str]) -> list[Section]:
    if not used_marks:
        return []
    lines = ["Marks:"]
    if STALE in used_marks:
        lines.append(f"- {STALE} stale: made under an older protocol version or tie policy, or on a different "
                     "dataset than the other rows; re-run it.")
    if SUBSET in used_marks:
        lines.append(f"- {SUBSET} computed on a subset of the queries (`--limit`).")
    return [Section(None, ("\n".join(lines),), key="marks")]


def _plots_section(results_dir: Path, link: str | None = None) -> list[Section]:
    figures = sorted(p.name for p in (results_dir / "plots").glob("*.png"))
    if not figures:
        return []
    link = quote(link or results_dir.name)
    return [Section("Plots", ("Made by `bench plot` from these results:",
                              "\n".join(f"- [{md_text(name)}]({link}/plots/{quote(name)})"
                                        for name in figures)),
                    key="plots")]


def _not_run_section(results: list[ResultRecord]) -> list[Section]:
    not_run = [r for r in results if not r.ok]
    if not not_run:
        return []
    lines = []
    # One line per method for what does not apply to it (the reasons with the protocol named once);
    # one line per result for anything else (a failure, with its fix).
    not_applicable: dict[str, list[ResultRecord]] = {}
    for r in sorted(not_run, key=lambda r: (r.method_name, r.protocol.name)):
        if r.status is Status.NOT_APPLICABLE:
            not_applicable.setdefault(r.method_name, []).append(r)
            continue
        fix = f" Fix: {md_text(r.error['fix'])}" if (r.error or {}).get("fix") else ""
        lines.append(f"- {md_code(r.method_name)} / {md_code(r.protocol.name)}: {md_text(r.status)}. "
                     f"{md_text(describe_error(r.error))}{fix}".rstrip())
    for method, rows in not_applicable.items():
        reasons = sorted({md_text(describe_error(r.error).replace(f" {r.protocol.name}'s ", " their "))
                          for r in rows} - {""})
        protocols = ", ".join(md_code(r.protocol.name) for r in rows)
        lines.append(f"- {md_code(method)}: not applicable to {protocols}"
                     + (f" ({'; '.join(reasons)})" if reasons else ""))
    return [Section("Not in the tables", ("\n".join(lines),), key="not-run")]


CHANCE_METHOD = "random"   # the built-in chance baseline (adapters.baselines): the bar a bold cell must clear
CHANCE_GATE_PROTOCOL = "ood"   # protocols without an Acc@1 of their own (R/D) are gated on OOD's, their images


def _above_chance(results: list[ResultRecord]):
    """``eligible(record)``: whether a row may hold a bold cell.

    A best value means something only from a method that retrieves: the row's Acc@1 on its protocol
    must lie above the upper end of the chance baseline's 95% interval (otherwise a near-random
    method can "win" R/D or latency). Reference rows are never bold.
    """
    ok = [r for r in results if r.ok]
    acc = {(r.method_name, r.protocol.name): r.overall("acc@1") for r in ok}
    acc1 = overall("acc@1", ci=True)
    bar = {}
    for r in ok:
        if r.method_name == CHANCE_METHOD:
            interval = acc1.interval(r.metrics)
            bar[r.protocol.name] = interval[1] if interval else acc1.value(r.metrics)

    def eligible(r: ResultRecord) -> bool:
        if group_info(r.group).baseline:
            return False
        own = acc.get((r.method_name, r.protocol.name))
        protocol = r.protocol.name if own is not None else CHANCE_GATE_PROTOCOL
        threshold = bar.get(protocol)
        if threshold is None:
            return True
        value = acc.get((r.method_name, protocol))
        return value is not None and value > threshold
    return eligible


def _best(rows: list[ResultRecord], columns: tuple[Column, ...], values: dict[int, list], eligible) -> list:
    """The best value of each column among the rows that may be bold, in the column's direction."""
    best: list = []
    for i, c in enumerate(columns):
        pool = [values[id(r)][i] for r in rows if eligible(r) and values[id(r)][i] is not None]
        best.append(None if not pool or c.higher_is_better is None
                    else max(pool) if c.higher_is_better else min(pool))
    return best


def _name_cell(r: ResultRecord, ref_fp, marks: set[str]) -> Cell:
    suffix = ""
    spec = PROTOCOLS.get(r.protocol.name)
    if ((spec and r.protocol.version != spec.version) or r.dataset.fingerprint != ref_fp
            or r.config.tie_policy != TIE_POLICY):
        suffix += f" {STALE}"
        marks.add(STALE)
    answered = (r.metrics or {}).get("answered_subtasks")
    if answered:
        suffix += f" ({', '.join(answered)} only)"
    if r.config.limit is not None:
        suffix += f" {SUBSET}"
        marks.add(SUBSET)
    return Cell(r.method_name, sort=r.method_name, code=True, suffix=suffix, method=r.method_name)


def _metric_cell(c: Column, r: ResultRecord, v, best) -> Cell:
    ci = c.interval(r.metrics) if v is not None else None
    return _num_cell(v, _fmt(v, c.digits), best, f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "")


def _table(rows: list[ResultRecord], columns: tuple[Column, ...], ref_fp,
           efficiency: dict[str, dict], marks: set[str], eligible) -> Table:
    values = {id(r): [c.value(r.metrics) for c in columns] for r in rows}
    best = _best(rows, columns, values, eligible)
    header = ("Method", *(c.title for c in columns), "Params (M)", "Weights (MB)", "Run latency (ms/img)")
    out: list[Row] = []
    for group in sorted({r.group for r in rows}, key=lambda g: (group_order(g), g)):
        out.append(Row(heading=group_info(group).title))
        for r in sorted((r for r in rows if r.group == group), key=lambda r: r.method_name):
            cells = [_name_cell(r, ref_fp, marks)]
            cells += [_metric_cell(c, r, v, b if eligible(r) else None)
                      for c, v, b in zip(columns, values[id(r)], best)]
            # Sizes from `bench efficiency` where measured (newer than a result's own record).
            measured = efficiency.get(r.method_name, {})
            params = measured.get("params", r.method.get("params"))
            cells.append(_num_cell(params, MISSING if params is None else f"{params / 1e6:.2f}"))
            size = measured.get("model_bytes", r.method.get("model_bytes"))
            cells.append(_num_cell(size, MISSING if size is None else f"{size / 1e6:.1f}"))
            # This row's own run: a protocol whose images all came from the cache computed none (—).
            latency = r.timings.latency_ms_per_image if r.timings is not None else None
            cells.append(_num_cell(latency, _fmt(latency, 2)))
            out.append(Row(tuple(cells)))
    return Table(header, tuple(out))


def _axis_table(results: list[ResultRecord], axis: str, ref_fp, marks: set[str], eligible) -> Table:
    """One table for the protocols on one axis: per method, Acc@1 and search latency at each point."""
    specs = axis_specs(axis)
    by_method: dict[str, dict[str, ResultRecord]] = {}
    for r in results:
        if r.ok and r.protocol.name in {s.name for s in specs}:
            by_method.setdefault(r.method_name, {})[r.protocol.name] = r
    header, cells_of = ["Method"], []
    for spec in specs:
        sizes = [gallery_size_of(runs[spec.name].metrics) for runs in by_method.values() if spec.name in runs]
        label = f"{max(sizes):,}" if sizes else spec.name
        header += [f"Acc@1 @ {label}", f"ms/query @ {label}"]
        cells_of += [(spec.name, ("overall", "acc@1", "value"), True), (spec.name, ("query_latency_ms", "value"), False)]
    values = {m: [Column("", path).value(runs[name].metrics) if name in runs else None for name, path, _ in cells_of]
              for m, runs in by_method.items()}
    group_of = {m: next(iter(runs.values())).group for m, runs in by_method.items()}
    # A cell may be bold where that gallery size's own result clears the chance bar.
    may_bold = {m: [name in runs and eligible(runs[name]) for name, _, _ in cells_of] for m, runs in by_method.items()}
    best = []
    for i, (_, _, higher) in enumerate(cells_of):
        pool = [v[i] for m, v in values.items() if v[i] is not None and may_bold[m][i]]
        best.append(None if not pool else max(pool) if higher else min(pool))
    out = []
    for m in sorted(by_method, key=lambda m: (group_order(group_of[m]), m)):
        first = next(iter(by_method[m].values()))
        row = [_name_cell(first, ref_fp, marks)]
        for i, v in enumerate(values[m]):
            row.append(_num_cell(v, _fmt(v, 4 if cells_of[i][2] else 2), best[i] if may_bold[m][i] else None))
        out.append(Row(tuple(row)))
    return Table(tuple(header), tuple(out))


def _style_section(results: list[ResultRecord], protocol: str) -> list[Section]:
    """Acc@1 per handwriting style (rows) for every method (columns) on one protocol."""
    rows = sorted((r for r in results if r.ok and r.protocol.name == protocol and r.metrics.get("by_style")
                   and not group_info(r.group).variant), key=lambda r: (group_order(r.group), r.method_name))
    if not rows:
        return []
    styles = sorted({s for r in rows for s in r.metrics["by_style"]})
    out = []
    for style in styles:
        n = max((r.metrics["by_style"].get(style) or {}).get("n_queries", 0) for r in rows)
        accs = [(r.metrics["by_style"].get(style) or {}).get("acc@1") for r in rows]
        out.append(Row((Cell(style, sort=style, code=True), Cell(str(n), sort=n), *(_num_cell(a) for a in accs))))
    table = Table(("Style", "n", *(f"`{r.method_name}`" for r in rows)), tuple(out))
    return [Section(f"Per-style Acc@1 (`{protocol}`)", (
        "Acc@1 of the queries drawn in each handwriting style (fonts `font:`, Chinese stroke writers `strokes:`, "
        "Latin stroke writers `hershey:`), over all their languages: which styles are hard, and for whom.", table),
        key="style")]


def _acc(results: list[ResultRecord], method: str, protocol: str, metric: str = "acc@1"):
    for r in results:
        if r.method_name == method and r.protocol.name == protocol and r.ok:
            return r.overall(metric)
    return None


def _efficiency_section(by_name: dict[str, dict], results: list[ResultRecord]) -> list[Section]:
    if not by_name:
        return []

    def num(value, scale=1.0, digits=2) -> Cell:
        return _num_cell(value, MISSING if value is None else f"{value / scale:.{digits}f}")

    header = ("Method", "Params (M)", "Weights (MB)", "MACs (M)", "Latency b1 (ms)", "Latency batched (ms/img)",
              "Peak RSS (MB)", "OOD Acc@1", "CIM int8 energy (µJ)", "CIM int8 latency (ms)",
              "CIM int8 pipelined (ms/img)", "CIM int4 energy (µJ)", "CIM cores")
    rows = []
    for name in sorted(by_name):
        r = by_name[name]
        lat = r.get("latency_ms", {})
        batched = next((v for k, v in sorted(lat.items()) if k != "batch1"), None)
        cim = r.get("cim") or {}
        cores = cim["int8"]["cores"] if cim else None
        rows.append(Row((
            Cell(name, sort=name, code=True, method=name), num(r.get("params"), 1e6),
            num(r.get("model_bytes"), 1e6, 1), num(r.get("macs_per_image"), 1e6, 1), num(lat.get("batch1")),
            num(batched), num(r.get("peak_rss_mb"), 1, 0), num(_acc(results, name, "ood"), 1, 4),
            num((cim.get("int8") or {}).get("energy_uj"), 1, 1), num((cim.get("int8") or {}).get("latency_us"), 1e3, 1),
            num((cim.get("int8") or {}).get("pipelined_us_per_image"), 1e3, 3),
            num((cim.get("int4") or {}).get("energy_uj"), 1, 1),
            _num_cell(cores, MISSING if cores is None else str(cores)))))
    measured_on = machines_sentence({name: machine_label(r.get("environment") or {"cpu": r.get("cpu")})
                                     for name, r in by_name.items()})
    blocks = [f"Per query image, by `bench efficiency`. {measured_on} Latency: median of single-image "
              "calls after warm-up, and per image in a batch of the sample. MACs count the weight layers "
              "(`compute_layers`); CIM is an *estimate* on a simulated NeuRRAM-like RRAM chip (array work "
              "only: no digital ops or data movement; `bench/efficiency/cim.py`).", Table(header, tuple(rows))]
    quantised = quantised_pairs(by_name)
    if quantised:
        pairs = []
        for name, base in quantised:
            cells = [Cell(name, sort=name, code=True, method=name), Cell(base, sort=base, code=True, method=base)]
            for protocol, metric in (("id", "acc@1"), ("ood", "acc@1"), ("xling", "acc@1"), ("t2i", "map")):
                a, b = _acc(results, name, protocol, metric), _acc(results, base, protocol, metric)
                cells.append(_num_cell(None) if a is None or b is None else _num_cell(a - b, f"{a - b:+.4f}"))
            lat, base_lat = by_name[name]["latency_ms"], by_name[base]["latency_ms"]
            for k in ("batch1", next((k for k in sorted(lat) if k != "batch1"), "")):
                up = base_lat[k] / lat[k] if lat.get(k) and base_lat.get(k) else None
                cells.append(_num_cell(up, MISSING if up is None else f"{up:.2f}×"))
            pairs.append(Row(tuple(cells)))
        blocks += ["int8 against fp32 (accuracy change on every protocol, measured speed-up on the machine above):",
                   Table(("Method", "vs", "Δ Acc@1 id", "Δ Acc@1 ood", "Δ Acc@1 xling", "Δ mAP t2i", "speed-up b1",
                          "speed-up batched"), tuple(pairs), left=2)]
    return [Section("Efficiency (`bench efficiency`)", tuple(blocks), key="efficiency")]


def _shown_folder(results_dir: Path) -> str:
    return Path(results_dir).as_posix().rstrip("/") + "/"


def write_leaderboard(results_dir: Path, out: Path) -> str:
    """Write the leaderboard of ``results_dir`` to ``out``; a folder that is missing or holds no
    result is refused before anything is written (a typo must not blank a committed leaderboard)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise HwrBenchError(f"{results_dir}: no such results folder (nothing written to {out})")
    results = iter_results(results_dir)
    if not results:
        raise HwrBenchError(f"{results_dir}: holds no result files (<method>/<protocol>.json); "
                            f"nothing written to {out}")
    text = build_leaderboard(results_dir, results, tiers=True)
    write_bytes_atomic(out, text.encode())
    return text
