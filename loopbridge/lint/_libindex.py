"""Learn third-party libraries from their installed source: find, read and index their modules.

The lint never imports a library. When the code under lint names something a package in the
project's environment defines (``from aiogram import Bot``, ``paramiko.SSHClient``), the
resolver asks for that module and this loader reads the installed file with ``ast`` and indexes
it like a project module: its ``async def`` functions are coroutine functions, its classes,
bases, attribute and return types are followed, and its sync functions are explored for the
chain down to the primitives the catalogue knows (``socket.socket.recv``, ``time.sleep``).
Findings that rest on such a module are given the library codes (LB203, LB312).

Which environment: the interpreter running the lint (its ``site-packages`` on ``sys.path``),
or another one named by ``--python`` / ``python = ...`` in ``[tool.loopbridge.lint]`` (a
virtual environment's directory, read through its ``pyvenv.cfg``, or an interpreter, run once
with ``-c`` to print its ``sys.path``). Sources are preferred to stubs (they have the bodies
the chains need); a module with no source (a compiled extension) is read from its ``.pyi``
stub, inline or from a ``<name>-stubs`` package. A module that is missing, compiled without a
stub, too large, beyond the budget or unparsable is simply unknown: never an error.

Only the modules the resolver asks for are read (those reachable from what the project
imports and what the chains go through), at most :data:`MAX_MODULES` per run and files up to
:data:`MAX_FILE_SIZE` bytes. What was learned is kept per package and version by
:mod:`loopbridge.lint._libcache`.
"""

from __future__ import annotations

import ast
import glob
import json
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from ._catalogue import Catalogue
from ._config import ConfigError, LintConfig
from ._facts import ModuleIndex
from ._index import index_module
from ._libcache import LibraryCache, default_cache_dir

__all__ = ["MAX_FILE_SIZE", "MAX_MODULES", "MAX_TOTAL_BYTES", "Distribution",
           "LibraryEnvironmentError", "LibraryLoader", "chain_loaders", "covered_packages",
           "open_libraries", "site_dirs"]

logger = logging.getLogger(__name__)

#: At most this many library modules are read in one run (the walk's budget).
MAX_MODULES = 2000
#: Library files larger than this (bytes) are not read (generated tables, vendored bundles).
MAX_FILE_SIZE = 1_000_000
#: At most this many bytes of library source are parsed in one run (the cache is not counted).
MAX_TOTAL_BYTES = 48_000_000
_PROBE_TIMEOUT = 30.0
_PROBE = "import sys, json; print(json.dumps(sys.path))"
_SITE_NAMES = ("site-packages", "dist-packages")


class LibraryEnvironmentError(ConfigError):
    """The environment named by ``--python`` / ``python = ...`` cannot be used."""


@dataclass(frozen=True, slots=True)
class Distribution:
    """An installed distribution: its name and version (``aiogram``, ``3.13.1``)."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def _is_site(path: str) -> bool:
    return os.path.basename(os.path.normpath(path)) in _SITE_NAMES and os.path.isdir(path)


def _venv_sites(venv: str) -> list[str]:
    found = sorted(glob.glob(os.path.join(venv, "lib", "python*", "site-packages")))
    found += sorted(glob.glob(os.path.join(venv, "lib64", "python*", "site-packages")))
    found += [p for p in (os.path.join(venv, "Lib", "site-packages"),) if os.path.isdir(p)]
    return list(dict.fromkeys(os.path.realpath(p) for p in found))


def site_dirs(python: str | None) -> list[str]:
    """The ``site-packages`` directories of an environment.

    ``python`` is ``None`` (the interpreter running the lint), a virtual environment's
    directory (read through its ``pyvenv.cfg``, nothing is run), or an interpreter (run once,
    with a timeout, to print its ``sys.path``).

    Raises:
        LibraryEnvironmentError: ``python`` is neither a virtual environment nor an interpreter
            that answers.
    """
    if python is None:
        return list(dict.fromkeys(os.path.realpath(p) for p in sys.path if p and _is_site(p)))
    if not isinstance(python, str) or not python:
        raise LibraryEnvironmentError(f"--python must name an interpreter or a virtual environment; "
                                f"got {python!r}")
    if os.path.isdir(python):
        if not os.path.isfile(os.path.join(python, "pyvenv.cfg")):
            raise LibraryEnvironmentError(
                f"--python {python}: a directory without pyvenv.cfg is not a virtual "
                "environment; name the environment's directory or its bin/python")
        return _venv_sites(python)
    venv = os.path.dirname(os.path.dirname(os.path.abspath(python)))
    if os.path.isfile(python) and os.path.isfile(os.path.join(venv, "pyvenv.cfg")):
        return _venv_sites(venv)
    return _probe(python)


def _probe(python: str) -> list[str]:
    try:
        out = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True,
                             timeout=_PROBE_TIMEOUT, check=True, stdin=subprocess.DEVNULL)
        paths = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise LibraryEnvironmentError(
            f"--python {python}: could not ask the interpreter for its sys.path ({exc}); "
            "name a working Python interpreter or a virtual environment's directory") from None
    return list(dict.fromkeys(os.path.realpath(p) for p in paths
                              if isinstance(p, str) and p and _is_site(p)))


class _Site:
    """What one ``site-packages`` directory holds at its top: modules, stubs, distributions."""

    def __init__(self, path: str, cache: LibraryCache | None = None) -> None:
        self.path = path
        self.cache = cache
        self.modules: set[str] = set()
        self.stubs: set[str] = set()
        self.dist_dirs: list[str] = []
        try:
            entries = list(os.scandir(path))
        except OSError:
            entries = []
        for entry in entries:
            name = entry.name
            if name.endswith(".dist-info"):
                self.dist_dirs.append(entry.path)
            elif name.endswith("-stubs"):
                self.stubs.add(name[:-len("-stubs")])
            elif name.endswith((".py", ".pyi")):
                self.modules.add(name.rpartition(".")[0])
            elif name.isidentifier() and name != "__pycache__":
                self.modules.add(name)
        self._owners: dict[str, Distribution] | None = None

    def owner(self, top: str) -> Distribution | None:
        if self._owners is None:
            self._owners = self._all_owners()
        return self._owners.get(top)

    def _all_owners(self) -> dict[str, Distribution]:
        try:
            stamp = os.stat(self.path).st_mtime_ns
        except OSError:
            stamp = 0
        known = self.cache.owners(self.path, stamp) if self.cache else None
        if known is not None:
            return known
        owners: dict[str, Distribution] = {}
        for dist_dir in self.dist_dirs:
            self._read_dist(dist_dir, owners)
        if self.cache is not None:
            self.cache.put_owners(self.path, stamp, owners)
        return owners

    @staticmethod
    def _read_dist(dist_dir: str, owners: dict[str, Distribution]) -> None:
        name, _, version = os.path.basename(dist_dir)[:-len(".dist-info")].partition("-")
        dist = Distribution(_metadata_name(dist_dir) or name, version)
        tops: set[str] = set()
        try:
            with open(os.path.join(dist_dir, "top_level.txt"), encoding="utf-8") as fh:
                tops = {line.strip() for line in fh if line.strip()}
        except OSError:
            try:
                with open(os.path.join(dist_dir, "RECORD"), encoding="utf-8") as fh:
                    for line in fh:
                        first = line.split(",", 1)[0].split("/", 1)[0]
                        if first and not first.endswith((".dist-info", ".data")) \
                                and first not in ("..", "__pycache__"):
                            tops.add(first.removesuffix(".py").removesuffix(".pyi"))
            except OSError:
                return
        for top in tops:
            owners.setdefault(top.removesuffix("-stubs"), dist)


def _metadata_name(dist_dir: str) -> str | None:
    """The distribution's name as its METADATA spells it (``paho-mqtt``, not ``paho_mqtt``)."""
    try:
        with open(os.path.join(dist_dir, "METADATA"), encoding="utf-8") as fh:
            for _, line in zip(range(20), fh):
                if line.startswith("Name:"):
                    return line[len("Name:"):].strip() or None
    except (OSError, UnicodeDecodeError):
        pass
    return None


class LibraryLoader:
    """Index, on demand, the modules of the packages installed in an environment.

    ``origin`` maps the name of every module read so far to its distribution; the rules look
    it up to tell library-derived findings from the others.
    """

    def __init__(self, sites: list[str], cache: LibraryCache | None = None, *,
                 covered: frozenset[str] = frozenset(), max_modules: int = MAX_MODULES,
                 max_file_size: int = MAX_FILE_SIZE) -> None:
        if not isinstance(max_modules, int) or max_modules < 0:
            raise ValueError(f"max_modules must be a non-negative int; got {max_modules!r}")
        self.sites = [_Site(path, cache) for path in sites]
        #: Top-level packages the catalogue describes: the catalogue stays their authority.
        self.covered = covered
        self.cache = cache
        self.max_modules = max_modules
        self.max_file_size = max_file_size
        self.origin: dict[str, Distribution] = {}
        self.read = 0
        self.reused = 0
        self.parsed_bytes = 0

    def __call__(self, modname: str) -> ModuleIndex | None:
        """The index of library module ``modname``, or ``None`` when it is unknown."""
        if not modname or "@" in modname or len(self.origin) >= self.max_modules:
            return None
        top = modname.partition(".")[0]
        if top in self.covered:
            return None
        for site in self.sites:
            if top in site.modules or top in site.stubs:
                found = self._locate(site, modname)
                if found is not None:
                    return self._load(site, modname, *found)
                return None
        return None

    @staticmethod
    def _locate(site: _Site, modname: str) -> tuple[str, bool] | None:
        """(file, is package) for ``modname`` in ``site``: the source, else a stub ("" for a
        namespace package directory)."""
        parts = modname.split(".")
        base = os.path.join(site.path, *parts)
        stub_base = os.path.join(site.path, parts[0] + "-stubs", *parts[1:])
        for candidate, package in ((base + ".py", False),
                                   (os.path.join(base, "__init__.py"), True),
                                   (base + ".pyi", False),
                                   (os.path.join(base, "__init__.pyi"), True),
                                   (stub_base + ".pyi", False),
                                   (os.path.join(stub_base, "__init__.pyi"), True)):
            if os.path.isfile(candidate):
                return candidate, package
        if os.path.isdir(base) and parts[-1].isidentifier():
            return "", True
        return None

    def _load(self, site: _Site, modname: str, path: str, package: bool) -> ModuleIndex | None:
        dist = site.owner(modname.partition(".")[0]) or Distribution(modname.partition(".")[0], "")
        if not path:  # a namespace package: nothing to read, its submodules are found by name
            self.origin[modname] = dist
            return ModuleIndex(modname, os.path.join(modname.replace(".", "/"), ""), True)
        shown = os.path.relpath(path, site.path).replace(os.sep, "/")
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if stat.st_size > self.max_file_size:
            logger.debug("library module %s skipped: %d bytes", path, stat.st_size)
            return None
        key = (stat.st_mtime_ns, stat.st_size)
        module = self.cache.get(dist, site.path, shown, key) if self.cache else None
        if module is not None and module.modname == modname:
            self.reused += 1
        else:
            if self.parsed_bytes + stat.st_size > MAX_TOTAL_BYTES:
                logger.debug("library module %s skipped: the run's budget is spent", path)
                return None
            self.parsed_bytes += stat.st_size
            module = self._index(path, shown, modname, package)
            if module is None:
                return None
            self.read += 1
            if self.cache is not None:
                self.cache.put(dist, site.path, shown, key, module)
        self.origin[modname] = dist
        return module

    @staticmethod
    def _index(path: str, shown: str, modname: str, package: bool) -> ModuleIndex | None:
        try:
            with open(path, "rb") as fh:
                source = fh.read()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escapes in old libraries
                tree = ast.parse(source, shown)
            module = index_module(tree, modname, shown, package)
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            logger.debug("library module %s could not be read; it stays unknown", path,
                         exc_info=True)
            return None
        for fn in module.functions.values():  # only the rules over reported code read these
            fn.uses = {}
            fn.assigned_at = None
            fn.captured = set()
        return module


def chain_loaders(*loaders: Callable[[str], ModuleIndex | None] | None,
                  ) -> Callable[[str], ModuleIndex | None] | None:
    """One loader asking each of ``loaders`` in turn (the project's own modules first)."""
    present = [loader for loader in loaders if loader is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def load(modname: str) -> ModuleIndex | None:
        for loader in present:
            found = loader(modname)
            if found is not None:
                return found
        return None

    return load


def open_libraries(config: LintConfig) -> LibraryLoader | None:
    """The library loader a run over ``config`` uses (``None`` with ``libraries = false``).

    Raises:
        LibraryEnvironmentError: the environment named by ``python`` cannot be used.
        ConfigError: the cache directory is inside ``site-packages``.
    """
    if not config.libraries:
        return None
    sites = site_dirs(config.python)
    try:
        cache = LibraryCache(config.cache_dir or default_cache_dir())
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return LibraryLoader(sites, cache, covered=covered_packages(config.catalogue()))


def covered_packages(catalogue: Catalogue) -> frozenset[str]:
    """The top-level packages the catalogue names (``requests``, ``redis`` ...).

    They are not read: the catalogue's entries for them stay the authority (a type the
    catalogue knows must not turn into the library's class of the same name).
    """
    names: set[str] = set(catalogue.blocking) | catalogue.async_names | set(catalogue.async_types)
    names.update(catalogue.returns, catalogue.returns.values(), catalogue.attributes,
                 catalogue.attributes.values(), catalogue.aliases, catalogue.aliases.values(),
                 catalogue.runners, catalogue.offloaders, catalogue.sync_wrappers,
                 catalogue.async_wrappers, catalogue.not_coroutine, catalogue.formatters,
                 catalogue.eager, catalogue.type_names())
    return frozenset(name.partition(".")[0] for name in names)
