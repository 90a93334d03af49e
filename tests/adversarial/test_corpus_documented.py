"""docs/robustness.md says how many hostile inputs the suite tries; this keeps the number true."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "robustness.md"
BLOCK = re.compile(r"(<!-- BEGIN adversarial-count[^>]*-->)(.*?)(<!-- END adversarial-count -->)", re.S)


def count_cases() -> int:
    """Collected test cases in tests/adversarial, this file's own test left out."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          str(ROOT / "tests" / "adversarial")], cwd=ROOT, capture_output=True, text=True, check=True)
    # pyproject's addopts already say -q: with this -q pytest prints "FILE: N" per file.
    counts = re.findall(r"^(\S+\.py): (\d+)$", out.stdout, re.M)
    return sum(int(n) for path, n in counts if Path(path).name != Path(__file__).name)


def test_the_docs_state_the_number_of_hostile_inputs():
    match = BLOCK.search(DOC.read_text())
    assert match, f"{DOC.relative_to(ROOT)} has no adversarial-count block"
    n = count_cases()
    assert n > 100
    assert match.group(2) == str(n), f"{DOC.relative_to(ROOT)} says {match.group(2)} hostile inputs; the corpus " \
                                     f"has {n}: python {Path(__file__).relative_to(ROOT)} rewrites the block"


if __name__ == "__main__":   # rewrite the block with today's count
    DOC.write_text(BLOCK.sub(lambda m: m.group(1) + str(count_cases()) + m.group(3), DOC.read_text()))
