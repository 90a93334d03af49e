"""`bench report`: the static site from results and the dataset, read as files and in a real browser."""

import gzip
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.views import plots
from bench.core.errors import HwrBenchError
from bench.api.registry import METHODS as REGISTRY
from bench.views.report import build_report
from bench.views.report.site import MARKER, SHOWN, compare_page, method_page
from bench.store.results import rankings_path, result_path
from bench.engine.runner import RunConfig, run

METHODS = ["random", "oracle-text", "sloppy-reader"]


@pytest.fixture(scope="module")
def toy_results(tmp_path_factory, toy_dataset):
    root = tmp_path_factory.mktemp("report")
    REGISTRY.register("sloppy-reader", "fake_methods:SloppyReader", source="test")
    try:
        run(toy_dataset, RunConfig(methods=METHODS, protocols=["id", "ood", "xling", "t2i"],
                                   results_dir=root / "results", cache_dir=root / "cache", n_boot=50))
    finally:
        REGISTRY.unregister("sloppy-reader")
    # The toy methods are so fast that a run's time per image can round to 0, which leaves the
    # accuracy-latency plot without a point: give sloppy-reader's OOD result 1 ms per image.
    path = result_path(root / "results", "sloppy-reader", "ood")
    record = json.loads(path.read_text())
    record["timings"].update(image_seconds=record["timings"]["images_computed"] / 1000, latency_ms_per_image=1.0)
    path.write_text(json.dumps(record))
    (root / "results" / "plots").mkdir()
    for figure in (plots.accuracy_vs_latency, plots.xling_heatmap):
        assert figure(root / "results", root / "results" / "plots" / f"{figure.__name__}.png")
    return root / "results"


@pytest.fixture(scope="session")
def cjk_font_cache(asset_cache):
    """The session's asset cache, holding the pinned CJK font the report ships."""
    from bench.views.report import fonts

    root = asset_cache
    found = fonts.locate(root)
    if found.path is None:
        pytest.skip(f"the report's CJK font cannot be had here: {found.missing}")
    return root


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _expected_picked(results: Path, method: str, protocol: str) -> int:
    """Failed queries per subtask, capped as the gallery caps them, straight from the sidecar."""
    sidecar = json.loads(gzip.decompress(rankings_path(result_path(results, method, protocol)).read_bytes()))
    cap = SHOWN["text" if protocol == "t2i" else "image"]
    return sum(min(cap, sum(1 for ranks in st["relevant_ranks"] if not ranks or min(ranks) != 1))
               for st in sidecar.values())


def test_report_is_complete_and_byte_identical_when_rebuilt(tmp_path, toy_results, toy_dataset):
    first = build_report(toy_results, toy_dataset, tmp_path / "a", compare=[("random", "oracle-text")])
    again = build_report(toy_results, toy_dataset, tmp_path / "b", compare=[("random", "oracle-text")])
    files = _files(tmp_path / "a")
    assert files == _files(tmp_path / "b") and first.thumbnails == again.thumbnails > 0
    index = files["index.html"].decode()
    assert toy_dataset.fingerprint in index and "sortable" in index
    for method in METHODS:
        assert method_page(method) in files and f'href="{method_page(method)}"' in index
    assert any(name.startswith("compare/") for name in files)
    # Each thumbnail is one image content, referenced by some page.
    pages = "".join(v.decode() for k, v in files.items() if k.endswith(".html"))
    thumbs = [k for k in files if k.startswith("thumbs/")]
    assert len(thumbs) == first.thumbnails and all(t in pages for t in thumbs)
    random_page = files[method_page("random")].decode()
    for protocol in ("id", "ood", "xling", "t2i"):
        assert f'data-picked="{_expected_picked(toy_results, "random", protocol)}"' in random_page


def test_a_result_from_another_dataset_is_refused(tmp_path, toy_results, toy_dataset):
    results = tmp_path / "results"
    shutil.copytree(toy_results, results)
    path = result_path(results, "oracle-text", "ood")
    record = json.loads(path.read_text())
    record["dataset"]["fingerprint"] = "0" * 64
    path.write_text(json.dumps(record))
    summary = build_report(results, toy_dataset, tmp_path / "site")
    assert len(summary.refused) == 1 and str(path) in summary.refused[0] and "0000000000000000" in summary.refused[0]
    page = (tmp_path / "site" / method_page("oracle-text")).read_text()
    assert "Failures: ood" not in page and "Failures: id" in page
    assert "Refused results" in (tmp_path / "site" / "index.html").read_text()
    with pytest.raises(HwrBenchError, match="refused: .*made on dataset"):
        build_report(results, toy_dataset, tmp_path / "quick", method="oracle-text", protocol="ood")


def test_quick_look_writes_one_page_and_never_overwrites_a_foreign_folder(tmp_path, toy_results, toy_dataset):
    summary = build_report(toy_results, toy_dataset, tmp_path / "quick", method="random", protocol="ood")
    assert summary.index == tmp_path / "quick" / method_page("random") and summary.index.is_file()
    page = summary.index.read_text()
    assert "Failures: ood" in page and "Failures: id" not in page and "index.html" not in page
    assert (tmp_path / "quick" / MARKER).is_file() and not (tmp_path / "quick" / "index.html").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(HwrBenchError, match="not a report folder"):
        build_report(toy_results, toy_dataset, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(HwrBenchError, match="no failure gallery"):
        build_report(toy_results, toy_dataset, tmp_path / "q2", method="random", protocol="rd")


def test_the_cjk_subset_holds_exactly_the_sites_characters_and_is_deterministic(tmp_path, toy_results, toy_dataset,
                                                                                 cjk_font_cache, monkeypatch):
    from fontTools.ttLib import TTFont

    from bench.views.report import fonts

    summary = build_report(toy_results, toy_dataset, tmp_path / "site", asset_cache=cjk_font_cache)
    site = tmp_path / "site"
    woff2 = (site / fonts.OUT).read_bytes()
    assert woff2[:4] == b"wOF2" and fonts.NAME in summary.font
    css = (site / "assets" / "report.css").read_text()
    assert '@font-face { font-family: "hwr-bench CJK"; src: url("cjk.woff2")' in css
    assert re.search(r'body \{ font: [^;]*system-ui, sans-serif, [^;]*"hwr-bench CJK";', css)   # after system fonts
    text = "".join(fonts.page_text(p.read_text(encoding="utf-8")) for p in sorted(site.rglob("*.html")))
    needed = {c for c in text if ord(c) > 0x7F}
    assert any(fonts.has_cjk(c) for c in needed)
    source = fonts.locate(cjk_font_cache).path
    has = set(TTFont(source, lazy=True).getBestCmap())
    shipped = set(TTFont(io.BytesIO(woff2)).getBestCmap())
    # Exactly the site's characters the font has: those in the pages' text, plus the CSS/JS-drawn arrows and separators.
    from bench.views.report.html import GENERATED_TEXT
    assert shipped == {ord(c) for c in needed | set(GENERATED_TEXT)} & has
    assert "SIL Open Font License" in (site / fonts.LICENCE_OUT).read_text(encoding="utf-8")
    # fontTools stamps the build time into head.modified unless told not to: two builds at different
    # times (SOURCE_DATE_EPOCH is its clock) must give the same bytes.
    chars = fonts.needed_characters([text])
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1000000000")
    first = fonts.subset_woff2(source, chars)[0]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert fonts.subset_woff2(source, chars)[0] == first


def test_a_missing_cjk_font_is_named_on_every_page_and_the_site_is_still_written(tmp_path, toy_results, toy_dataset):
    summary = build_report(toy_results, toy_dataset, tmp_path / "site", asset_cache=tmp_path / "no-assets")
    site = tmp_path / "site"
    assert summary.index.is_file() and not (site / "assets" / "cjk.woff2").exists()
    assert "@font-face" not in (site / "assets" / "report.css").read_text()
    for page in sorted(site.rglob("*.html")):
        notice = re.search(r'<p class="notice" role="note">([^<]*)</p>', page.read_text(encoding="utf-8"))
        assert notice and "Font missing: LXGW WenKai" in notice.group(1) and "bench data assets" in notice.group(1), page
    assert "Font missing: LXGW WenKai" in summary.font


# -- in a real browser ------------------------------------------------------------------------------

def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def playwright_chromium():
    """Playwright (one instance: its sync API cannot run two) and Debian's chromium."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    executable = _chromium()
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; the README's test command does)")
    with sync_api.sync_playwright() as p:
        yield p, executable


@pytest.fixture(scope="module")
def browser(playwright_chromium):
    p, executable = playwright_chromium
    browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
    yield browser
    browser.close()


def test_report_renders_sorts_and_opens_a_failure_gallery_in_chromium(tmp_path, toy_results, toy_dataset, browser):
    summary = build_report(toy_results, toy_dataset, tmp_path / "site", compare=[("random", "oracle-text")])
    page = browser.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(summary.index.resolve().as_uri())
    page.wait_for_load_state("load")

    tables = page.locator("table.sortable")
    assert tables.count() >= 4
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
    assert len(images) == 2 and all(width > 0 for _, width in images), images      # the plots

    # Sorting: the first protocol table by its Acc@1 column, ascending, then descending.
    table = page.locator("table.sortable").first
    col = next(i for i, t in enumerate(table.locator("th").all_inner_texts()) if t.startswith("Acc@1"))
    header = table.locator("th").nth(col)

    def column():
        values = table.locator("tbody tr:not(.group)").evaluate_all(
            f"rows => rows.map(r => r.cells[{col}].getAttribute('data-sort'))")
        return [float(v) for v in values if v]

    before = column()
    header.click()
    assert column() == sorted(before) and page.locator("table.sortable").first.locator("tr.group:visible").count() == 0
    header.click()
    assert column() == sorted(before, reverse=True)
    assert before != sorted(before) or before != sorted(before, reverse=True)   # sorting can reorder this table

    # A method's page: its failure gallery holds the expected thumbnails, and the filters work.
    page.locator("table.sortable").first.locator("a", has_text="sloppy-reader").first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith(method_page("sloppy-reader"))
    expected = _expected_picked(toy_results, "sloppy-reader", "ood")
    assert page.locator("#g-ood img.thumb.query").count() == expected > 0
    assert all(w > 0 for w in page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)"))
    page.select_option("#filter-lang", "zh")
    shown = page.locator("#g-ood .card:visible").count()
    assert shown == page.locator("#g-ood .card[data-lang='zh']").count() < expected
    assert page.inner_text("#g-ood-shown") == str(shown)
    assert not errors, errors


def _fontconfig_without_cjk(folder: Path) -> Path:
    """A fontconfig file that sees the system's fonts less every one with Chinese, Japanese or
    Korean glyphs (e.g. Debian's fonts-wqy-microhei): a computer without a CJK font."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        pytest.skip("fc-list (fontconfig) is not installed")

    def files(pattern: str) -> set[str]:
        out = subprocess.run([fc_list, "--format=%{file}\n", pattern], capture_output=True, text=True, check=True).stdout
        return {line for line in out.splitlines() if line}

    cjk = files(":lang=zh") | files(":lang=ja") | files(":lang=ko")
    fonts_dir = folder / "fonts"
    fonts_dir.mkdir(parents=True)
    for i, font in enumerate(sorted(files(":") - cjk)):
        (fonts_dir / f"{i}-{Path(font).name}").symlink_to(font)
    aliases = "".join(f"<alias><family>{generic}</family><prefer><family>{family}</family>"
                      "<family>Liberation Sans</family></prefer></alias>"
                      for generic, family in (("sans-serif", "DejaVu Sans"), ("system-ui", "DejaVu Sans"),
                                              ("serif", "DejaVu Serif"), ("monospace", "DejaVu Sans Mono")))
    config = folder / "fonts.conf"
    config.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
                      f"<fontconfig><dir>{fonts_dir}</dir><cachedir>{folder / 'cache'}</cachedir>{aliases}"
                      "</fontconfig>\n")
    return config


@pytest.fixture(scope="module")
def browser_without_cjk(playwright_chromium, tmp_path_factory):
    """Chromium on a computer without a CJK font (its fontconfig sees none)."""
    p, executable = playwright_chromium
    config = _fontconfig_without_cjk(tmp_path_factory.mktemp("fontconfig"))
    browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"],
                                env={**os.environ, "FONTCONFIG_FILE": str(config)})
    yield browser
    browser.close()


# Draws ``text`` in a font-family on a white band at a whole-pixel place and returns its id.
_DRAW = """([id, text, family, top]) => {
  const s = document.createElement('span');
  s.id = id; s.textContent = text;
  s.style.cssText = `position:absolute; left:0; top:${top}px; padding:4px; font-size:32px; line-height:40px;
    background:#fff; color:#000; white-space:pre; font-family:${family}`;
  document.body.appendChild(s);
  return s.offsetWidth;
}"""


def test_chinese_words_render_with_the_shipped_font_without_a_system_cjk_font(tmp_path, toy_results, toy_dataset,
                                                                             cjk_font_cache, browser_without_cjk):
    summary = build_report(toy_results, toy_dataset, tmp_path / "site", asset_cache=cjk_font_cache)
    page = browser_without_cjk.new_page()
    page.goto((summary.index.parent / method_page("sloppy-reader")).resolve().as_uri())
    page.wait_for_load_state("load")
    words = page.locator(".card[data-lang='zh'] strong").all_inner_texts()
    chars = list(dict.fromkeys(c for w in words for c in w))
    assert len(chars) >= 4, words
    n = min(4, len(chars) // 2)
    word_a, word_b = "".join(chars[:n]), "".join(chars[n:2 * n])
    page_font = page.evaluate("getComputedStyle(document.body).fontFamily")
    for i, (text, family) in enumerate([(word_a, page_font), (word_b, page_font),
                                        (word_a, "sans-serif"), (word_b, "sans-serif")]):
        page.evaluate(_DRAW, [f"probe{i}", text, family, 2000 + 60 * i])
    page.evaluate("document.fonts.ready.then(() => true)")
    shots = [page.locator(f"#probe{i}").screenshot(animations="disabled") for i in range(4)]
    # Without the shipped font any two Chinese words of the same length are the same row of boxes:
    # this browser really has no CJK font (else the check below proves nothing).
    assert shots[2] == shots[3], "a system CJK font is visible to chromium; the test cannot run"
    # In the page's font they are real glyphs: not the boxes, and different characters look different.
    assert shots[0] != shots[2] and shots[0] != shots[1]
    # And chromium says which font drew a word of a gallery card: the shipped one, every glyph.
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": ".card[data-lang='zh'] strong"})["nodeId"]
    used = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    assert [(f["familyName"], f["isCustomFont"], f["glyphCount"]) for f in used] == [("LXGW WenKai", True, len(words[0]))]


def test_report_pages_share_a_nav_fill_the_width_and_enlarge_images_in_chromium(tmp_path, toy_results, toy_dataset,
                                                                               browser):
    from PIL import Image

    from bench.views.report.site import plot_caption

    # A cross-lingual heatmap as tall as one with 30 methods (10 rows of panels).
    results = tmp_path / "results"
    shutil.copytree(toy_results, results)
    Image.new("RGB", (1224, 3840), "white").save(results / "plots" / "xling_heatmap.png")
    summary = build_report(results, toy_dataset, tmp_path / "site", compare=[("random", "oracle-text")])
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def visit(path: str) -> list[str]:
        page.goto((summary.index.parent / path).resolve().as_uri())
        page.wait_for_load_state("load")
        ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
        assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", i) for i in ids), ids
        return page.locator("nav a").all_inner_texts()

    # The index: the fingerprint once; each plot a human caption, linked to its file, in a frame no
    # taller than the window (a tall figure scrolls inside it at a readable width).
    nav = visit("index.html")
    assert nav == ["Leaderboard", "Plots", "Methods", "Compare"]
    assert page.inner_text("body").count(toy_dataset.fingerprint[:16]) == 1
    figures = page.locator("figure")
    assert figures.count() == 2
    for i in range(2):
        src = figures.nth(i).locator("img").get_attribute("src")
        caption = figures.nth(i).locator("figcaption").inner_text()
        assert caption == plot_caption(Path(src).name) and not caption.endswith(".png") and len(caption) > 30
        assert figures.nth(i).locator("a").get_attribute("href") == src
        assert figures.nth(i).bounding_box()["height"] <= 800
    heatmap = page.locator("figure", has=page.locator("img[src$='xling_heatmap.png']"))
    assert "Cross-lingual" in heatmap.inner_text()
    assert heatmap.locator("a").bounding_box()["height"] <= 800 * 0.85
    assert heatmap.locator("img").bounding_box()["width"] >= 0.9 * 1224

    # A compare page and a method page carry the same navigation.
    assert visit(compare_page("random", "oracle-text")) == nav
    assert visit(method_page("sloppy-reader")) == nav

    # Cards fill each row of a gallery: the first row reaches the gallery's right edge.
    boxes = page.locator("#g-ood .card").evaluate_all("els => els.map(e => e.getBoundingClientRect().toJSON())")
    first_row = [b for b in boxes if abs(b["top"] - boxes[0]["top"]) < 1]
    gallery = page.locator("#g-ood").bounding_box()
    assert len(first_row) < len(boxes)
    assert gallery["x"] + gallery["width"] - max(b["right"] for b in first_row) < 1

    # A click on a thumbnail shows its image at full resolution over the page; Escape closes it.
    thumb = page.locator("#g-ood .card a.zoom").first
    href = thumb.get_attribute("href")
    key = page.locator("#g-ood .card").first.get_attribute("data-key")
    full = toy_dataset.image_item(key).image
    assert href.startswith("../images/") and (summary.index.parent / "images" / Path(href).name).is_file()
    thumb_height = thumb.locator("img").evaluate("e => e.naturalHeight")
    thumb.click()
    box = page.locator("#lightbox img")
    box.wait_for(state="visible")
    size = box.evaluate("e => new Promise(r => e.complete ? r([e.naturalWidth, e.naturalHeight]) : "
                        "e.addEventListener('load', () => r([e.naturalWidth, e.naturalHeight])))")
    assert tuple(size) == full.size and size[1] > thumb_height
    assert box.bounding_box()["height"] >= 160            # enlarged, not shown at 32 px
    page.keyboard.press("Escape")
    assert page.locator("#lightbox").count() == 0
    assert not errors, errors


def test_report_command_checks_its_options_before_reading_anything(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "bench", "report", "--out", str(tmp_path / "s"), "--protocol", "ood",
                           "--no-open"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--protocol needs --method" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "bench", "report", "--out", str(tmp_path / "s"), "--compare", "a,b,c",
                           "--no-open"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "expected two method names" in proc.stderr
    assert not (tmp_path / "s").exists()
