"""`bench report`: the static site from results and the dataset, read as files and in a real browser."""

import gzip
import json
import shutil
from pathlib import Path

import pytest

from bench import plots
from bench.errors import HwrBenchError
from bench.registry import METHODS as REGISTRY
from bench.report import build_report
from bench.report.site import MARKER, SHOWN, method_page
from bench.results import rankings_path, result_path
from bench.runner import RunConfig, run

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
    (root / "results" / "plots").mkdir()
    for figure in (plots.accuracy_vs_latency, plots.xling_heatmap):
        assert figure(root / "results", root / "results" / "plots" / f"{figure.__name__}.png")
    return root / "results"


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


# -- in a real browser ------------------------------------------------------------------------------

def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    executable = _chromium()
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; the README's test command does)")
    with sync_api.sync_playwright() as p:
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
