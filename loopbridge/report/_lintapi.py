"""The one place the report touches the lint's internals: files, index, resolution.

The report is built on the lint's index (one parse and one walk per file, imports and aliases
resolved across modules, project functions classified). Everything it needs from the lint
goes through this module, in a shape that does not depend on how the lint spells a meaning or
a callee internally (plain tuples then, named tuples now), so a refactor of the lint breaks
at most this file, and ``tests/report`` says so at once.
"""

from __future__ import annotations

import ast
from typing import Any, NamedTuple

from loopbridge.lint._catalogue import Entry
from loopbridge.lint._config import LintConfig
from loopbridge.lint._engine import _Excluder, _Follower, _Naming, _shown, discover
from loopbridge.lint._index import (
    CallSite,
    ClassInfo,
    FunctionInfo,
    ModuleIndex,
    index_module,
)
from loopbridge.lint._resolve import Project
from loopbridge.lint._rule_base import on_loop
from loopbridge.lint._rule_files import FileProblem, decode, parse, read

__all__ = ["CallSite", "Called", "ClassInfo", "Entry", "FileProblem", "FunctionInfo",
           "LintConfig", "ModuleIndex", "Project", "called", "discover", "index_file",
           "meaning", "naming", "new_project", "on_loop", "shown"]

#: Old one- and two-letter meaning kinds of the lint, mapped to its current words.
_KINDS = {"q": "outside", "i": "instance", "pf": "function", "pc": "class", "pm": "module",
          "sup": "super"}


class Called(NamedTuple):
    """What a call site invokes, as the report reads it."""

    kind: str
    name: str
    entry: Entry | None
    fn: FunctionInfo | None
    #: A call that may reach one of several project functions (a dispatch table's entry, an
    #: overridden method): all of them.
    alts: tuple[FunctionInfo, ...] = ()


def meaning(project: Project, value: Any) -> tuple[str, str] | None:
    """``(kind, name)`` of a symbolic value: kind is outside/instance/function/class/module."""
    found = project.meaning(value)
    if found is None:
        return None
    kind, name = found[0], found[1]
    return _KINDS.get(kind, kind), name


def called(project: Project, site: CallSite) -> Called | None:
    """Classify a call site with the lint's own classification (``block``, ``sync``, ...)."""
    found: Any = project.callee(site)
    if found is None:
        return None
    if hasattr(found, "kind"):
        return Called(found.kind, found.name, found.entry, found.fn,
                      tuple(getattr(found, "alts", ())))
    kind, obj = found
    if isinstance(obj, Entry):
        return Called(kind, obj.name, obj, None)
    if isinstance(obj, FunctionInfo):
        return Called(kind, obj.qualname, None, obj)
    return Called(kind, str(obj), None, None)


def shown(path: str) -> str:
    """A path as the lint shows it (relative to the working directory when inside it)."""
    return _shown(path)


def index_file(path: str, name: str, is_package: bool,
               config: LintConfig) -> tuple[ModuleIndex, ast.Module, str]:
    """Read, parse and index one file; the tree and text are returned for the route pass.

    Raises:
        FileProblem: the file cannot be read, decoded or parsed.
    """
    where = _shown(path)
    text = decode(read(path, where, config.max_file_size), where)
    tree = parse(text, where)
    return index_module(tree, name, where, is_package), tree, text


def new_project(config: LintConfig, roots: list[str], naming: Any) -> Project:
    """A lint project whose loader indexes imported project modules on demand."""
    follower = None
    if config.follow_imports:
        follower = _Follower(reversed(roots), naming, config,
                             _Excluder(config.root, config.exclude))
    return Project(config.catalogue(), follower)


def naming() -> Any:
    """The lint's module-naming helper (module names from the package layout on disk)."""
    return _Naming()
