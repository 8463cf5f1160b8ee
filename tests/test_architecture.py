"""The layers of the package, checked from the source: no import cycles (function-level imports
count), nothing below the CLI imports it, and every package imports only the layers below it
(docs/architecture.md draws the same table).

The graph is read with ``ast``, so an import hidden inside a function is an import too; only
imports under ``if TYPE_CHECKING:`` are left out (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "skyfence"

# Each top-level module or package of skyfence and the layer it sits in; a module may import
# only from its own package or from packages in lower layers.
LAYERS: dict[str, int] = {
    "errors": 0,
    "timeutil": 1,
    "geodesy": 1,
    "settings": 1,
    "files": 1,
    "transparency": 1,
    "jsonable": 2,
    "orbits": 2,
    "regions": 2,
    "ground": 3,
    "policy": 3,
    "links": 4,
    "store": 4,
    "detect": 4,
    "analysis": 5,
    "scale": 6,
    "app": 7,
    "client": 7,
    "service": 8,
    "web": 9,
    "api": 8,
    "tlog_http": 8,
    "cli": 10,
}
ROOT = "skyfence"  # the package root: imports only the bottom layer


def _modules() -> dict[str, Path]:
    mods = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        mods[".".join(parts)] = path
    return mods


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(sub) for sub in ast.walk(node))
    return skip


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for t in targets:
            if t in mods and t != name and not name.startswith(t + "."):
                out.add(t)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_nothing_below_the_cli_imports_it() -> None:
    graph = _graph()
    bad = sorted(
        f"{m} -> {t}"
        for m, ts in graph.items()
        for t in ts
        if _package(t) == "cli" and _package(m) != "cli"
    )
    assert bad == []


def test_every_package_has_a_layer() -> None:
    unknown = sorted({_package(m) for m in _graph()} - set(LAYERS) - {ROOT})
    assert unknown == [], f"add these to LAYERS (and docs/architecture.md): {unknown}"


def test_imports_go_down_the_layers() -> None:
    graph = _graph()
    bad = []
    for m, ts in graph.items():
        src = _package(m)
        level = LAYERS.get(src, 0 if src == ROOT else 99)
        for t in ts:
            dst = _package(t)
            if dst == src:
                continue
            if src == ROOT:
                ok = LAYERS.get(dst, 99) == 0
            else:
                ok = LAYERS.get(dst, 99) < level
            if not ok:
                bad.append(f"{m} -> {t}")
    assert sorted(bad) == []


def test_the_checker_sees_function_level_imports_and_cycles(tmp_path: Path) -> None:
    # the checker itself: a cycle closed by a hidden function-level import is found, and a
    # TYPE_CHECKING import is not an import
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    probe = tmp_path / "x.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from skyfence.store import Store\n"
        "def f():\n    from skyfence.cli import main\n"
    )
    mods = {"skyfence.x": probe, "skyfence.cli": probe, "skyfence.store": probe}
    assert _imports("skyfence.x", probe, mods) == {"skyfence.cli"}
