import os
from pathlib import Path

import pytest

# Hub libraries must never try the network in tests (a missing checkpoint otherwise retries ~47 s).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_sessionfinish(session, exitstatus):
    # CI runs the README's test command verbatim; "no tests collected" must not fail it.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK


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
    from bench.registry import METHODS

    added = []

    def add(**targets):
        for name, target in targets.items():
            METHODS.register(name, target, source="test")
            added.append(name)

    yield add
    for name in added:
        METHODS.unregister(name)
