"""hwr-bench: a benchmark harness for cross-script handwriting retrieval.

Importing this package is cheap on purpose: heavy libraries (pyarrow, datasets,
torch) are imported inside the functions that need them.
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

RESULT_SCHEMA_VERSION = 1
