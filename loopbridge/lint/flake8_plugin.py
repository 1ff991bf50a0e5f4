"""flake8 integration: ``flake8 --select LB`` runs the loopbridge rules on each file.

flake8 hands over one file at a time; the plugin follows that file's imports to the project
modules on disk (cached per process), so a chain through a helper in another module is still
reported. flake8 applies ``# noqa`` and ``--select``/``--ignore`` itself; the project's
``[tool.loopbridge.lint]`` table still supplies extra blocking names, safe names and excludes.
"""

from __future__ import annotations

import ast
import functools
import logging
import os
from collections.abc import Iterator
from typing import Any

from .._version import __version__
from ._config import ConfigError, LintConfig, find_pyproject, load_config
from ._engine import lint_tree
from ._index import ModuleIndex

__all__ = ["LoopbridgeFlake8"]

logger = logging.getLogger(__name__)

_CACHE: dict[tuple[str, str], ModuleIndex] = {}


@functools.lru_cache(maxsize=64)
def _config_for(pyproject: str | None) -> LintConfig:
    if pyproject is None:
        return LintConfig(root=os.getcwd())
    try:
        return load_config(pyproject).replace(select=("LB",), ignore=())
    except ConfigError:
        logger.warning("ignoring invalid loopbridge configuration in %s", pyproject)
        return LintConfig(root=os.path.dirname(pyproject))


class LoopbridgeFlake8:
    """The flake8 checker: yields ``(line, column, "LBxxx message", type)`` per finding."""

    name = "loopbridge"
    version = __version__
    #: False when flake8's --select names codes but none of ours (the work would be thrown away).
    active = True

    @classmethod
    def parse_options(cls, options: Any) -> None:
        """Stay idle when ``--select`` is given and selects no LB code."""
        selected = list(getattr(options, "select", None) or [])
        selected += list(getattr(options, "extend_select", None) or [])
        explicit = getattr(options, "select", None)
        cls.active = not explicit or any(
            code.startswith("LB") or "LB".startswith(code) for code in selected)

    def __init__(self, tree: ast.AST, filename: str = "<stdin>") -> None:
        self.tree = tree
        self.filename = filename

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        """Lint the file; columns are 0-based as flake8 expects."""
        if not self.active or not isinstance(self.tree, ast.Module):
            return
        start = os.path.dirname(os.path.abspath(self.filename))
        config = _config_for(find_pyproject(start))
        try:
            findings = lint_tree(self.tree, self.filename, config, _CACHE)
        except RecursionError:
            return
        for item in findings:
            yield item.line, item.col - 1, f"{item.code} {item.message}", type(self)
