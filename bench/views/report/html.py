"""HTML pieces of the report: the page shell, its stylesheet and script, leaderboard tables
(sortable), inline Markdown of the leaderboard's paragraphs, SVG bar charts, and ids.

Everything is a pure function of its inputs (no dates, no random ids), so a report is
byte-identical for the same results.
"""

from __future__ import annotations

import html
import re

from bench.views.leaderboard import Cell, Table

# The system's fonts first, then the usual system CJK fonts, then the glyphs the site ships
# (``fonts.py``): the shipped font only supplies what the computer lacks.
CJK_FAMILY = "hwr-bench CJK"
SYSTEM_CJK = ('"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", '
              '"Microsoft YaHei", "WenQuanYi Micro Hei"')
FONT_STACK = f'system-ui, sans-serif, {SYSTEM_CJK}, "{CJK_FAMILY}"'
MONO_STACK = f'ui-monospace, monospace, {SYSTEM_CJK}, "{CJK_FAMILY}"'

CSS = """
body { font: 14px/1.45 FONT_STACK; margin: 0 auto; max-width: 1280px; padding: 0 16px 48px; color: #222; }
select, button, input { font: inherit; }
nav { padding: 10px 0; border-bottom: 1px solid #ddd; margin-bottom: 12px; }
nav a { margin-right: 14px; }
.notice { background: #fff6d8; border: 1px solid #e3c35a; border-radius: 4px; padding: 6px 10px; margin: 8px 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 8px; text-align: right; white-space: nowrap; }
th.text, td.text { text-align: left; }
th { background: #f5f5f5; cursor: pointer; user-select: none; position: sticky; top: 0; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
tr.group td { background: #fafafa; font-style: italic; text-align: left; }
td .ci { color: #888; font-size: 11px; }
.scroll { overflow-x: auto; }
code { font-family: MONO_STACK; font-size: 0.92em; background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
figure.plot { margin: 12px 0 20px; }
figure.plot a.frame { display: block; width: fit-content; max-width: 100%; max-height: 80vh; overflow: auto;
  border: 1px solid #eee; }
figure.plot img { display: block; max-width: 100%; height: auto; }
figure.plot figcaption { color: #555; max-width: 840px; }
.filters { margin: 8px 0; padding: 6px 8px; background: #f7f7f7; border-radius: 4px; }
.filters label { margin-right: 12px; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 8px; align-items: start; }
.card { border: 1px solid #ddd; border-radius: 4px; padding: 6px; min-width: 0; font-size: 12px; }
.card.hidden { display: none; }
a.zoom { cursor: zoom-in; }
.card > a.zoom { display: block; width: max-content; max-width: 100%; }
.card img.thumb { display: block; max-width: 100%; height: auto; background: #fff; border: 1px solid #eee; }
.card ol { margin: 4px 0 0; padding-left: 20px; }
.card li.hit { color: #1a7f37; font-weight: 600; }
.card .meta { color: #666; }
.card .score { color: #888; float: right; }
.card li img.thumb { display: inline-block; max-width: 150px; vertical-align: middle; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.pair > div { min-width: 0; }
svg text { font: 11px FONT_STACK; }
#lightbox { position: fixed; inset: 0; z-index: 10; background: rgba(0, 0, 0, 0.75); display: flex;
  flex-direction: column; align-items: center; justify-content: center; gap: 8px; cursor: zoom-out; }
#lightbox img { background: #fff; min-height: 160px; max-width: 95vw; max-height: 85vh; object-fit: contain; }
#lightbox div { color: #fff; }
""".replace("MONO_STACK", MONO_STACK).replace("FONT_STACK", FONT_STACK)

# What the stylesheet and the script draw that is in no page's text: the sort arrows, and the
# lightbox caption's separators.
GENERATED_TEXT = "\u25b2\u25bc\u00b7\u00d7"


def font_face(url: str) -> str:
    """The @font-face rule of the shipped CJK glyphs (``url`` relative to the stylesheet)."""
    return (f'@font-face {{ font-family: "{CJK_FAMILY}"; src: url("{url}") format("woff2"); '
            "font-weight: 400; font-style: normal; font-display: swap; }\n")

# Sorting: a click on a header cycles ascending -> descending -> the original order; group
# heading rows hide while a table is sorted. Filters: every .card with data-lang / data-style
# is shown only when it matches the page's selects; each gallery's counter says how many show.
SCRIPT = """
(function () {
  function key(td) {
    var v = td.getAttribute('data-sort');
    if (v === null || v === '') return null;
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var body = table.tBodies[0];
    var original = Array.prototype.slice.call(body.rows);
    table.querySelectorAll('th').forEach(function (th, col) {
      th.addEventListener('click', function () {
        var state = th.getAttribute('aria-sort');
        var next = state === 'ascending' ? 'descending' : state === 'descending' ? null : 'ascending';
        table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
        var rows = original.slice();
        if (next) {
          th.setAttribute('aria-sort', next);
          rows = rows.filter(function (r) { return !r.classList.contains('group'); });
          rows.sort(function (a, b) {
            var x = key(a.cells[col]), y = key(b.cells[col]);
            if (x === null && y === null) return 0;
            if (x === null) return 1;
            if (y === null) return -1;
            var c = x < y ? -1 : x > y ? 1 : 0;
            return next === 'ascending' ? c : -c;
          });
        }
        original.forEach(function (r) { r.style.display = r.classList.contains('group') && next ? 'none' : ''; });
        rows.forEach(function (r) { body.appendChild(r); });
        if (next) original.forEach(function (r) { if (r.classList.contains('group')) body.appendChild(r); });
      });
    });
  });
  var selects = document.querySelectorAll('.filters select');
  function applyFilters() {
    var want = {};
    selects.forEach(function (s) { want[s.getAttribute('data-field')] = s.value; });
    document.querySelectorAll('.gallery').forEach(function (g) {
      var shown = 0;
      g.querySelectorAll('.card').forEach(function (card) {
        var ok = Object.keys(want).every(function (f) {
          return !want[f] || card.getAttribute('data-' + f) === want[f];
        });
        card.classList.toggle('hidden', !ok);
        if (ok) shown += 1;
      });
      var counter = document.getElementById(g.id + '-shown');
      if (counter) counter.textContent = String(shown);
    });
  }
  selects.forEach(function (s) { s.addEventListener('change', applyFilters); });
  // A thumbnail links to its full-resolution image; a plain click shows it over the page
  // (click or Escape closes it); a middle or modified click still opens the file itself.
  var box = null;
  function closeBox() { if (box) { box.remove(); box = null; } }
  document.addEventListener('click', function (e) {
    var a = e.target.closest ? e.target.closest('a.zoom') : null;
    if (!a || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    closeBox();
    box = document.createElement('div');
    box.id = 'lightbox';
    var img = document.createElement('img');
    var caption = document.createElement('div');
    var thumb = a.querySelector('img');
    img.alt = thumb ? thumb.alt : '';
    img.addEventListener('load', function () {
      caption.textContent = img.alt + ' \u00b7 ' + img.naturalWidth + ' \u00d7 ' + img.naturalHeight +
        ' px, full resolution';
    });
    img.src = a.href;
    box.appendChild(img);
    box.appendChild(caption);
    box.addEventListener('click', closeBox);
    document.body.appendChild(box);
  });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') closeBox(); });
})();
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def slug(text: str) -> str:
    """A valid HTML id from any text: lower case ASCII letters, digits, '_' and '-', no spaces."""
    s = re.sub(r"[^a-z0-9_-]+", "-", str(text).lower()).strip("-")
    return s if s[:1].isalpha() else f"s-{s}".rstrip("-")


_CODE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")   # a code span: any fence its text cannot close
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_EM = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")       # Markdown's backslash escapes: \| shows |
_TOKEN = re.compile("\x00([0-9]+)\x00")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
SAFE_SCHEMES = ("http", "https")


def safe_href(url: str) -> str | None:
    """``url`` if a link to it is safe: http(s), relative, or '#'; None for any other scheme
    (javascript:, data:, vbscript:, file: ...). A browser drops control characters and blanks
    around a URL and tabs and newlines inside it before reading its scheme, so a URL holding any
    of them is refused outright rather than guessed at."""
    if not url or any(ord(ch) <= 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in url):
        return None
    scheme = _SCHEME.match(url)
    if scheme is not None and scheme.group(1).lower() not in SAFE_SCHEMES:
        return None
    return url


def inline(text: str) -> str:
    """The Markdown the leaderboard's paragraphs use: `code`, **bold**, *emphasis*, [text](url)
    and backslash escapes. Everything else is escaped text; a link to anything but http(s), a
    relative path or '#' stays plain text, as written."""
    text, out, start = str(text).replace("\x00", "\ufffd"), [], 0
    pieces = []                       # (is code, text)
    for m in _CODE.finditer(text):
        pieces += [(False, text[start:m.start()]), (True, m.group(2))]
        start = m.end()
    pieces.append((False, text[start:]))
    for is_code, part in pieces:
        if is_code:
            if part[:1] == part[-1:] == " " and part.strip():
                part = part[1:-1]
            out.append(f"<code>{esc(part)}</code>")
            continue
        held: list[str] = []          # finished pieces, kept out of the later substitutions

        def hold(piece: str) -> str:
            held.append(piece)
            return f"\x00{len(held) - 1}\x00"

        part = _ESCAPED.sub(lambda m: hold(esc(m.group(1))), part)
        part = esc(part)

        def link(m: re.Match) -> str:
            url = safe_href(html.unescape(_TOKEN.sub(lambda t: html.unescape(held[int(t.group(1))]), m.group(2))))
            if url is None:
                return m.group(0)
            return f'<a href="{hold(esc(url))}">{m.group(1)}</a>'

        part = _LINK.sub(link, part)
        part = _BOLD.sub(r"<strong>\1</strong>", part)
        part = _EM.sub(r"<em>\1</em>", part)
        while _TOKEN.search(part):
            part = _TOKEN.sub(lambda t: held[int(t.group(1))], part)
        out.append(part)
    return "".join(out)


def paragraph(block: str) -> str:
    """A paragraph, or a bullet list when every line after an optional first one starts with '- '."""
    lines = block.split("\n")
    items = [line for line in lines if line.startswith("- ")]
    if not items:
        return f"<p>{inline(block)}</p>"
    lead = [line for line in lines if not line.startswith("- ")]
    return ((f"<p>{inline(' '.join(lead))}</p>" if lead else "")
            + "<ul>" + "".join(f"<li>{inline(line[2:])}</li>" for line in items) + "</ul>")


def cell_html(c: Cell, link=None) -> str:
    text = esc(c.text)
    if c.method is not None and link is not None and link(c.method):
        text = f'<a href="{esc(link(c.method))}">{text}</a>'
    if c.best:
        text = f"<strong>{text}</strong>"
    text += esc(c.suffix)
    if c.interval:
        text += f' <span class="ci">({esc(c.interval)})</span>'
    return text


def table_html(table: Table, link=None, table_id: str = "") -> str:
    """A leaderboard Table as a sortable HTML table; ``link(method)`` gives a method's page or None."""
    n = len(table.header)
    head = "".join(f'<th class="{"text" if i < table.left else "num"}" scope="col">{inline(h)}</th>'
                   for i, h in enumerate(table.header))
    rows = []
    for row in table.rows:
        if row.heading is not None:
            rows.append(f'<tr class="group"><td colspan="{n}">{inline(row.heading)}</td></tr>')
            continue
        tds = []
        for i, c in enumerate(row.cells):
            sort = "" if c.sort is None else (repr(float(c.sort)) if isinstance(c.sort, (int, float)) else c.sort)
            tds.append(f'<td class="{"text" if i < table.left else "num"}" data-sort="{esc(sort)}">'
                       f"{cell_html(c, link)}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    ident = f' id="{slug(table_id)}"' if table_id else ""
    return (f'<div class="scroll"><table class="sortable"{ident}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def bar_chart(title: str, bars: list[tuple[str, float | None]], width: int = 560) -> str:
    """A horizontal bar chart of values in [0, 1] as inline SVG (no plotting library)."""
    label_w, bar_w, row_h = 190, width - 190 - 50, 18
    height = 24 + row_h * len(bars)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(title)}"><text x="0" y="14" font-weight="600">{esc(title)}</text>']
    for i, (label, value) in enumerate(bars):
        y = 24 + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{esc(label)}</text>')
        if value is None:
            parts.append(f'<text x="{label_w}" y="{y + 12}" fill="#999">—</text>')
            continue
        w = round(max(0.0, min(1.0, value)) * bar_w, 1)
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{w}" height="{row_h - 5}" fill="#4a7bd0"/>'
                     f'<text x="{label_w + w + 4}" y="{y + 12}">{value:.3f}</text>')
    return "".join(parts) + "</svg>"


def page(title: str, body: str, depth: int = 0, nav: list[tuple[str, str]] = ()) -> str:
    """A whole HTML document; ``depth``: how many folders below the site root the page sits;
    ``nav``: (href from the site root, text) pairs."""
    up = "../" * depth
    links = "".join(f'<a href="{up}{esc(href)}">{esc(text)}</a>' for href, text in nav)
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><link rel="stylesheet" href="{up}assets/report.css"></head>'
            f"<body><nav>{links}</nav>{body}"
            f'<script src="{up}assets/report.js"></script></body></html>\n')


def with_notice(document: str, text: str) -> str:
    """``document`` (made by ``page``) with a visible notice under its navigation."""
    return document.replace("</nav>", f'</nav><p class="notice" role="note">{esc(text)}</p>', 1)
