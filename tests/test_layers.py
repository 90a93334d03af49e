"""The floor plan holds: every import (read with ast, wherever it sits, ``if TYPE_CHECKING:`` too)
runs down the floors ``bench.LAYERS`` declares, no modules import each other in a circle, and a
method imports nothing of the harness but ``bench.api``. benchmarks/layers.py measures the same."""

import ast
from pathlib import Path

import pytest

import bench

ROOT = Path(__file__).resolve().parent.parent
METHOD_PACKAGES = ("adapters", "ourmodel", "methodkit")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(*packages: str) -> dict[str, Path]:
    return {_module(p): p for package in packages for p in sorted((ROOT / package).rglob("*.py"))
            if "__pycache__" not in p.parts}


ALL = _modules("bench", *METHOD_PACKAGES)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, ``from a import b`` as ``a.b`` where that is a module."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: a relative import"
            out += [(node.lineno, f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in ALL else node.module)
                    for a in node.names]
    return out


def _unit(module: str) -> str | None:
    """The floor of a bench module (the folder under bench/); the root package is ``bench``."""
    parts = module.split(".")
    return None if parts[0] != "bench" else "bench" if len(parts) == 1 else parts[1]


@pytest.mark.parametrize("module", sorted(m for m in ALL if m.split(".")[0] in METHOD_PACKAGES))
def test_a_method_imports_only_bench_api(module):
    wrong = [f"line {line}: {name}" for line, name in _imports(ALL[module])
             if name.split(".")[0] == "bench" and not (name == "bench.api" or name.startswith("bench.api."))]
    assert not wrong, f"{module} imports the harness beside bench.api: {wrong}"


def test_the_method_packages_stack_methodkit_under_ours_under_the_adapters():
    below = {"methodkit": set(), "ourmodel": {"methodkit"}, "adapters": {"methodkit", "ourmodel"}}
    for module, path in ALL.items():
        top = module.split(".")[0]
        for line, name in _imports(path):
            other = name.split(".")[0]
            if top == "bench":
                assert other not in METHOD_PACKAGES, f"{module}:{line}: the harness imports {name}"
            elif other in METHOD_PACKAGES and other != top:
                assert other in below[top], f"{module}:{line}: {top} may not import {name}"


def _declared_floors() -> dict[str, int]:
    floors: dict[str, int] = {}

    def floor(unit: str, seen=()) -> int:
        assert unit not in seen, f"LAYERS runs in a circle: {' -> '.join((*seen, unit))}"
        if unit not in floors:
            floors[unit] = 1 + max((floor(u, (*seen, unit)) for u in bench.LAYERS[unit]), default=-1)
        return floors[unit]

    for unit in bench.LAYERS:
        floor(unit)
    return floors


def test_every_floor_is_a_folder_and_is_declared():
    floors = _declared_floors()
    units = {_unit(m) for m in ALL if _unit(m) not in (None, "bench")}
    assert units == set(bench.LAYERS), "bench/'s folders and bench.LAYERS differ"
    for unit, allowed in bench.LAYERS.items():
        assert unit == "__main__" or (ROOT / "bench" / unit / "__init__.py").is_file()
        assert all(floors[u] < floors[unit] for u in allowed)
    assert floors["core"] == 0 and max(floors.values()) == floors["__main__"]


def test_every_import_runs_down_the_declared_floors():
    upward = []
    for module, path in ALL.items():
        here = _unit(module)
        for line, name in _imports(path):
            there = _unit(name)
            if here is None or there is None or there == here:
                continue
            if here == "bench":
                upward.append(f"{module}:{line} -> {name} (the package root imports no floor)")
            elif there != "bench" and there not in bench.LAYERS[here]:
                upward.append(f"{module}:{line} -> {name} ({here} may not import {there})")
    assert not upward, "\n".join(upward)


def test_no_modules_import_each_other_in_a_circle():
    graph = {m: {n for _, n in _imports(p) if n in ALL and n != m} for m, p in ALL.items()}
    state: dict[str, int] = {}   # 1: on the path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_each_floor_says_its_job_and_what_it_may_import():
    for unit in bench.LAYERS:
        if unit == "__main__":
            continue
        doc = ast.get_docstring(ast.parse((ROOT / "bench" / unit / "__init__.py").read_text(encoding="utf-8")))
        assert doc, f"bench/{unit}/__init__.py: no docstring"
        assert "import" in doc, f"bench/{unit}/__init__.py: its docstring does not say what it may import"
