"""Lint configuration: ``[tool.loopbridge.lint]`` in ``pyproject.toml`` as a value object.

Example::

    [tool.loopbridge.lint]
    exclude = ["tests/lint/corpus/**", "build/**"]
    select = ["LB"]
    ignore = ["LB104"]
    safe = ["legacy_app.cache.lookup"]          # project or library names that never block
    blocking = { "legacy_app.geo.resolve" = "use geo.resolve_async" }   # extra blocking calls
    async = ["legacy_app.jobs.enqueue"]         # extra functions that return a coroutine
    max-file-size = 2000000
    per-file-ignores = { "scripts/*.py" = ["LB3"] }
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._catalogue import Catalogue, default_catalogue
from ._codes import expand
from ._fileio import is_regular, read_bytes

__all__ = ["ConfigError", "LintConfig", "find_pyproject", "load_config"]


#: Excluded by name. Virtual environments are excluded by their ``pyvenv.cfg`` marker instead
#: (see the engine), so a package that happens to be called ``venv`` is still linted.
DEFAULT_EXCLUDE = (".git", ".hg", ".svn", ".venv", ".tox", ".nox", "__pycache__",
                   "build", "dist", "node_modules", ".mypy_cache", ".pytest_cache",
                   ".ruff_cache", ".eggs", "*.egg-info")


DEFAULT_MAX_FILE_SIZE = 4_000_000


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and what is expected."""


@dataclass(frozen=True, slots=True)
class LintConfig:
    """Validated lint settings; ``root`` is the directory exclude globs are relative to."""

    root: str = "."
    exclude: tuple[str, ...] = ()
    select: tuple[str, ...] = ("LB",)
    ignore: tuple[str, ...] = ()
    blocking: tuple[tuple[str, str], ...] = ()
    safe: tuple[str, ...] = ()
    async_names: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    follow_imports: bool = True
    source: str | None = field(default=None, compare=False)
    #: Learn installed libraries from their source (LB203, LB312); ``python`` names the
    #: environment (default: the running interpreter's), ``cache_dir`` where to keep it.
    libraries: bool = True
    python: str | None = None
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.max_file_size <= 0:
            raise ConfigError("max-file-size must be a positive number of bytes")
        try:
            expand(self.select)
            expand(self.ignore)
            for _, codes in self.per_file_ignores:
                expand(codes)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def replace(self, **changes: Any) -> LintConfig:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def enabled_codes(self) -> frozenset[str]:
        """The codes selected and not ignored."""
        return expand(self.select) - expand(self.ignore)

    def catalogue(self) -> Catalogue:
        """The shipped catalogue extended with this configuration's entries."""
        base = default_catalogue()
        if not (self.blocking or self.safe or self.async_names):
            return base
        return base.extend(dict(self.blocking), self.safe, self.async_names)


_KEYS = {"exclude", "extend-exclude", "select", "extend-select", "ignore", "blocking", "safe",
         "async", "max-file-size", "per-file-ignores", "follow-imports", "libraries", "python",
         "cache-dir"}


#: What each key holds, as the error for a wrong shape shows it.
_SHAPES = {
    "list": 'a list of strings, e.g. {key} = ["LB1", "LB301"]',
    "blocking": 'a table of qualified name = "what to use instead", e.g. '
                'blocking = {{ "pkg.fetch" = "await pkg.fetch_async(...)" }}',
    "per-file-ignores": 'a table of glob = list of codes, e.g. '
                        'per-file-ignores = {{ "scripts/*.py" = ["LB3"] }}',
}


def _kind(value: object) -> str:
    """The TOML name of a value's type, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a table" if all(isinstance(v, (str, list)) for v in value.values()) \
            else "a table with a value that is not a string"
    if isinstance(value, list):
        return "a list" if all(isinstance(v, str) for v in value) else "a list of non-strings"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"


def _wrong(key: str, shape: str, value: object) -> ConfigError:
    expected = _SHAPES.get(shape, shape).format(key=key)
    return ConfigError(f"[tool.loopbridge.lint] {key} must be {expected}; got {_kind(value)}")


def _str_list(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _wrong(key, "list", value)
    return tuple(value)


def _blocking(table: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    value = table.get("blocking", {})
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return tuple(value.items())
    raise _wrong("blocking", "blocking", value)


def _per_file(table: Mapping[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    value = table.get("per-file-ignores", {})
    if not isinstance(value, dict):
        raise _wrong("per-file-ignores", "per-file-ignores", value)
    found = []
    for glob, codes in value.items():
        if isinstance(codes, str):
            codes = [codes]
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise _wrong(f'per-file-ignores."{glob}"', "list", codes)
        found.append((glob, tuple(codes)))
    return tuple(found)


def _check_venv(python: str | None) -> None:
    """``python`` in a configuration file must name a virtual environment: linting a tree
    must never run a program its configuration names (``--python`` may name any interpreter)."""
    if python is None:
        return
    home = python if os.path.isdir(python) else os.path.dirname(os.path.dirname(python))
    if not os.path.isfile(os.path.join(home, "pyvenv.cfg")):
        raise ConfigError(f"python = {python!r} in [tool.loopbridge.lint] is not a virtual "
                          "environment (its directory or its bin/python, with pyvenv.cfg); "
                          "create it, name another one, or give an interpreter with --python")


def from_table(table: Mapping[str, Any], root: str = ".", source: str | None = None) -> LintConfig:
    """Build a :class:`LintConfig` from the ``[tool.loopbridge.lint]`` table."""
    normal = {key.replace("_", "-"): value for key, value in table.items()}
    unknown = sorted(set(normal) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown key(s) in [tool.loopbridge.lint]: {', '.join(unknown)}; "
                          f"known keys are {', '.join(sorted(_KEYS))}")
    size = normal.get("max-file-size", DEFAULT_MAX_FILE_SIZE)
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise _wrong("max-file-size", "a positive integer (bytes), e.g. max-file-size = "
                     "4000000", size)
    follow = normal.get("follow-imports", True)
    if not isinstance(follow, bool):
        raise _wrong("follow-imports", "true or false", follow)
    per_file = _per_file(normal)
    select = _str_list(normal, "select") or ("LB",)
    libraries = normal.get("libraries", True)
    if not isinstance(libraries, bool):
        raise _wrong("libraries", "true or false", libraries)
    places: dict[str, str | None] = {}
    for key in ("python", "cache-dir"):  # paths relative to the pyproject.toml's directory
        value = normal.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise _wrong(key, f'a path, e.g. {key} = ".venv"', value)
        places[key] = os.path.join(root, os.path.expanduser(value)) if value else None
    _check_venv(places["python"])
    return LintConfig(
        root=root,
        exclude=_str_list(normal, "exclude") + _str_list(normal, "extend-exclude"),
        select=select + _str_list(normal, "extend-select"),
        ignore=_str_list(normal, "ignore"),
        blocking=_blocking(normal),
        safe=_str_list(normal, "safe"),
        async_names=_str_list(normal, "async"),
        max_file_size=size,
        per_file_ignores=per_file,
        follow_imports=follow,
        source=source,
        libraries=libraries,
        python=places["python"],
        cache_dir=places["cache-dir"],
    )


def find_pyproject(start: str) -> str | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    current = os.path.abspath(start)
    while True:
        candidate = os.path.join(current, "pyproject.toml")
        if is_regular(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def load_config(path: str | None = None, start: str = ".") -> LintConfig:
    """Load the configuration from ``path`` or the nearest ``pyproject.toml`` above ``start``.

    A ``pyproject.toml`` without a ``[tool.loopbridge.lint]`` table gives the defaults (with
    exclusions relative to its directory).

    Raises:
        ConfigError: the file cannot be read or parsed, or the table is invalid.
    """
    found = path or find_pyproject(start)
    if found is None:
        return LintConfig(root=os.path.abspath(start))
    try:
        data = tomllib.loads(read_bytes(found).decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # TOMLDecodeError is a ValueError
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"cannot read configuration {found}: {reason}") from exc
    table: Any = data
    for key in ("tool", "loopbridge", "lint"):
        table = table.get(key, {}) if isinstance(table, dict) else None
    if not isinstance(table, dict):
        raise ConfigError(f"{found}: [tool.loopbridge.lint] must be a table")
    try:
        return from_table(table, root=os.path.dirname(os.path.abspath(found)), source=found)
    except ConfigError as exc:
        raise ConfigError(f"{found}: {exc}") from None
