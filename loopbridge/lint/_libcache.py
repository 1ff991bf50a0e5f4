"""The cache of what the lint learned from installed libraries, per package and version.

One file per distribution, version and environment holds the index of every module of it that
was read, each keyed by its path and checked against the file's modification time and size:
a new version is a new file (the old one is removed), an edited file is read again. The folder
also names the indexer's own fingerprint (the Python version and the source of the modules that
build an index), so a new lint never reads an index an older one wrote.

The folder is ``--cache-dir``, else ``$XDG_CACHE_HOME/loopbridge/lint`` (``~/.cache/...``), and
is never inside a ``site-packages`` directory. Everything in it can be deleted at any time; a
file that cannot be read or written is ignored (a debug log), never an error: the cache only
saves time. Files are written whole and renamed into place, so two runs at once never see a
half-written file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import sys
import tempfile
from typing import TYPE_CHECKING, Any

from ._facts import ModuleIndex

if TYPE_CHECKING:
    from ._libindex import Distribution

__all__ = ["LibraryCache", "default_cache_dir"]

logger = logging.getLogger(__name__)

#: Bumped when the layout of a cache file changes.
_FORMAT = 1
#: Modules whose code decides what an index holds: their source is part of the fingerprint.
_INDEXER = ("_facts.py", "_index.py", "_model.py", "_libcache.py", "_libindex.py")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")
_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
        "# This file is a cache directory tag created by loopbridge lint.\n")

#: (mtime_ns, size) of a file -> its index.
_Entry = tuple[tuple[int, int], ModuleIndex]


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/loopbridge/lint``, or ``~/.cache/loopbridge/lint``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "loopbridge", "lint")


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{_FORMAT}:{sys.version}".encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _INDEXER:
        try:
            with open(os.path.join(here, name), "rb") as fh:
                digest.update(fh.read())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()[:16]


class LibraryCache:
    """Load and store library module indexes under ``directory`` (created on first save)."""

    def __init__(self, directory: str) -> None:
        if not isinstance(directory, str) or not directory:
            raise ValueError(f"the cache directory must be a non-empty path; got {directory!r}")
        parts = os.path.normpath(os.path.abspath(directory)).split(os.sep)
        if "site-packages" in parts or "dist-packages" in parts:
            raise ValueError(f"cache directory {directory} is inside site-packages; the lint "
                             "never writes there: choose another --cache-dir")
        self.directory = os.path.join(os.path.abspath(directory), f"libs-{_fingerprint()}")
        self._files: dict[str, dict[str, _Entry]] = {}
        self._dirty: set[str] = set()
        self.errors = 0

    def _file(self, dist: Distribution, site: str) -> str:
        place = hashlib.sha256(site.encode("utf-8", "surrogateescape")).hexdigest()[:10]
        name = _UNSAFE.sub("_", f"{dist.name}-{dist.version or 'unversioned'}")
        return os.path.join(self.directory, f"{name}@{place}.pickle")

    def _entries(self, path: str) -> dict[str, _Entry]:
        found = self._files.get(path)
        if found is None:
            found = self._files[path] = self._read(path)
        return found

    def _read(self, path: str) -> dict[str, _Entry]:
        try:
            with open(path, "rb") as fh:
                data: Any = pickle.load(fh)
        except FileNotFoundError:
            return {}
        except Exception:  # a damaged or foreign file: start again, never fail the run
            self.errors += 1
            logger.debug("library cache file %s ignored", path, exc_info=True)
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, dist: Distribution, site: str, shown: str,
            key: tuple[int, int]) -> ModuleIndex | None:
        """The cached index of a module file, if the file has not changed since."""
        entry = self._entries(self._file(dist, site)).get(shown)
        if entry is None or entry[0] != key or not isinstance(entry[1], ModuleIndex):
            return None
        return entry[1]

    def put(self, dist: Distribution, site: str, shown: str, key: tuple[int, int],
            module: ModuleIndex) -> None:
        """Remember a module's index (written by :meth:`save`)."""
        path = self._file(dist, site)
        self._entries(path)[shown] = (key, module)
        self._dirty.add(path)

    def owners(self, site: str, stamp: int) -> dict[str, Any] | None:
        """Which distribution owns each top-level name of ``site``, as of the directory's
        modification time ``stamp`` (an install or removal changes it)."""
        entry = self._entries(self._owners_file(site)).get("")
        if entry is None or entry[0] != (stamp, 0) or not isinstance(entry[1], dict):
            return None
        return entry[1]

    def put_owners(self, site: str, stamp: int, owners: dict[str, Any]) -> None:
        """Remember :meth:`owners` (written by :meth:`save`)."""
        path = self._owners_file(site)
        self._entries(path)[""] = ((stamp, 0), owners)  # type: ignore[assignment]
        self._dirty.add(path)

    def _owners_file(self, site: str) -> str:
        place = hashlib.sha256(site.encode("utf-8", "surrogateescape")).hexdigest()[:10]
        return os.path.join(self.directory, f"_owners@{place}.pickle")

    def save(self) -> int:
        """Write every changed file; return how many were written (errors are logged)."""
        written = 0
        for path in sorted(self._dirty):
            try:
                self._write(path, self._files[path])
                written += 1
            except (OSError, pickle.PicklingError, RecursionError):
                self.errors += 1
                logger.debug("library cache file %s not written", path, exc_info=True)
        self._dirty.clear()
        return written

    def _write(self, path: str, entries: dict[str, _Entry]) -> None:
        os.makedirs(self.directory, exist_ok=True)
        tag = os.path.join(os.path.dirname(self.directory), "CACHEDIR.TAG")
        if not os.path.exists(tag):
            with open(tag, "w", encoding="ascii") as fh:
                fh.write(_TAG)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(entries, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        self._drop_other_versions(path)

    def _drop_other_versions(self, path: str) -> None:
        """Remove the files of older (or newer) versions of the same package and place."""
        name = os.path.basename(path)
        dist, _, place = name.rpartition("@")
        stem = dist.rpartition("-")[0]
        try:
            for other in os.listdir(self.directory):
                if other != name and other.endswith("@" + place) and not other.startswith("_") \
                        and other.rpartition("@")[0].rpartition("-")[0] == stem:
                    os.unlink(os.path.join(self.directory, other))
        except OSError:
            logger.debug("could not prune the library cache", exc_info=True)
