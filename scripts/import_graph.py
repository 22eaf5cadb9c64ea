"""The package's import graph in figures: rooms, arrows, arrows up a layer, circles.

    python scripts/import_graph.py [--verbose]

Rooms are the top-level modules and packages of ``lgp_lab``; an arrow is "room A imports
room B" (any import, inside functions too, ``TYPE_CHECKING`` blocks excluded); the layers
are the ``layers`` contract of ``[tool.importlinter]`` in pyproject.toml, so an arrow is
"up" when it goes to a higher layer; a circle is a set of modules that import each other
(a strongly connected component of the module graph). ``lint-imports`` enforces the
contract in CI; this script counts.
"""

from __future__ import annotations

import sys
import tomllib
from collections import Counter
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def _layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    return [[m.strip() for m in layer.replace("|", ":").split(":")] for layer in layers]


def _room(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), those of two or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    imported = sorted(graph.find_modules_directly_imported_by(child))
                    work.append((child, iter(imported)))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def main(verbose: bool = False) -> int:
    graph = grimp.build_graph("lgp_lab", exclude_type_checking_imports=True)
    level = {m: i for i, layer in enumerate(_layers()) for m in layer}
    arrows: Counter[tuple[str, str]] = Counter()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = _room(module), _room(imported)
            if a != b:
                arrows[a, b] += 1
    rooms = {_room(m) for m in graph.modules}
    up = [(a, b) for a, b in arrows if a in level and b in level and level[b] < level[a]]
    circles = _circles(graph)
    print(f"{len(rooms)} rooms, {len(arrows)} arrows, {len(up)} up a layer, {len(circles)} circles")
    for a, b in sorted(up):
        print(f"  up: {a} -> {b}")
    for circle in circles:
        print(f"  circle of {len(circle)}: {', '.join(circle)}")
    unplaced = sorted(r for r in rooms if r not in level and r != "lgp_lab")
    if unplaced:
        print(f"  in no layer: {', '.join(unplaced)}")
    if verbose:
        for (a, b), n in sorted(arrows.items()):
            print(f"  {a} -> {b} ({n})")
    return 0


if __name__ == "__main__":
    sys.exit(main("--verbose" in sys.argv[1:]))
