"""Mutation testing of the harness's core: does the test suite notice a deliberate bug?

    pip install mutmut==3.8.1
    python benchmarks/mutation.py            # mutmut run (resumes), then the JSON
    python benchmarks/mutation.py --no-run   # only summarise the last run

What is mutated and which tests run is ``[tool.mutmut]`` in pyproject.toml: the modules whose bugs
change a number (metrics, ranking, protocols, records and the result store, runner, verify,
leaderboard, summary, the dictionary pivot, the CTC scorer) and the in-process tests (tests that
run ``bench`` in a subprocess import the unmutated package, so they are left out). Not part of CI:
a full run takes over an hour on 2 cores.

Writes ``benchmarks/results/mutation.json``: ``score`` is the share of checked mutants the tests
kill (a timeout counts as killed: the suite noticed), per module, and every survivor with its diff
and, where ``benchmarks/mutation_survivors.json`` explains it (an equivalent mutant, or a fault
no test can reasonably see), the explanation.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.core.io import write_json_atomic  # noqa: E402
from bench.core.provenance import cpu_model, git_commit  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "mutation.json"
EXPLAINED = ROOT / "benchmarks" / "mutation_survivors.json"
MUTMUT_VERSION = "3.8.1"

# mutmut's exit codes (mutmut/stats.py): what each says about the tests.
KILLED = {1, 3, 36, -24, 24, 152, 255, 37}     # a failing test, an internal error, a timeout, a type check
SURVIVED = {0}
NOT_TESTED = {5, 33}                           # no test covers the mutated function


def _statuses() -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def _diff(name: str) -> str:
    out = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=ROOT, capture_output=True, text=True)
    return "\n".join(line for line in out.stdout.splitlines()
                     if line[:1] in "+-" and not line.startswith(("+++", "---")))


def _explanation(name: str, explained: dict[str, str]) -> str:
    """The explanation of a survivor: by its exact name, else by the first glob pattern that matches
    (a whole function's mutants can share one, e.g. code that runs at import time)."""
    from fnmatch import fnmatchcase

    if name in explained:
        return explained[name]
    return next((why for pattern, why in explained.items() if fnmatchcase(name, pattern)), "")


def summarise(seconds: float | None) -> dict:
    codes = _statuses()
    if not codes:
        raise SystemExit("no mutmut results under mutants/: run without --no-run first")
    explained = json.loads(EXPLAINED.read_text()) if EXPLAINED.exists() else {}
    per_module: dict[str, Counter] = {}
    survivors = []
    for name, code in sorted(codes.items()):
        module = re.match(r"(.+?)\.x[_ǁ]", name).group(1)   # functions x_name, methods xǁClassǁname
        count = per_module.setdefault(module, Counter())
        status = ("killed" if code in KILLED else "survived" if code in SURVIVED
                  else "not tested" if code in NOT_TESTED else "not checked" if code is None else f"other ({code})")
        count[status] += 1
        if status in ("survived", "not tested"):
            survivors.append({"mutant": name, "status": status, "diff": _diff(name),
                              "explanation": _explanation(name, explained)})
    checked = {m: sum(v for k, v in c.items() if k != "not checked") for m, c in per_module.items()}
    killed = {m: c["killed"] for m, c in per_module.items()}
    total_checked, total_killed = sum(checked.values()), sum(killed.values())
    return {
        "tool": f"mutmut {MUTMUT_VERSION}",
        "config": "pyproject.toml [tool.mutmut]",
        "git": git_commit(), "cpu": cpu_model(), "seconds": seconds,
        "score": round(total_killed / total_checked, 4) if total_checked else None,
        "mutants": len(codes), "checked": total_checked, "killed": total_killed,
        "not_checked": sum(c["not checked"] for c in per_module.values()),
        "complete": all(c["not checked"] == 0 for c in per_module.values()),
        "survived_unexplained": sum(1 for s in survivors if not s["explanation"]),
        "modules": {m: {"checked": checked[m], "killed": killed[m],
                        "score": round(killed[m] / checked[m], 4) if checked[m] else None, **per_module[m]}
                    for m in sorted(per_module)},
        "survivors": survivors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="Only summarise the last run.")
    parser.add_argument("--max-children", type=int, default=2)
    args = parser.parse_args()
    seconds = None
    if not args.no_run:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)],
                       cwd=ROOT, check=True)
        seconds = round(time.perf_counter() - start, 1)
    result = summarise(seconds)
    write_json_atomic(OUT, result)
    print(f"score {result['score']} ({result['killed']}/{result['checked']} killed"
          f"{'' if result['complete'] else ', ' + str(result['not_checked']) + ' mutants not checked yet'}); "
          f"{result['survived_unexplained']} unexplained survivor(s) -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
