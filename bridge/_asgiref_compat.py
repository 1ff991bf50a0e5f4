"""The private asgiref names the bridge relies on, one shim per asgiref release range.

asgiref has no public way to aim its thread-sensitive machinery at a loop running in another
thread, so :mod:`bridge._calls` reaches into it. Every private name it touches comes from here,
and each one is listed in :data:`ASGIREF_INTERNALS` with the releases it was checked against and
the shim used where a release differs. ``tests/bridge/test_asgiref_contract.py`` checks each
entry against the asgiref installed; CI runs the suite on the lowest declared asgiref and on the
newest.

How a non-thread-critical ``asgiref.local.Local`` keeps its value in a context, by release::

    3.8.0 - 3.8.1    one ContextVar holding a dict (mutated in place)        layout "dict"
    3.9.0            one ContextVar per attribute, created on first set      layout "var-per-key"
    3.9.1 - 3.11.x   one ContextVar holding a dict (copied on write)         layout "dict"
    3.12.0 -         one ContextVar holding _Storage(thread_id, dict): data  layout "thread-tagged"
                     is only visible in the thread it is tagged with, and
                     asgiref re-homes it (_rehome) when it moves work across
                     threads; 3.13 makes Local() return a private subclass

The layout is detected from the objects themselves, not from the version number, so a release
that keeps a known layout works unchanged; one that changes it fails at import with a message
that names the internal and what to do, instead of misbehaving later.

The names :mod:`bridge._calls` imports, whatever the layout:

``EXECUTORS``
    ``AsyncToSync.executors``: the ``Local`` whose ``.current`` ``SyncToAsync(thread_sensitive=True)``
    submits work to.
``EXECUTORS_VAR``
    the ``ContextVar`` that holds ``EXECUTORS``' value in a context.
``Storage``
    ``Storage(thread_id, {"current": executor})`` is the value of ``EXECUTORS_VAR`` meaning
    "``EXECUTORS.current`` is *executor* in this thread". A context value whose type *is*
    ``Storage`` is ``Local`` data tagged with a thread: it must be passed through ``rehome`` when
    the context moves to another thread. Before 3.12 nothing is tagged, so no value asgiref
    writes has this type and nothing is re-homed.
``rehome(storage)``
    the same data, owned by the current thread.
"""

from __future__ import annotations

import contextvars
import dataclasses
import importlib.metadata
import re
import threading
from collections.abc import Callable
from typing import Any, Final

import asgiref
import asgiref.local as _local
from asgiref.sync import AsyncToSync, SyncToAsync

__all__ = [
    "ASGIREF_INTERNALS",
    "ASGIREF_VERSION",
    "EXECUTORS",
    "EXECUTORS_VAR",
    "LOCAL_LAYOUT",
    "MIN_ASGIREF",
    "AsgirefInternal",
    "Storage",
    "rehome",
]

#: the lowest asgiref release the bridge supports (pyproject's lower bound; a test keeps them equal)
MIN_ASGIREF: Final = (3, 8, 0)


@dataclasses.dataclass(frozen=True)
class AsgirefInternal:
    """One private asgiref name the bridge relies on: where it lives, what for, and per release."""

    name: str
    use: str
    releases: tuple[tuple[str, str], ...]  # (release range, how the bridge copes there)

    def __str__(self) -> str:
        ranges = "; ".join(f"{span}: {how}" for span, how in self.releases)
        return f"{self.name} ({self.use}) [{ranges}]"


#: The private asgiref names the bridge depends on, with the shim for each release range.
ASGIREF_INTERNALS: Final = (
    AsgirefInternal(
        "asgiref.sync.AsyncToSync.executors",
        "a Local whose .current SyncToAsync(thread_sensitive=True) submits its work to",
        (("3.8.0 -", "used as is"),),
    ),
    AsgirefInternal(
        "asgiref.local.Local._storage._data",
        "the ContextVar behind a Local, set in one step for the coroutine's context",
        (
            ("3.8.0 - 3.8.1, 3.9.1 - 3.11.x", "one ContextVar holding a dict: Storage builds the dict"),
            ("3.9.0", "one ContextVar per attribute: the one of 'current', created at import"),
            ("3.12.0 -", "one ContextVar holding asgiref's _Storage"),
        ),
    ),
    AsgirefInternal(
        "asgiref.local._Storage / asgiref.local._rehome",
        "thread-tagged Local data, re-homed when a context crosses threads",
        (
            ("3.8.0 - 3.11.x", "absent: Local data is not tied to a thread, nothing to re-home"),
            ("3.12.0 -", "used as is"),
        ),
    ),
    AsgirefInternal(
        "asgiref.sync.SyncToAsync.threadlocal.main_event_loop (+ main_event_loop_pid)",
        "set in threads running to_async work, so asgiref's async_to_sync there reaches our loop",
        (("3.8.0 -", "used as is"),),
    ),
)


def _parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _installed_version() -> str:
    """The version of the asgiref actually imported (its own ``__version__``, else metadata)."""
    version = getattr(asgiref, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version("asgiref")
    except importlib.metadata.PackageNotFoundError:
        return "0"


ASGIREF_VERSION: Final = _installed_version()


def _unsupported(what: str) -> ImportError:
    return ImportError(
        f"loopbridge does not support asgiref {ASGIREF_VERSION}: {what}. The bridge relies on "
        "private asgiref names (bridge._asgiref_compat.ASGIREF_INTERNALS) and supports asgiref "
        f"{'.'.join(map(str, MIN_ASGIREF))} and later releases that keep them; install a "
        "supported release (pip install -U asgiref) or report the new release to loopbridge."
    )


if _parse_version(ASGIREF_VERSION) < MIN_ASGIREF:
    raise _unsupported(f"it is older than {'.'.join(map(str, MIN_ASGIREF))}")

EXECUTORS: Final[Any] = getattr(AsyncToSync, "executors", None)
if not isinstance(EXECUTORS, _local.Local):
    raise _unsupported("AsyncToSync.executors is no longer an asgiref.local.Local")
if not isinstance(getattr(SyncToAsync, "threadlocal", None), threading.local):
    raise _unsupported("SyncToAsync.threadlocal is no longer a threading.local")

_data = getattr(getattr(EXECUTORS, "_storage", None), "_data", None)


class _DictStorage(dict):  # type: ignore[type-arg]
    """Layout "dict": a Local's value in a context is a plain dict, not tied to a thread.

    Only the bridge creates instances (asgiref writes plain dicts), so ``type(value) is
    Storage`` never selects asgiref's own values for re-homing, which they do not need.
    """

    __slots__ = ()

    def __init__(self, thread_id: int, data: dict[str, Any]) -> None:
        super().__init__(data)


class _PerKeyStorage:
    """Layout "var-per-key" (3.9.0): the ContextVar of ``current`` holds the executor itself."""

    def __new__(cls, thread_id: int, data: dict[str, Any]) -> Any:  # never an instance
        return data["current"]


def _identity(storage: Any) -> Any:
    return storage


Storage: type
rehome: Callable[[Any], Any]
EXECUTORS_VAR: contextvars.ContextVar[Any]
LOCAL_LAYOUT: str
if isinstance(_data, contextvars.ContextVar):
    if hasattr(_local, "_Storage") and hasattr(_local, "_rehome"):
        LOCAL_LAYOUT, Storage, rehome = "thread-tagged", _local._Storage, _local._rehome
    elif hasattr(_local, "_Storage") or hasattr(_local, "_rehome"):
        raise _unsupported("asgiref.local has only one of _Storage and _rehome")
    else:
        LOCAL_LAYOUT, Storage, rehome = "dict", _DictStorage, _identity
    EXECUTORS_VAR = _data
elif isinstance(_data, dict):
    LOCAL_LAYOUT, Storage, rehome = "var-per-key", _PerKeyStorage, _identity
    if "current" not in _data:  # created on first set; set it once in a throwaway context
        contextvars.Context().run(setattr, EXECUTORS, "current", None)
    EXECUTORS_VAR = _data["current"]
else:
    raise _unsupported("a Local no longer keeps its data in asgiref.local.Local._storage._data")
del _data
