"""The import arrows of docs/architecture.md, read statically from every module of the project."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("async_core", "bridge", "loopbridge", "legacy_app")

#: package -> top-level names it must never import (anywhere in a module)
FORBIDDEN_ANYWHERE = {
    "async_core": {"bridge", "loopbridge", "legacy_app", "flask", "werkzeug", "asgiref"},
    "bridge": {"loopbridge", "legacy_app"},
    "loopbridge": set(),
    "legacy_app": {"loopbridge"},
}
#: package -> top-level names it must not import at module level (only inside functions)
FORBIDDEN_AT_MODULE_LEVEL = {
    "loopbridge": {"async_core", "bridge", "legacy_app", "aiohttp", "flask", "asgiref", "werkzeug", "yarl"},
}
#: tools modules loaded only once their runtime is chosen, and what they may import at module
#: level: the bench's parts (run by `loopbridge bench`), the Flask CLI group (loaded by the `flask`
#: command, where Flask is already imported), the strict half of the pytest plugin (imported
#: only after a run opts in)
TOOL_PROGRAMS = {
    "loopbridge/bench/": {"async_core", "bridge", "aiohttp", "flask", "asgiref", "werkzeug", "yarl"},
    "loopbridge/flask_cli.py": {"flask"},
    "loopbridge/_pytest_strict.py": {"async_core", "bridge"},
}


def _imports(tree: ast.Module) -> Iterator[tuple[str, bool, int]]:
    """(top-level module name, at module level?, line) for every absolute import."""
    def walk(node: ast.AST, top: bool) -> Iterator[tuple[str, bool, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name.split(".")[0], top, child.lineno
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                yield child.module.split(".")[0], top, child.lineno
            inner = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # typing-only imports never run
            yield from walk(child, inner)

    yield from walk(tree, True)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_arrows(package: str) -> None:
    broken = []
    for path in _modules(package):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for name, top, line in _imports(tree):
            if name in FORBIDDEN_ANYWHERE[package]:
                broken.append(f"{rel}:{line} imports {name}")
            allowed = set().union(*(names for prefix, names in TOOL_PROGRAMS.items() if rel.startswith(prefix)))
            if top and name not in allowed and name in FORBIDDEN_AT_MODULE_LEVEL.get(package, ()):
                broken.append(f"{rel}:{line} imports {name} at module level (import it inside the command)")
    assert not broken, "imports against docs/architecture.md:\n" + "\n".join(broken)


def test_the_architecture_doc_names_every_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for package in PACKAGES:
        assert f"## {package}" in text


def test_the_checker_sees_a_forbidden_import() -> None:
    tree = ast.parse("import os\nfrom flask import Flask\ndef f():\n    import aiohttp\n")
    assert list(_imports(tree)) == [("os", True, 1), ("flask", True, 2), ("aiohttp", False, 4)]


def test_a_module_that_makes_a_logger_uses_it() -> None:
    unused = []
    for package in PACKAGES:
        for path in _modules(package):
            text = path.read_text(encoding="utf-8")
            if "logger = logging.getLogger(" in text and "logger." not in text:
                unused.append(path.relative_to(ROOT).as_posix())
    assert not unused, "modules that define a logger they never use: " + ", ".join(unused)
