"""How long `bench report` takes on the committed results, how big the site is, and (with
``--screenshot``) a picture of one failure gallery in Debian's chromium.

Issue #16's target: the site for the committed results, from a clean clone, in under a minute on
the project's 2-core machine. The command is timed end to end in a subprocess (imports, dataset
load, every page and thumbnail), as a user runs it.

Writes benchmarks/results/report.json. Run:

    python benchmarks/report.py [--screenshot docs/report_failure_gallery.png] [--method ours] [--protocol ood]

The screenshot needs playwright (the `[dev]` extra) and `chromium` (Debian); the site ships the
Chinese glyphs it uses (a subset of LXGW WenKai from the asset cache), so no system CJK font is
needed. It shows the named method's failure gallery for the named protocol, unfiltered, at 1280 x 900.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).parent / "results" / "report.json"


def cpu_model() -> str:
    from bench.core.provenance import cpu_model as model

    return model()


def screenshot(index: Path, method: str, protocol: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    from bench.views.report.site import method_page

    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((index.parent / method_page(method)).resolve().as_uri())
        page.evaluate(f"document.getElementById('failures-{protocol}').scrollIntoView()")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results")
    parser.add_argument("--screenshot", type=Path, default=None)
    parser.add_argument("--method", default="ours")
    parser.add_argument("--protocol", default="ood")
    parser.add_argument("--note", default="", help="What else shared the machine (recorded as given).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "bench", "report", "--out", str(site), "--results-dir",
                               str(args.results_dir), "--no-open", "--quiet"], capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(f"bench report failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        files = [p for p in site.rglob("*") if p.is_file()]
        record = {
            "command": "bench report --out DIR --no-open --quiet",
            "seconds": round(seconds, 1), "target_seconds": 60, "meets_target": seconds < 60,
            "files": len(files), "megabytes": round(sum(p.stat().st_size for p in files) / 1e6, 2),
            "thumbnails": len(list((site / "thumbs").glob("*.png"))),
            "pages": len([p for p in files if p.suffix == ".html"]),
            "machine": {"cpu": cpu_model(), "cores": __import__("os").cpu_count(), "python": platform.python_version()},
            "output": proc.stdout.strip().splitlines()[-1:],
            "note": args.note,
        }
        if args.screenshot is not None:
            screenshot(site / "index.html", args.method, args.protocol, args.screenshot)
            record["screenshot"] = {"file": str(args.screenshot), "method": args.method, "protocol": args.protocol}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(record, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
