"""The README's two set-up commands are what CI and users run: keep them in sync."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands():
    section = ROOT.joinpath("README.md").read_text().split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_readme_states_exactly_two_commands_and_ci_runs_the_test_one_verbatim():
    commands = _readme_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    main, tests = commands
    assert "bench run" in main and "pytest" in tests
    ci_lines = [line for line in ROOT.joinpath(".ci/run").read_text().splitlines()
                if line.strip() and not line.startswith(("#", "set ", "cd "))]
    assert ci_lines == [tests]


def test_system_packages_named_by_the_tesseract_adapter_are_installed_by_both_commands():
    from adapters.tesseract import APT_PACKAGES

    for command in _readme_commands():
        assert f"apt-get install -y -q {APT_PACKAGES}" in command


def test_the_test_command_installs_the_browser_the_report_test_drives():
    tests = _readme_commands()[1]
    assert re.search(r"apt-get install -y -q [^&]*\bchromium\b", tests)
    assert "[dev]" in tests and "playwright" in ROOT.joinpath("pyproject.toml").read_text()


def test_the_docs_document_the_table_import_columns_and_every_exit_code():
    from bench.api.commands import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NOTHING_RAN
    from bench.data.importers import table_columns_markdown

    data = (ROOT / "docs" / "data.md").read_text()
    block = re.search(r"<!-- BEGIN table-columns[^\n]*-->\n(.*?)\n<!-- END table-columns -->", data, re.S)
    assert block and block.group(1) == table_columns_markdown()   # generated, and current
    cli = (ROOT / "docs" / "cli.md").read_text()
    codes = {int(c) for c in re.findall(r"^\| (\d+) \|", cli, re.M)}
    assert {0, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NOTHING_RAN, EXIT_INTERRUPTED} <= codes


def test_ci_fails_a_run_with_a_skipped_test_and_a_run_with_no_tests(tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "test_x.py").write_text("import pytest\n\ndef test_a():\n    pytest.skip('no chromium')\n\n"
                                        "def test_b():\n    assert True\n")
    (tmp_path / "empty").mkdir()

    def pytest_in(target, ci):
        env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), "CI": "true" if ci else ""}
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-q", "-p", "no:cacheprovider",
                               str(target)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert pytest_in(tmp_path / "test_x.py", ci=False).returncode == 0
    ci = pytest_in(tmp_path / "test_x.py", ci=True)
    assert ci.returncode == 1 and "test_x.py::test_a: Skipped: no chromium" in ci.stdout
    assert pytest_in(tmp_path / "empty", ci=True).returncode == 5     # no tests: a failure, not a pass
