"""Hostile-input tests: each module holds its corpus (a list of hostile cases) and parametrized
tests over it. The shared helpers live one folder up (``tests/helpers.py``, ``tests/test_cli.py``):
put that folder on the import path."""

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parent.parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
