"""The package's folders show the pipeline, and imports run one way through them.

Read from the source (the AST of every module), not by importing it: an import cycle or an
upward import fails here with the modules that make it, before it can bite at run time.

    cli                                   options -> Settings -> one library call -> output
     |
    verify/ report/ recheck/ replay export  using an archive
     |        run/  archives/               the archive command; captures in web archives
     |      /   |   \\
    extract/ fetch/ store/                  the stages: none imports another
     |
    base: config models errors urls ...     shared by every stage
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "archiver"
STAGES = ("extract", "fetch", "store")
USERS = ("verify", "report", "recheck", "recover", "replay", "export", "deposit", "distributed")
RANK = {
    "base": 0,
    **dict.fromkeys(STAGES, 1),
    "run": 2,
    "archives": 2,
    **dict.fromkeys(USERS, 3),
    "cli": 4,
}
FACADES = {"archiver", "archiver.__main__"}  # the public API gathers from every layer


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str) -> Iterator[tuple[str, int]]:
    """Every archiver module `name` imports (a `from archiver.x import y` names the module
    archiver.x.y when that is one, else archiver.x), with the line that imports it."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "archiver":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "archiver":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield (sub if sub in MODULES else base), node.lineno


def layer(name: str) -> str:
    """The layer a module belongs to: its package under archiver/, `cli`, or `base` for the
    shared modules at the top (config, models, errors, urls...)."""
    parts = name.split(".")
    if len(parts) > 2 or parts[-1] in RANK or (len(parts) == 2 and parts[1] in RANK):
        return parts[1]
    return "base"


GRAPH = {name: dict(imported(name)) for name in MODULES}


def test_the_package_has_the_layers_this_test_judges() -> None:
    """The rules below only mean something while the folders they name exist."""
    layers = {layer(name) for name in MODULES if name not in FACADES}
    assert layers == set(RANK), f"layers found: {sorted(layers)}"


def test_imports_run_downwards_only() -> None:
    """A module imports its own package, or a layer below its own; the stages (extract, fetch,
    store) import none of each other, and the commands that use an archive import no other
    command and not the archive run."""
    wrong = []
    for name, targets in GRAPH.items():
        if name in FACADES:
            continue
        mine = layer(name)
        for target, line in targets.items():
            theirs = layer(target)
            if target in FACADES and target != "archiver":
                wrong.append(f"{name}:{line} imports {target}")
            if target in FACADES or theirs in (mine, "base"):
                continue
            if RANK[theirs] >= RANK[mine]:
                wrong.append(f"{name}:{line} ({mine}) imports {target} ({theirs})")
    assert not wrong, "imports that do not run downwards:\n" + "\n".join(wrong)


def test_the_package_root_is_imported_for_its_version_only() -> None:
    """`archiver` (the public API) gathers from every layer, so a module below it may take
    only what the root defines before it imports anything: `__version__`."""
    wrong = []
    for name, path in MODULES.items():
        if name in FACADES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "archiver" and not node.level:
                names = {alias.name for alias in node.names}
                if names - {"__version__"} - {n.rsplit(".", 1)[-1] for n in MODULES}:
                    wrong.append(f"{name}:{node.lineno} takes {sorted(names)}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    """Not even through TYPE_CHECKING imports: a cycle means two modules are one concern."""
    graph = {
        name: [t for t in targets if t in MODULES and t not in FACADES]
        for name, targets in GRAPH.items()
        if name not in FACADES
    }
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of more than one module (or one that
    imports itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root, out in graph.items():
        if root in index:
            continue
        work = [(root, iter(out))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
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
                    if len(component) > 1 or node in graph[node]:
                        found.append(sorted(component))
    return found


@pytest.mark.parametrize(
    ("graph", "cycles"),
    [
        ({"a": ["b"], "b": ["c"], "c": []}, []),
        ({"a": ["b"], "b": ["a"], "c": ["a"]}, [["a", "b"]]),
        ({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["d"]}, [["a", "b", "c"], ["d"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(
    graph: dict[str, list[str]], cycles: list[list[str]]
) -> None:
    assert sorted(strongly_connected(graph)) == cycles


def test_only_the_command_line_imports_click() -> None:
    """The library works without click: every other module is callable from Python."""
    users = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] == "click" for n in names):
                users.append(name)
    assert set(users) <= {"archiver.cli"}, users


def test_extraction_reaches_neither_the_network_nor_storage() -> None:
    """Not even through a base module: everything extract/ imports, transitively, stays in
    extract/ and the base, and no module of it imports a network or database library."""
    seen: set[str] = set()
    todo = [name for name in MODULES if layer(name) == "extract"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(t for t in GRAPH[name] if t in MODULES and t not in FACADES)
    assert {layer(name) for name in seen} <= {"extract", "base"}, sorted(seen)
    forbidden = {"httpx", "socket", "ssl", "sqlite3", "asyncio", "warcio"}
    for name in seen - {n for n in seen if layer(n) == "base" and n != "archiver.urls"}:
        tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                hits = {a.name.split(".")[0] for a in node.names} & forbidden
            elif isinstance(node, ast.ImportFrom) and not node.level:
                hits = {(node.module or "").split(".")[0]} & forbidden
            else:
                continue
            allowed = {"sqlite3"} if name == "archiver.extract.cache" else set()
            assert not hits - allowed, f"{name}:{node.lineno} imports {sorted(hits)}"
