"""The harness's floor plan, measured from its imports: floors, imports that run upward, cycles.

Every ``import`` of every module under ``bench/`` (and of the method packages beside it:
``adapters/``, ``ourmodel/``, ``methodkit/``) is read with ``ast``, including imports inside
functions and ``if TYPE_CHECKING:`` blocks: a dependency is a dependency, whenever it is paid.

* A *unit* is a folder directly under ``bench/`` (``bench/engine/`` ...), or a module that sits
  directly in ``bench/`` (on a flat layout each such module is its own unit). The package root
  ``bench/__init__.py`` (version, the floor declaration) imports nothing and may be imported by all.
* *Floors, inferred*: a unit that imports no other unit is on floor 0; any other unit sits one
  floor above the highest unit it imports (units in an import cycle share a floor).
* *Floors, declared*: where ``bench/__init__.py`` declares ``LAYERS`` (each unit and the units it
  may import), a unit sits one floor above the highest unit it may import.
* An *upward import* is one that crosses units against the plan: into a unit the declaration does
  not allow; without a declaration, the fewest imports that must run upward however the units of
  an import cycle are stacked (each cycle's units are tried in every order, and the order with the
  fewest imports into a higher unit counts).
* *Cycles*: sets of modules, and of units, that import each other (strongly connected).
* *Method imports outside the API*: imports in ``adapters/``, ``ourmodel/``, ``methodkit/`` of a
  ``bench`` module other than ``bench.api`` (and its submodules).

Run on any checkout (no imports of the code itself)::

    python benchmarks/layers.py                 # this checkout; writes benchmarks/results/layers.json
    python benchmarks/layers.py /tmp/old --out -   # another checkout; JSON to stdout only
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bench", "adapters", "ourmodel", "methodkit")
METHOD_PACKAGES = ("adapters", "ourmodel", "methodkit")
API = "bench.api"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_modules(root: Path) -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        base = root / package
        if base.is_dir():
            for path in sorted(base.rglob("*.py")):
                if "__pycache__" not in path.parts:
                    out[module_name(root, path)] = path
    return out


def imported_modules(tree: ast.AST, here: str, is_package: bool, known: set[str]) -> set[str]:
    """The known modules a module's imports name (``from a.b import c`` names ``a.b.c`` when that is
    a module, else ``a.b``); relative imports are resolved against ``here``."""
    found = set()

    def longest_known(name: str) -> str | None:
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            candidate = ".".join(parts[:i])
            if candidate in known:
                return candidate
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                hit = longest_known(alias.name)
                if hit:
                    found.add(hit)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                hit = longest_known(f"{base}.{alias.name}") if base else None
                hit = hit or longest_known(base)
                if hit:
                    found.add(hit)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = read_modules(root)
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = imported_modules(tree, name, path.name == "__init__.py", known) - {name}
    return graph


def unit_of(module: str) -> str | None:
    """The unit of a bench module (None outside bench); the root package is ``bench``."""
    parts = module.split(".")
    if parts[0] != "bench":
        return None
    return "bench" if len(parts) == 1 else parts[1]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


def floors_of(graph: dict[str, set[str]]) -> dict[str, int]:
    """Each node's floor: 0 without out-edges, else one above the highest node it reaches in one
    step (nodes of one cycle share their floor)."""
    components = strongly_connected(graph)
    comp_of = {n: i for i, c in enumerate(components) for n in c}
    floor: dict[int, int] = {}
    for i, component in enumerate(components):   # Tarjan emits a component after all it reaches
        succ = {comp_of[m] for n in component for m in graph[n] if m in comp_of and comp_of[m] != i}
        floor[i] = 1 + max((floor[j] for j in succ), default=-1)
    return {n: floor[comp_of[n]] for n in graph}


def declared_layers(root: Path) -> dict[str, list[str]] | None:
    """``LAYERS`` from ``bench/__init__.py`` (read, not imported), or None."""
    init = root / "bench" / "__init__.py"
    if not init.is_file():
        return None
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        targets = (node.targets if isinstance(node, ast.Assign) else
                   [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else [])
        if any(isinstance(t, ast.Name) and t.id == "LAYERS" for t in targets):
            return {k: list(v) for k, v in ast.literal_eval(node.value).items()}
    return None


def fewest_upward(cycle: list[str], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The imports that run up in the stacking of ``cycle``'s units (bottom first) with the fewest
    such imports (every order is tried; the first best order wins)."""
    from itertools import permutations

    best = None
    for order in permutations(sorted(cycle)):
        floor = {u: i for i, u in enumerate(order)}
        up = [(a, b) for a, b in edges if floor[unit_of(b)] > floor[unit_of(a)]]
        if best is None or len(up) < len(best):
            best = up
    return best or []


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest import chain among modules (over the acyclic condensation)."""
    memo: dict[str, list[str]] = {}
    components = strongly_connected(graph)
    comp_of = {n: i for i, c in enumerate(components) for n in c}
    for component in components:   # reverse topological order: successors first
        for node in component:
            best: list[str] = []
            for m in sorted(graph[node]):
                if m in memo and comp_of[m] != comp_of[node] and len(memo[m]) > len(best):
                    best = memo[m]
            memo[node] = [node] + best
    return max(memo.values(), key=len, default=[])


def measure(root: Path) -> dict:
    graph = import_graph(root)
    harness = {m: {d for d in deps if unit_of(d) is not None} for m, deps in graph.items() if unit_of(m) is not None}
    edges = [(a, b) for a, deps in sorted(harness.items()) for b in sorted(deps)]
    units: dict[str, set[str]] = {}
    for a, b in edges:
        ua, ub = unit_of(a), unit_of(b)
        units.setdefault(ua, set())
        units.setdefault(ub, set())
        if ua != ub and ub != "bench":
            units[ua].add(ub)
    for m in harness:
        units.setdefault(unit_of(m), set())
    units.pop("bench", None)
    for deps in units.values():
        deps.discard("bench")
    inferred = floors_of(units)
    unit_cycles = [c for c in strongly_connected(units) if len(c) > 1]
    declared = declared_layers(root)
    upward = []
    for a, b in edges:
        ua, ub = unit_of(a), unit_of(b)
        if ua == ub or ub == "bench":
            continue
        if ua == "bench":
            upward.append((a, b, "the package root imports a unit"))
        elif declared is not None:
            if ua not in declared:
                upward.append((a, b, f"unit {ua!r} is not in LAYERS"))
            elif ub not in declared[ua]:
                upward.append((a, b, f"{ua} may not import {ub}"))
    if declared is None:
        for cycle in unit_cycles:
            for a, b in fewest_upward(cycle, [(a, b) for a, b in edges if unit_of(a) in cycle and unit_of(b) in cycle
                                              and unit_of(a) != unit_of(b)]):
                upward.append((a, b, f"cycle {' <-> '.join(cycle)}: runs up however it is stacked"))
    declared_floors = None
    if declared is not None:
        declared_floors = floors_of({u: set(v) for u, v in declared.items()})
    module_cycles = [c for c in strongly_connected(harness) if len(c) > 1]
    outside_api = sorted({(m, d) for m, deps in graph.items() if m.split(".")[0] in METHOD_PACKAGES
                          for d in deps if unit_of(d) is not None and d != API and not d.startswith(API + ".")})
    chain = longest_chain(harness)
    return {
        "modules": len(harness),
        "imports": len(edges),
        "units": len(units),
        "floors": 1 + max(inferred.values(), default=-1),
        "floor_of": dict(sorted(inferred.items(), key=lambda kv: (kv[1], kv[0]))),
        "declared_floors": None if declared_floors is None else 1 + max(declared_floors.values(), default=-1),
        "declared_floor_of": None if declared_floors is None else
        dict(sorted(declared_floors.items(), key=lambda kv: (kv[1], kv[0]))),
        "upward_imports": len(upward),
        "upward": [{"from": a, "to": b, "why": why} for a, b, why in upward],
        "module_cycles": module_cycles,
        "unit_cycles": unit_cycles,
        "longest_chain": len(chain),
        "longest_chain_modules": chain,
        "method_imports_outside_api": len(outside_api),
        "method_imports_outside_api_list": [f"{m} -> {d}" for m, d in outside_api],
    }


def commit_of(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or None
    except OSError:
        return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=ROOT, help="A checkout (default: this one).")
    parser.add_argument("--out", default=None, help="JSON file to write ('-': none; default: "
                        "benchmarks/results/layers.json for this checkout, none for another).")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    report = {"benchmark": "layers", "commit": commit_of(root), **measure(root)}
    print(f"{root} ({report['commit']}): {report['modules']} modules, {report['imports']} imports between them, "
          f"{report['units']} units")
    print(f"floors: {report['floors']} (inferred from the imports)"
          + (f", {report['declared_floors']} declared" if report["declared_floors"] is not None else
             ", none declared"))
    for unit, floor in report["floor_of"].items():
        print(f"  {floor:>2} {unit}")
    print(f"upward imports: {report['upward_imports']}")
    for item in report["upward"]:
        print(f"  {item['from']} -> {item['to']} ({item['why']})")
    print(f"cycles: {len(report['module_cycles'])} between modules, {len(report['unit_cycles'])} between units")
    for cycle in report["module_cycles"] + report["unit_cycles"]:
        print("  " + " <-> ".join(cycle))
    print(f"longest import chain: {report['longest_chain']} modules ({' -> '.join(report['longest_chain_modules'])})")
    print(f"method imports of bench modules other than {API}: {report['method_imports_outside_api']}")
    out = args.out
    if out is None and root == ROOT:
        out = str(ROOT / "benchmarks" / "results" / "layers.json")
    if out and out != "-":
        Path(out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
