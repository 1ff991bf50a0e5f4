"""The lint engine: find the files, index each once, resolve across modules, run the rules.

Each file is read, parsed and walked exactly once; only its index (not its tree) is kept.
After every file is indexed, the rule families run over the functions of the files that were
asked for; a module those files import but that was not asked for is indexed on demand
(``follow-imports``) so that chains through it are still seen, without reporting on it.
The garbage collector is paused for the run: the parse creates many objects that all live
until the file is indexed, and collecting them mid-run only costs time.
"""

from __future__ import annotations

import ast
import fnmatch
import gc
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ._codes import FAMILIES
from ._config import DEFAULT_EXCLUDE, LintConfig
from ._fileio import is_regular
from ._index import ModuleIndex, index_module, noqa_comments, parse_noqa
from ._libindex import chain_loaders, open_libraries
from ._model import Finding
from ._resolve import Project
from ._rule_base import Checker
from ._rule_files import FileProblem, decode, parse, read, too_complex
from ._rule_libraries import relabel
from ._rule_suppressions import apply_suppressions

__all__ = ["LintResult", "discover", "lint_paths", "lint_source", "lint_tree"]

logger = logging.getLogger(__name__)

_MAX_FOLLOWED = 4000


@dataclass(slots=True)
class LintResult:
    """The outcome of a run: sorted findings, the files read, and counts for statistics."""

    findings: list[Finding] = field(default_factory=list)
    #: Every file of the run, each path as findings show it; a baseline judges only these.
    paths: list[str] = field(default_factory=list)
    files: int = 0
    lines: int = 0
    suppressed: int = 0
    followed: int = 0
    #: For each file with findings, the line spans of its outermost functions (for --fix).
    spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: With ``keep_index``: each indexed file's index and line count, by the path findings show
    #: (a later run after ``--fix`` re-reads only the files the fix changed).
    index: dict[str, tuple[ModuleIndex, int]] = field(default_factory=dict)
    #: Library modules read from source and reused from the cache (see _libindex).
    library_modules: tuple[int, int] = (0, 0)


class _Excluder:
    """Exclude globs: a pattern with ``/`` matches the path from the root, others any part."""

    def __init__(self, root: str, patterns: Iterable[str]) -> None:
        self.root = os.path.abspath(root)
        path_globs, name_globs = [], list(DEFAULT_EXCLUDE)
        for pattern in patterns:
            pattern = pattern.replace("\\", "/").removeprefix("./")
            if "/" in pattern.rstrip("/"):
                path_globs.append(pattern.rstrip("/"))
                if pattern.endswith("/**"):
                    path_globs.append(pattern[:-3])
            else:
                name_globs.append(pattern.rstrip("/"))
        self._path = _compile(path_globs)
        self._name = _compile(name_globs)

    def excluded(self, path: str, *, is_dir: bool = False) -> bool:
        absolute = os.path.abspath(path)
        if self._name is not None and self._name.match(os.path.basename(absolute)):
            return True
        if self._path is None:
            return False
        rel = os.path.relpath(absolute, self.root).replace(os.sep, "/")
        return not rel.startswith("..") and bool(self._path.match(rel))

    def any_part_excluded(self, path: str) -> bool:
        rel = os.path.relpath(os.path.abspath(path), self.root)
        if rel.startswith(".."):
            return self.excluded(path)
        parts = rel.split(os.sep)
        current = self.root
        for part in parts:
            current = os.path.join(current, part)
            if self.excluded(current):
                return True
        return False


def _compile(globs: list[str]) -> re.Pattern[str] | None:
    if not globs:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))


def _shown(path: str) -> str:
    rel = os.path.relpath(path)
    return (path if rel.startswith("..") else rel).replace(os.sep, "/")


def _is_virtualenv(directory: str) -> bool:
    """A virtual environment (venv, virtualenv, uv, poetry) has ``pyvenv.cfg`` at its top."""
    return os.path.isfile(os.path.join(directory, "pyvenv.cfg"))


def _dangling(path: str) -> bool:
    """A symbolic link that leads nowhere (broken, or a loop): reported as LB904 when read."""
    return os.path.islink(path) and not os.path.exists(path)


def discover(paths: Sequence[str], config: LintConfig) -> list[str]:
    """The Python files under ``paths`` that the configuration does not exclude, sorted.

    Only regular files are collected from directories (a FIFO or socket named ``*.py`` is
    skipped; a symbolic link that is broken or loops is kept, to be reported as LB904), and virtual environments inside them are skipped by their ``pyvenv.cfg``
    marker, whatever their name; a path named explicitly is kept and, if it is not a regular file, reported as
    LB904 without being opened.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    excluder = _Excluder(config.root, config.exclude)
    found: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            if excluder.any_part_excluded(path) and os.path.abspath(path) != excluder.root:
                continue
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames
                                     if not excluder.excluded(os.path.join(dirpath, d))
                                     and not _is_virtualenv(os.path.join(dirpath, d)))
                for filename in filenames:
                    full = os.path.join(dirpath, filename)
                    if filename.endswith(".py") and not excluder.excluded(full) \
                            and (is_regular(full) or _dangling(full)):
                        found.add(full)
        elif os.path.exists(path):
            # named explicitly: a FIFO or device is reported (LB904) when read, never opened
            if not excluder.any_part_excluded(path):
                found.add(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
    return sorted(found, key=lambda p: _shown(p))


class _Naming:
    """Module names from the package structure on disk (cached per directory)."""

    def __init__(self) -> None:
        self._package: dict[str, bool] = {}
        self.taken: dict[str, str] = {}

    def is_package_dir(self, directory: str) -> bool:
        known = self._package.get(directory)
        if known is None:
            known = self._package[directory] = os.path.isfile(
                os.path.join(directory, "__init__.py"))
        return known

    def name(self, path: str) -> tuple[str, bool, str]:
        """Return (module name, is package ``__init__``, import root directory)."""
        absolute = os.path.abspath(path)
        directory, filename = os.path.split(absolute)
        stem = filename.removesuffix(".py")
        is_package = stem == "__init__"
        parts = [] if is_package else [stem]
        while self.is_package_dir(directory):
            directory, package = os.path.split(directory)
            parts.insert(0, package)
            if not package:
                break
        name = ".".join(parts) or stem
        owner = self.taken.setdefault(name, absolute)
        if owner != absolute:
            name = f"{name}@{len(self.taken)}"
            self.taken[name] = absolute
        return name, is_package, directory


def _index_file(path: str, shown: str, name: str, is_package: bool,
                config: LintConfig) -> tuple[ModuleIndex, int]:
    text = decode(read(path, shown, config.max_file_size), shown)
    tree = parse(text, shown)
    try:
        module = index_module(tree, name, shown, is_package)
    except RecursionError as exc:
        raise too_complex(shown) from exc
    del tree
    module.noqa = parse_noqa(text)
    module.noqa_cols = noqa_comments(text, module.noqa)
    return module, text.count("\n") + (0 if text.endswith("\n") or not text else 1)


class _Follower:
    """Index, on demand, the project modules that linted files import (never reported)."""

    def __init__(self, roots: Iterable[str], naming: _Naming, config: LintConfig,
                 excluder: _Excluder, cache: dict[tuple[str, str], ModuleIndex] | None = None,
                 ) -> None:
        self.roots = list(dict.fromkeys(roots))
        self.naming = naming
        self.config = config
        self.excluder = excluder
        self.count = 0
        self.cache = cache

    def __call__(self, modname: str) -> ModuleIndex | None:
        if self.count >= _MAX_FOLLOWED or not modname or "@" in modname:
            return None
        relative = modname.replace(".", os.sep)
        for root in self.roots:
            for candidate in (os.path.join(root, relative + ".py"),
                              os.path.join(root, relative, "__init__.py")):
                if os.path.isfile(candidate) and not self.excluder.any_part_excluded(candidate):
                    return self._load(candidate, modname)
        return None

    def _load(self, path: str, modname: str) -> ModuleIndex | None:
        self.count += 1
        absolute = os.path.abspath(path)
        if self.naming.taken.get(modname, absolute) != absolute:
            return None
        self.naming.taken[modname] = absolute
        if self.cache is not None and (absolute, modname) in self.cache:
            return self.cache[(absolute, modname)]
        try:
            module, _ = _index_file(path, _shown(path), modname,
                                    path.endswith("__init__.py"), self.config)
        except FileProblem:
            return None
        except Exception:  # a followed module is context only: never fail the run for it
            logger.debug("could not index followed module %s", path, exc_info=True)
            return None
        if self.cache is not None:
            self.cache[(absolute, modname)] = module
        return module


def lint_paths(paths: Sequence[str], config: LintConfig | None = None, *,
               keep_index: bool = False,
               reuse: Mapping[str, tuple[ModuleIndex, int]] | None = None) -> LintResult:
    """Lint the Python files under ``paths``; see ``discover`` for the files chosen.

    ``keep_index`` keeps each file's index in :attr:`LintResult.index`; ``reuse`` is such an
    index from an earlier run, minus the files changed since (they are read again): the rules
    still run over every file, so a change in one file is seen wherever it matters.
    """
    config = config or LintConfig()
    files = discover(paths, config)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(files, config, keep_index, reuse)
    finally:
        if enabled:
            gc.enable()


def _run(files: list[str], config: LintConfig, keep_index: bool = False,
         reuse: Mapping[str, tuple[ModuleIndex, int]] | None = None) -> LintResult:
    result = LintResult(files=len(files))
    libraries = open_libraries(config)  # installed libraries (LB203, LB312), see _libindex
    reuse = reuse or {}
    naming = _Naming()
    problems: list[Finding] = []
    modules: list[ModuleIndex] = []
    roots: list[str] = [config.root]
    for path in files:
        shown = _shown(path)
        result.paths.append(shown)
        name, is_package, root = naming.name(path)
        roots.append(root)
        try:
            known = reuse.get(shown)
            if known is not None and known[0].modname == name:
                module, lines = known
            else:
                module, lines = _index_file(path, shown, name, is_package, config)
        except FileProblem as problem:
            problems.append(problem.finding)
            continue
        except Exception as exc:  # one bad file must not stop the run
            logger.exception("internal error while indexing %s", shown)
            problems.append(Finding(shown, 1, 1, "LB906", f"internal error while analysing "
                                    f"the file ({type(exc).__name__}: {exc}); please report it"))
            continue
        result.lines += lines
        modules.append(module)
        if keep_index:
            result.index[shown] = (module, lines)
    follower = None
    if config.follow_imports:
        follower = _Follower(reversed(roots), naming, config,
                             _Excluder(config.root, config.exclude))
    project = Project(config.catalogue(), chain_loaders(follower, libraries))
    if libraries is not None:
        project.origin = libraries.origin  # type: ignore[assignment]
    for module in modules:
        project.add(module)
    found = list(problems)
    found.extend(_check_modules(modules, project))
    if libraries is not None:
        result.library_modules = (libraries.read, libraries.reused)
        if libraries.cache is not None:
            libraries.cache.save()
    result.followed = follower.count if follower else 0
    result.findings, result.suppressed = _filter(found, modules, config)
    result.spans = _spans(modules, {finding.path for finding in result.findings})
    return result


def _spans(modules: list[ModuleIndex], paths: set[str]) -> dict[str, list[tuple[int, int]]]:
    """Line spans of the functions not nested in another function, in the files ``paths``."""
    return {module.path: [(fn.line, fn.end) for fn in module.functions.values()
                          if fn.name not in ("<module>", "<class>") and "<locals>" not in
                          fn.qualname]
            for module in modules if module.path in paths}


def _check_modules(modules: list[ModuleIndex], project: Project) -> Iterator[Finding]:
    checkers = [relabel(checker, project) for family in FAMILIES
                if (checker := family.start(project)) is not None]
    for module in modules:
        yield from _check_module(module, checkers)


def _check_module(module: ModuleIndex, checkers: list[Checker]) -> Iterator[Finding]:
    findings: list[Finding] = []
    try:
        for fn in list(module.functions.values()):
            for checker in checkers:
                findings.extend(checker(fn))
    except RecursionError:
        return iter([too_complex(module.path).finding])
    return iter(findings)


def _filter(found: list[Finding], modules: list[ModuleIndex],
            config: LintConfig) -> tuple[list[Finding], int]:
    return apply_suppressions(found, modules, config.enabled_codes() | {"LB906"},
                              config.per_file_ignores)


def lint_source(source: str, path: str = "<string>", config: LintConfig | None = None,
                modname: str = "__lint__") -> list[Finding]:
    """Lint one module given as text (no files are read; imports are not followed)."""
    config = (config or LintConfig()).replace(follow_imports=False)
    try:
        tree = parse(source, path)
        module = index_module(tree, modname, path, False)
    except FileProblem as problem:
        return [problem.finding]
    except RecursionError:
        return [too_complex(path).finding]
    module.noqa = parse_noqa(source)
    module.noqa_cols = noqa_comments(source, module.noqa)
    project = Project(config.catalogue(), None)
    project.add(module)
    findings, _ = _filter(list(_check_modules([module], project)), [module], config)
    return findings


def lint_tree(tree: ast.Module, path: str, config: LintConfig | None = None,
              cache: dict[tuple[str, str], ModuleIndex] | None = None) -> list[Finding]:
    """Lint one already-parsed file, following its imports to project modules on disk.

    ``# noqa`` comments are not applied (the caller, e.g. flake8, does that); ``cache``
    keeps followed modules between calls in one process.
    """
    config = config or LintConfig()
    naming = _Naming()
    name, is_package, root = naming.name(path)
    shown = _shown(path)
    try:
        module = index_module(tree, name, shown, is_package)
    except RecursionError:
        return [too_complex(shown).finding]
    follower = _Follower([root, config.root], naming, config,
                         _Excluder(config.root, config.exclude), cache)
    project = Project(config.catalogue(), follower if config.follow_imports else None)
    project.add(module)
    enabled = config.enabled_codes()
    return sorted(f for f in _check_modules([module], project) if f.code in enabled)
