"""A pytest plugin: in CI (``CI=true``: the README's test command on a fresh machine, with every
extra installed) a skipped test is a test that did not run, so the run fails and lists each skip
with its reason. Elsewhere a skip stays a skip (a machine without chromium, say)."""

import os

import pytest

_SKIPS: list[tuple[str, str]] = []


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _note(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPS.append((report.nodeid, reason))


def pytest_runtest_logreport(report):
    _note(report)


def pytest_collectreport(report):   # a module-level importorskip
    _note(report)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    if _in_ci() and _SKIPS and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _in_ci() and _SKIPS:
        terminalreporter.section("skipped in CI: each is a failure here")
        for nodeid, reason in _SKIPS:
            terminalreporter.line(f"{nodeid}: {reason}")
