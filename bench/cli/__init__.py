"""The top floor: the ``bench`` command (``app``), wiring every floor below to a command line.

``main`` is the console script (``bench = "bench.cli:main"``); packages add commands through the
``hwr_bench.commands`` entry points (``bench.api.commands`` is what they share). May import every
floor.
"""

from bench.cli.app import app, main

__all__ = ["app", "main"]
