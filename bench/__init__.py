"""hwr-bench: a benchmark harness for cross-script handwriting retrieval.

Its folders are its floors, bottom up (``LAYERS`` below is the plan; tests/test_layers.py holds
every import to it and benchmarks/layers.py measures it):

* ``core``        errors, atomic I/O, the text policy, threads, progress, provenance, caches
* ``data``        datasets on disk: schema, store, builder, importers
* ``evaluation``  protocols, metrics, ranking, the bootstrap summary, R/D topology
* ``store``       result records and files, run statuses, efficiency files, shard merging
* ``api``         what a method (and a plugin's command) imports: ``bench.api``
* ``engine``      runs methods: cached outputs, family operations, the runner, verify, Ray
* ``efficiency``  ``bench efficiency``: measured cost of a method
* ``views``       leaderboard, plots, comparisons, the report site (never runs a method)
* ``cli``         the ``bench`` command

Importing this package is cheap on purpose: heavy libraries (pyarrow, datasets,
torch) are imported inside the functions that need them. This root module imports
nothing from its subpackages; any of them may read its version.
"""

DISTRIBUTION = "hwr-bench"


def _installed_version() -> str:
    # The one source of the version is pyproject.toml, read back from the installed distribution's
    # metadata (as MTEB does): a copy kept here went stale once (results said 0.1.0 under 0.2.0).
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:   # imported from a source tree that was never installed
        return "0+unknown"


__version__ = _installed_version()

# Each floor and the floors it may import (directly; nothing else, and never a floor above it).
LAYERS: dict[str, tuple[str, ...]] = {
    "core": (),
    "data": ("core",),
    "evaluation": ("core", "data"),
    "store": ("core", "data", "evaluation"),
    "api": ("core", "data", "evaluation", "store"),
    "engine": ("core", "data", "evaluation", "store", "api"),
    "efficiency": ("core", "data", "evaluation", "store", "api", "engine"),
    "views": ("core", "data", "evaluation", "store", "api"),
    "cli": ("core", "data", "evaluation", "store", "api", "engine", "efficiency", "views"),
    "__main__": ("cli",),
}
