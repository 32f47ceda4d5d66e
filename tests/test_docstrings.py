"""Every public function, class and method of the package says what it does: a docstring on
each name not starting with `_` (a method counts when its class is public too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "archiver"
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def public_definitions(tree: ast.Module) -> Iterator[Definition]:
    """Module-level functions and classes, and the methods of public classes, by name."""
    for node in tree.body:
        if isinstance(node, Definition) and not node.name.startswith("_"):
            yield node
            if isinstance(node, ast.ClassDef):
                yield from (
                    method
                    for method in node.body
                    if isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef)
                    and not method.name.startswith("_")
                )


def undocumented() -> list[str]:
    """`module:line name` of every public definition without a docstring."""
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = path.relative_to(PACKAGE.parent).as_posix()
        missing += [
            f"{name}:{node.lineno} {node.name}"
            for node in public_definitions(tree)
            if not ast.get_docstring(node)
        ]
    return missing


def test_the_scan_finds_an_undocumented_function() -> None:
    tree = ast.parse('def said():\n    """Yes."""\n\ndef bare(): pass\n\ndef _own(): pass\n')
    assert [n.name for n in public_definitions(tree) if not ast.get_docstring(n)] == ["bare"]


def test_every_public_definition_has_a_docstring() -> None:
    assert not undocumented(), "\n".join(undocumented())
