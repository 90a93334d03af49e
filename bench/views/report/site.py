"""``bench report``: a static site from ``results/`` and the dataset, opened from disk.

* ``index.html``: the leaderboard's sections (the same data as ``leaderboard.md``, tables
  sortable by any column), the plots, links to every method's page and the compare pages;
* ``methods/<method>.html``: accuracy per language and per style (tables and bar charts), and a
  failure gallery per protocol: each failed query's image, truth and top-5 predictions with
  scores (words for image -> text, thumbnails for text -> image), filterable by language and style;
* ``compare/<a>--<b>.html``: the queries one method gets right and the other wrong, with images
  and the paired bootstrap difference;
* ``thumbs/``: downscaled query and result images, one file per image content (deduplicated);
  each links to ``images/``, the same image at full resolution as the methods read it (a click
  shows it over the page);
* ``assets/``: the stylesheet, the script, and the Chinese glyphs the pages use (``fonts.py``).

Every page of the site has the same navigation; the index shows each plot with a caption, in a
frame no taller than the window (a tall figure scrolls inside it; a click opens the file).

Only results made on the given dataset are shown; any other is refused and listed. A gallery or
comparison whose rankings sidecar is missing, truncated or malformed is left out with a note on its
page saying which file, listed on the index and in the summary's ``refused``; the rest of the site is
written (a quick look at one protocol's gallery is the command's error instead). Galleries
show at most a fixed number of failures per subtask, chosen in one pseudo-random order shared by
all methods (``Outcome.order``), and say how many there were. The site is built in a temporary
folder and moved into place, so it is complete or absent, and it is byte-identical for the same
results and dataset.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.api.groups import group_info
from bench.core.cache import default_cache_dir
from bench.core.errors import HwrBenchError
from bench.data.store import Dataset
from bench.evaluation.protocols import PROTOCOLS, ProtocolKind
from bench.store.records import ResultRecord
from bench.store.results import RankingsError, iter_results, method_dir_name
from bench.views.compare import compare_methods
from bench.views.leaderboard import Cell, Row, Section, Table, leaderboard_sections
from bench.views.report import fonts
from bench.views.report.html import (CSS, GENERATED_TEXT, SCRIPT, bar_chart, esc, font_face, inline, page, paragraph,
                                     slug, table_html, with_notice)
from bench.views.report.outcomes import Outcome, failures, order_key, rankings

MARKER = ".hwr-bench-report"        # a folder the report may replace holds this file
THUMB_HEIGHT, THUMB_MAX_WIDTH = 32, 224
GREY_LEVELS = 16                    # thumbnails keep 16 grey levels: a third of the bytes, the ink still legible
SHOWN = {"image": 12, "text": 5}    # failures shown per subtask (image queries; text queries with 5 images each)
COMPARE_SHOWN = 24                  # queries per side and protocol on a compare page
# Captions of the figures `bench plot` makes (bench/views/plots.py), by file name.
PLOT_CAPTIONS = {
    "accuracy_vs_latency.png": "Accuracy against latency: out-of-domain Acc@1 of each method against its latency per "
                               "image (log scale); marker area follows the parameter count. Ablations and references "
                               "are left out.",
    "xling_heatmap.png": "Cross-lingual accuracy: Acc@1 for each image language (rows) and lexicon language "
                         "(columns), one panel per method; the diagonal is within-language out-of-domain retrieval.",
    "gallery_size.png": "Gallery size: Acc@1 and search latency per query as distractor words grow the lexicon.",
    "int8_cim.png": "Quantisation: latency of an int8 method and its fp32 original on this CPU, beside the "
                    "compute-in-memory estimate.",
}
# The protocols with per-query rankings over the dataset's own lexicon and images (the gallery-size
# protocols add distractor words that are not in the dataset: their queries are ood's).
GALLERY_PROTOCOLS = tuple(s.name for s in PROTOCOLS.values() if s.kind is ProtocolKind.RETRIEVAL and s.axis is None)


@dataclass
class ReportSummary:
    index: Path                       # the page to open
    pages: int = 0
    thumbnails: int = 0
    refused: list[str] = field(default_factory=list)   # results (or their galleries) left out, and why
    bytes: int = 0
    font: str = ""                    # the Chinese glyphs shipped, or why none could be (then the pages say so)


def plot_caption(name: str) -> str:
    if name in PLOT_CAPTIONS:
        return PLOT_CAPTIONS[name]
    stem = Path(name).stem
    if stem.startswith("projection_"):
        return (f"Embedding projection of {stem[len('projection_'):]}: PCA of out-of-domain image and word "
                "embeddings, colour = semantic id, marker = language.")
    return stem.replace("_", " ").replace("-", " ").capitalize() + "."


def site_nav(pairs, plots) -> list[tuple[str, str]]:
    """The navigation of every page of a full site (hrefs from the site root)."""
    return ([("index.html", "Leaderboard")] + ([("index.html#plots", "Plots")] if plots else [])
            + [("index.html#methods", "Methods")] + ([("index.html#compare", "Compare")] if pairs else []))


class Thumbnails:
    """Downscaled dataset images, one PNG per image content; a page asks for ``img(key)``, which
    links the thumbnail to the full-resolution image."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.made: dict[str, tuple[bytes, int, int]] = {}   # content hash -> (PNG, width, height)
        self.full: dict[str, bytes] = {}                    # content hash -> the full-resolution PNG

    def img(self, key: str, css: str, up: str, alt: str) -> str:
        sample = self.dataset.sample(key)
        name = sample.content_hash[:20]
        if name not in self.made:
            image = self.dataset.image_item(key).image.convert("L")
            width = max(1, min(THUMB_MAX_WIDTH, round(image.width * THUMB_HEIGHT / image.height)))
            height = max(1, round(image.height * width / image.width)) if width == THUMB_MAX_WIDTH else THUMB_HEIGHT
            buffer = io.BytesIO()
            step = 256 // GREY_LEVELS
            image.resize((width, height)).point(lambda v: v // step * 255 // (GREY_LEVELS - 1)).save(
                buffer, format="PNG", optimize=True)
            self.made[name] = (buffer.getvalue(), width, height)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")        # full resolution, as the methods read it (greyscale)
            self.full[name] = buffer.getvalue()
        _, width, height = self.made[name]
        return (f'<a class="zoom" href="{up}images/{name}.png" title="full resolution">'
                f'<img class="thumb {css}" src="{up}thumbs/{name}.png" width="{width}" height="{height}" '
                f'alt="{esc(alt)}"></a>')

    def write(self, root: Path) -> int:
        (root / "thumbs").mkdir(parents=True, exist_ok=True)
        (root / "images").mkdir(parents=True, exist_ok=True)
        for name, (data, _, _) in sorted(self.made.items()):
            (root / "thumbs" / f"{name}.png").write_bytes(data)
            (root / "images" / f"{name}.png").write_bytes(self.full[name])
        return len(self.made)


def method_page(name: str) -> str:
    return f"methods/{method_dir_name(name)}.html"


def compare_page(a: str, b: str) -> str:
    return f"compare/{method_dir_name(a)}--{method_dir_name(b)}.html"


def split_by_dataset(results: list[ResultRecord], dataset: Dataset) -> tuple[list[ResultRecord], list[ResultRecord]]:
    """The results made on ``dataset``, and those refused (made on another)."""
    kept = [r for r in results if r.dataset.fingerprint == dataset.fingerprint]
    return kept, [r for r in results if r.dataset.fingerprint != dataset.fingerprint]


def refusal(r: ResultRecord, dataset: Dataset) -> str:
    return (f"{r.path}: made on dataset {r.dataset.name} (fingerprint {r.dataset.fingerprint[:16]}), "
            f"not on {dataset.name} ({dataset.fingerprint[:16]}) that this report shows")


# -- method pages ---------------------------------------------------------------------------------

def _subtask_table(records: dict[str, ResultRecord]) -> Table:
    rows = []
    for protocol in GALLERY_PROTOCOLS:
        r = records.get(protocol)
        if r is None:
            continue
        rows.append(Row(heading=f"{protocol}: {r.protocol.description}"))
        for name, m in (r.metrics.get("subtasks") or {}).items():
            def num(metric):
                v = (m.get(metric) or {}).get("value")
                ci = (m.get(metric) or {}).get("ci95")
                return Cell("—" if v is None else f"{v:.4f}", sort=v, interval=f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "")
            rows.append(Row((Cell(protocol, sort=protocol), Cell(name, sort=name), Cell(str(m.get("n_queries", "")),
                             sort=m.get("n_queries")), num("acc@1"), num("acc@5"), num("mrr"), num("map"))))
    return Table(("Protocol", "Subtask", "Queries", "Acc@1", "Acc@5", "MRR", "mAP"), tuple(rows), left=2)


def _style_table(records: dict[str, ResultRecord]) -> tuple[Table, list[str]]:
    protocols = [p for p in GALLERY_PROTOCOLS if p in records and records[p].metrics.get("by_style")]
    styles = sorted({s for p in protocols for s in records[p].metrics["by_style"]})
    rows = []
    for style in styles:
        cells = [Cell(style, sort=style, code=True)]
        for p in protocols:
            m = records[p].metrics["by_style"].get(style) or {}
            v = m.get("acc@1")
            cells += [Cell(str(m.get("n_queries", "—")), sort=m.get("n_queries")),
                      Cell("—" if v is None else f"{v:.4f}", sort=v)]
        rows.append(Row(tuple(cells)))
    header = ["Style"] + [h for p in protocols for h in (f"n ({p})", f"Acc@1 ({p})")]
    return Table(tuple(header), tuple(rows)), protocols


def _prediction_list(o: Outcome, thumbs: Thumbnails, up: str) -> str:
    items = []
    for p in o.top:
        label = thumbs.img(p.key, "result", up, p.key) if o.kind == "text" else esc(p.label)
        items.append(f'<li class="{"hit" if p.hit else "miss"}">{label} <span class="score">{p.score:.3f}</span></li>')
    return "<ol>" + "".join(items) + "</ol>"


def _card(o: Outcome, thumbs: Thumbnails, up: str, note: str = "") -> str:
    rank = "not ranked" if o.rank is None else f"rank {o.rank}"
    if o.kind == "text":
        head = (f'<div class="meta">{esc(o.subtask)} · {rank}</div>'
                f'<div>query: <strong>{esc(o.truth)}</strong></div>')
        attrs = f'data-lang="{esc(o.lang)}" data-style=""'
    else:
        head = (thumbs.img(o.key, "query", up, o.key)
                + f'<div class="meta">{esc(o.subtask)} · {esc(o.style)} · {rank}</div>'
                + f'<div>truth: <strong>{esc(o.truth)}</strong></div>')
        if o.transcript is not None:
            head += f'<div class="meta">read: “{esc(o.transcript)}”</div>'
        attrs = f'data-lang="{esc(o.lang)}" data-style="{esc(o.style)}"'
    return (f'<div class="card" {attrs} data-subtask="{esc(o.subtask)}" data-key="{esc(o.key)}">{head}{note}'
            f"{_prediction_list(o, thumbs, up)}</div>")


def _filters(langs: list[str], styles: list[str]) -> str:
    def select(field_name, label, values):
        options = '<option value="">all</option>' + "".join(f'<option value="{esc(v)}">{esc(v)}</option>'
                                                            for v in values)
        return f'<label>{label} <select data-field="{field_name}" id="filter-{field_name}">{options}</select></label>'
    return f'<div class="filters">{select("lang", "Language", langs)}{select("style", "Style", styles)}</div>'


def _gallery(protocol: str, record: ResultRecord, dataset: Dataset, thumbs: Thumbnails, up: str) -> tuple[str, set, set]:
    subtasks = rankings(record)
    text_queries = any(st.kind == "text" for st in subtasks.values())
    picked = failures(subtasks, dataset, SHOWN["text" if text_queries else "image"])
    cards = [_card(o, thumbs, up) for f in picked.values() for o in f.shown]
    n_shown = sum(len(f.shown) for f in picked.values())
    n_failed = sum(f.failed for f in picked.values())
    n_queries = sum(f.queries for f in picked.values())
    langs = {st.data["query_lang"] for st in subtasks.values()}
    styles = {s for st in subtasks.values() for s in st.data.get("query_styles", ())}
    gid = f"g-{slug(protocol)}"
    head = (f'<h2 id="failures-{slug(protocol)}">Failures: {esc(protocol)}</h2>'
            f'<p>{n_failed:,} of {n_queries:,} queries fail (the right item is not ranked first); '
            f'<span id="{gid}-shown">{n_shown}</span> of the {n_shown} picked are shown (at most '
            f'{SHOWN["image"]} per subtask for image queries, {SHOWN["text"]} for word queries, the same '
            f'pseudo-random pick for every method). {esc(record.protocol.description)}.</p>')
    body = (f'<div class="gallery" id="{gid}" data-protocol="{esc(protocol)}" data-picked="{n_shown}">'
            f'{"".join(cards)}</div>')
    return head + body, langs, styles


def _left_out(heading: str, exc: RankingsError, skipped: list[str] | None, what: str) -> str:
    """The visible note that stands in for a gallery whose rankings sidecar cannot be read."""
    if skipped is not None and f"{exc} ({what} not shown)" not in skipped:
        skipped.append(f"{exc} ({what} not shown)")
    return f'{heading}<p class="notice" role="note">Not shown: {esc(exc)}</p>'


def render_method_page(name: str, records: dict[str, ResultRecord], dataset: Dataset, thumbs: Thumbnails,
                       protocols: tuple[str, ...] = GALLERY_PROTOCOLS, nav: list[tuple[str, str]] = (),
                       skipped: list[str] | None = None) -> str:
    """A method's page; ``nav``: the site's navigation (none for a quick look, which has no index).
    A gallery whose rankings sidecar is missing or unreadable is replaced by a note saying so (and
    the note's line is added to ``skipped``); the rest of the page is written."""
    up = "../"
    info = next(iter(records.values())).method
    parts = [f"<h1><code>{esc(name)}</code></h1>",
             f"<p>{esc(info.get('description', ''))}</p>",
             f"<p>Group: {esc(info.get('group', ''))} · family: {esc(info.get('family', ''))} · version "
             f"<code>{esc(info.get('version', ''))}</code> · dataset {esc(dataset.name)} (fingerprint "
             f"<code>{esc(dataset.fingerprint[:16])}</code>)</p>"]
    parts += ["<h2>Accuracy per language and direction</h2>", table_html(_subtask_table(records))]
    charts = []
    for protocol in ("id", "ood", "xling"):
        r = records.get(protocol)
        if r is not None and r.metrics.get("subtasks"):
            charts.append(bar_chart(f"Acc@1 per subtask ({protocol})",
                                    [(k, (v.get("acc@1") or {}).get("value")) for k, v in r.metrics["subtasks"].items()]))
    style_table, style_protocols = _style_table(records)
    if style_protocols:
        parts += ["<h2>Accuracy per handwriting style</h2>", table_html(style_table)]
        for protocol in style_protocols:
            by_style = records[protocol].metrics["by_style"]
            charts.append(bar_chart(f"Acc@1 per style ({protocol})",
                                    [(s, by_style[s].get("acc@1")) for s in sorted(by_style)]))
    parts += ['<div class="charts">' + "".join(charts) + "</div>"]
    galleries, langs, styles = [], set(), set()
    for protocol in protocols:
        r = records.get(protocol)
        if r is None or not r.rankings_file:
            continue
        try:
            html_part, l, s = _gallery(protocol, r, dataset, thumbs, up)
        except RankingsError as exc:
            galleries.append(_left_out(f'<h2 id="failures-{slug(protocol)}">Failures: {esc(protocol)}</h2>', exc,
                                       skipped, f"the failure gallery of {name!r} on {protocol!r}"))
            continue
        galleries.append(html_part)
        langs |= l
        styles |= s
    if galleries:
        parts += [_filters(sorted(langs), sorted(styles))] + galleries
    return page(f"{name} · hwr-bench report", "".join(parts), depth=1, nav=nav)


# -- compare pages --------------------------------------------------------------------------------

def default_pairs(records: dict[str, dict[str, ResultRecord]]) -> list[tuple[str, str]]:
    """``ours`` against the strongest other method on OOD and on cross-lingual Acc@1."""
    if "ours" not in records:
        return []
    pairs = []
    for protocol in ("ood", "xling"):
        rivals = [(r.overall("acc@1"), name) for name, by in records.items() if name != "ours"
                  for r in [by.get(protocol)] if r is not None and group_info(r.group).contender
                  and not group_info(r.group).featured and r.overall("acc@1") is not None]
        if rivals and protocol in records["ours"]:
            best = max(rivals, key=lambda t: (t[0], t[1]))[1]
            if ("ours", best) not in pairs:
                pairs.append(("ours", best))
    return pairs


def render_compare_page(a: str, b: str, records: dict[str, dict[str, ResultRecord]], dataset: Dataset,
                        thumbs: Thumbnails, results_dir: Path, nav: list[tuple[str, str]] = (),
                        skipped: list[str] | None = None) -> str:
    up = "../"
    parts = [f"<h1>Compare <code>{esc(a)}</code> and <code>{esc(b)}</code></h1>",
             "<p>Queries one method ranks right (first) and the other wrong, on the same queries, with each "
             "method's top-5; the difference in Acc@1 with its 95% paired cluster-bootstrap interval "
             "(as <code>bench compare</code>).</p>"]
    for protocol in GALLERY_PROTOCOLS:
        ra, rb = records[a].get(protocol), records[b].get(protocol)
        if ra is None or rb is None or not ra.rankings_file or not rb.rankings_file:
            continue
        try:
            sa, sb = rankings(ra), rankings(rb)
        except RankingsError as exc:
            parts.append(_left_out(f'<h2 id="compare-{slug(protocol)}">{esc(protocol)}</h2>', exc, skipped,
                                   f"the comparison of {a!r} and {b!r} on {protocol!r}"))
            continue
        index_b = {name: {k: i for i, k in enumerate(st.keys)} for name, st in sb.items()}
        common = [(name, i, index_b[name][k]) for name, st in sa.items() if name in index_b
                  for i, k in enumerate(st.keys) if k in index_b[name]]
        if not common:
            continue
        test, n = compare_methods(results_dir, a, b, protocol, "acc@1")
        parts.append(f'<h2 id="compare-{slug(protocol)}">{esc(protocol)}</h2><p>Acc@1 {esc(a)} − {esc(b)} = '
                     f"{test.mean_difference:+.4f} (95% CI {test.ci_low:+.4f} to {test.ci_high:+.4f}) over {n:,} "
                     "paired queries.</p>")
        columns = []
        for winner, loser, s_win, s_lose, flip in ((a, b, sa, sb, False), (b, a, sb, sa, True)):
            wins = [(name, j if flip else i, i if flip else j) for name, i, j in common
                    if (s_win[name].rank(j if flip else i) == 1) and (s_lose[name].rank(i if flip else j) != 1)]
            wins.sort(key=lambda t: (order_key(t[0], s_win[t[0]].keys[t[1]]), s_win[t[0]].keys[t[1]]))
            cards = [_card(s_lose[name].outcome(li, dataset), thumbs, up,
                           note=f'<div class="meta">{esc(loser)}’s top-5 ({esc(winner)}: rank 1)</div>')
                     for name, _, li in wins[:COMPARE_SHOWN]]
            columns.append(f"<div><h3><code>{esc(winner)}</code> right, <code>{esc(loser)}</code> wrong: "
                           f"{len(wins):,} queries ({min(len(wins), COMPARE_SHOWN)} shown)</h3>"
                           f'<div class="gallery" id="c-{slug(protocol)}-{len(columns)}">{"".join(cards)}</div></div>')
        parts.append('<div class="pair">' + "".join(columns) + "</div>")
    return page(f"{a} vs {b} · hwr-bench report", "".join(parts), depth=1, nav=nav)


# -- the index ------------------------------------------------------------------------------------

def _without_fingerprint(block: str, dataset: Dataset) -> str:
    """The leaderboard's dataset paragraph less its sentence naming the dataset and fingerprint,
    which the index's first paragraph already gives (in full)."""
    sentences = re.split(r"(?<=[.!?])\s+", block)
    return " ".join(t for t in sentences if "fingerprint" not in t and dataset.fingerprint[:12] not in t)


def render_index(sections: list[Section], dataset: Dataset, plots: list[str], pages: set[str],
                 pairs: list[tuple[str, str]], refused: list[str], nav: list[tuple[str, str]] = (),
                 skipped: list[str] = ()) -> str:
    def link(method: str):
        return method_page(method) if method in pages else None

    used = {"plots", "methods", "compare", "refused", "unreadable"}

    def ident(text: str) -> str:
        base = candidate = slug(text)
        n = 1
        while candidate in used:
            n += 1
            candidate = f"{base}-{n}"
        used.add(candidate)
        return candidate

    parts = []
    for section in sections:
        if section.key == "plots":
            parts.append('<h2 id="plots">Plots</h2>' + "".join(
                f'<figure class="plot"><a class="frame" href="plots/{esc(p)}" title="the full figure">'
                f'<img src="plots/{esc(p)}" alt="{esc(plot_caption(p))}"></a>'
                f"<figcaption>{esc(plot_caption(p))}</figcaption></figure>"
                for p in plots))
            continue
        if section.title is not None:
            level = section.level
            parts.append(f'<h{level} id="{ident(section.key or section.title)}">{inline(section.title)}</h{level}>')
        if section.level == 1:   # the leaderboard's "generated by `bench leaderboard`" line is not this page's
            parts.append(f"<p>This report shows dataset <strong>{esc(dataset.name)}</strong>, fingerprint "
                         f"<code>{esc(dataset.fingerprint)}</code>. Generated by <code>bench report</code> from "
                         "the result files; the tables are <code>leaderboard.md</code>'s, sortable by any column "
                         "(click a header).</p>")
            continue
        for i, block in enumerate(section.blocks):
            if isinstance(block, Table):
                parts.append(table_html(block, link, ident(f"t-{section.key}-{i}")))
                continue
            if section.key == "dataset":
                block = _without_fingerprint(block, dataset)
            if block:
                parts.append(paragraph(block))
    parts.append("<h2 id=\"methods\">Method pages</h2><ul>" + "".join(
        f'<li><a href="{esc(method_page(m))}">{esc(m)}</a></li>' for m in sorted(pages)) + "</ul>")
    if pairs:
        parts.append("<h2 id=\"compare\">Compare</h2><ul>" + "".join(
            f'<li><a href="{esc(compare_page(a, b))}">{esc(a)} vs {esc(b)}</a></li>' for a, b in pairs) + "</ul>")
    if refused:
        parts.append("<h2 id=\"refused\">Refused results</h2><ul>"
                     + "".join(f"<li>{esc(line)}</li>" for line in refused) + "</ul>")
    if skipped:
        parts.append("<h2 id=\"unreadable\">Unreadable rankings</h2><p>These results' per-query rankings could not "
                     "be read, so the galleries built from them are left out (their rows in the tables above come "
                     "from the result files and stand):</p><ul>"
                     + "".join(f"<li>{esc(line)}</li>" for line in skipped) + "</ul>")
    return page("hwr-bench report", "".join(parts), nav=nav)


# -- the site -------------------------------------------------------------------------------------

def _prepare_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise HwrBenchError(f"{out}: exists and is not a report folder (no {MARKER}); choose a new or empty folder")


@contextmanager
def _staged(out: Path):
    """A temporary folder beside ``out``, moved into ``out`` when the block ends without an error
    (an earlier report there is replaced), removed when it does not."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "assets").mkdir()
        (tmp / "methods").mkdir()
        yield tmp
        (tmp / MARKER).write_text("Made by `bench report`; the next `bench report --out` here replaces this folder.\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_pages(root: Path, documents: dict[str, str], asset_cache: Path) -> str:
    """Write the pages (path in the site -> HTML), the stylesheet, the script and the Chinese
    glyphs the pages' text uses; returns what font was shipped, or the notice the pages carry
    when none could be (then every page says which font is missing)."""
    texts = [fonts.page_text(d) for d in documents.values()]
    characters = fonts.needed_characters([*texts, GENERATED_TEXT])
    css, shipped, problem = CSS.lstrip(), "no font shipped (the pages use only ASCII)", ""
    if characters:
        source = fonts.locate(asset_cache)
        problem = source.missing
        if source.path is not None:
            try:
                data, covered, notice = fonts.cached_subset(source.sha256, source.path, characters)
            except Exception as exc:   # noqa: BLE001 (a font that cannot be subset must not cost the site)
                problem = f"subsetting {source.path.name} failed ({type(exc).__name__}: {exc})"
            else:
                (root / fonts.OUT).write_bytes(data)
                (root / fonts.LICENCE_OUT).write_text(
                    f"{fonts.OUT}: {fonts.NAME} cut down to the {len(covered)} characters this report uses.\n\n"
                    f"{notice}\n", encoding="utf-8")
                css = font_face(Path(fonts.OUT).name) + css
                shipped = (f"{fonts.NAME} (SIL OFL 1.1) subset to {len(covered)} of {len(characters)} characters, "
                           f"{len(data) / 1024:.0f} KB")
    if problem and any(fonts.has_cjk(t) for t in texts):
        shipped = fonts.missing_note(problem)
        documents = {name: with_notice(d, shipped) for name, d in documents.items()}
    (root / "assets" / "report.css").write_text(css, encoding="utf-8")
    (root / "assets" / "report.js").write_text(SCRIPT.lstrip(), encoding="utf-8")
    for name, document in documents.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(document, encoding="utf-8")
    return shipped


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def build_report(results_dir: Path, dataset: Dataset, out: Path, *, method: str | None = None,
                 protocol: str | None = None, compare: list[tuple[str, str]] = (),
                 asset_cache: Path | None = None) -> ReportSummary:
    """Write the site into ``out`` (replacing an earlier report there). With ``method`` (and
    optionally ``protocol``) only that method's page is written, for a quick look. The Chinese
    glyphs come from ``asset_cache`` (default: the cache ``bench data assets`` fills)."""
    results_dir, out = Path(results_dir), Path(out)
    asset_cache = default_cache_dir() if asset_cache is None else Path(asset_cache)
    _prepare_out(out)
    kept, other = split_by_dataset(iter_results(results_dir), dataset)
    refused = [refusal(r, dataset) for r in other]
    records: dict[str, dict[str, ResultRecord]] = {}
    for r in kept:
        if r.ok:
            records.setdefault(r.method_name, {})[r.protocol.name] = r
    if method is not None:
        return _quick_look(results_dir, dataset, out, method, protocol, records, other, asset_cache)
    for a, b in compare:
        for name in (a, b):
            if name not in records:
                raise HwrBenchError(f"--compare {a},{b}: no results for {name!r} on {dataset.name} in {results_dir}")
    pages = {name for name, by in records.items() if any(p in by for p in GALLERY_PROTOCOLS)}
    pairs = list(dict.fromkeys([*default_pairs(records), *compare]))
    thumbs = Thumbnails(dataset)
    plots = sorted(p.name for p in (results_dir / "plots").glob("*.png"))
    nav = site_nav(pairs, plots)
    with _staged(out) as tmp:
        if plots:
            (tmp / "plots").mkdir()
            for name in plots:
                shutil.copyfile(results_dir / "plots" / name, tmp / "plots" / name)
        documents, skipped = {}, []
        for name in sorted(pages):
            documents[method_page(name)] = render_method_page(name, records[name], dataset, thumbs, nav=nav,
                                                              skipped=skipped)
        for a, b in pairs:
            documents[compare_page(a, b)] = render_compare_page(a, b, records, dataset, thumbs, results_dir, nav=nav,
                                                                skipped=skipped)
        sections = leaderboard_sections(results_dir, kept, tiers=False)
        documents["index.html"] = render_index(sections, dataset, plots, pages, pairs, refused, nav=nav,
                                               skipped=skipped)
        font = _write_pages(tmp, documents, asset_cache)
        n_thumbs = thumbs.write(tmp)
    return ReportSummary(out / "index.html", pages=1 + len(pages) + len(pairs), thumbnails=n_thumbs,
                         refused=refused + skipped, bytes=_size(out), font=font)


def _quick_look(results_dir: Path, dataset: Dataset, out: Path, method: str, protocol: str | None,
                records: dict[str, dict[str, ResultRecord]], other: list[ResultRecord],
                asset_cache: Path) -> ReportSummary:
    if protocol is not None and protocol not in GALLERY_PROTOCOLS:
        raise HwrBenchError(f"--protocol {protocol!r}: no failure gallery for it (choose from "
                            f"{', '.join(GALLERY_PROTOCOLS)})")
    wanted = (protocol,) if protocol else GALLERY_PROTOCOLS
    if method not in records or not any(p in records[method] for p in wanted):
        from_other = [r for r in other if r.method_name == method and (protocol is None or r.protocol.name == protocol)]
        why = f" (refused: {refusal(from_other[0], dataset)})" if from_other else ""
        raise HwrBenchError(f"no result for {method!r} on {protocol or 'any protocol'} in {results_dir} made on "
                            f"{dataset.name}{why}; run `bench run --methods {method}` first")
    if protocol is not None and records[method][protocol].rankings_file:
        # The one gallery asked for: an unreadable sidecar is the command's error, not a note.
        rankings(records[method][protocol])
    thumbs = Thumbnails(dataset)
    skipped: list[str] = []
    with _staged(out) as tmp:
        document = render_method_page(method, records[method], dataset, thumbs, wanted, skipped=skipped)
        font = _write_pages(tmp, {method_page(method): document}, asset_cache)
        n_thumbs = thumbs.write(tmp)
    return ReportSummary(out / method_page(method), pages=1, thumbnails=n_thumbs,
                         refused=[refusal(r, dataset) for r in other] + skipped, bytes=_size(out), font=font)
