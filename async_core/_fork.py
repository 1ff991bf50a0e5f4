"""A forked child and its parent's loop: the child keeps the parent's objects, untouched, for good.

After ``fork()`` (gunicorn ``--preload``, uWSGI without ``--lazy-apps``, ``multiprocessing``)
the child holds copies of the parent's loop, aiohttp sessions, connectors and their sockets.
They belong to the parent: the parent's file descriptors are shared, so closing a TLS transport
in the child would write into the parent's connection, and aiohttp would warn about every
session it finds unclosed (``ResourceWarning: Unclosed client session``), on every fork, even in
a child that never makes a call. So the child never finalises them: :func:`bury` keeps them
referenced until the process ends, past interpreter shutdown.

One more thing a child inherits and cannot use: libuv's thread pool. uvloop resolves addresses
(also in ``sock_connect``) on it, and libuv joins its pool's threads when the process exits —
threads that exist only in the parent, so a child whose parent ran uvloop crashed at exit (a
segmentation fault). libuv builds a fresh pool in the child on its first use, so a child that
exits without having used uvloop uses it once, at exit, to give libuv threads it can join.
"""

from __future__ import annotations

import atexit
import logging
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["bury"]

logger = logging.getLogger(__name__)

#: objects of a parent process's loop, kept referenced in a forked child
_graveyard: list[Any] = []
_pinned = False
_pool_reset_registered = False


def bury(objects: Iterable[Any]) -> None:
    """Keep ``objects`` (a parent's loop, sessions, threads...) alive in this child until it ends.

    Called in a forked child only. Nothing is closed, finalised or warned about.
    """
    kept = [obj for obj in objects if obj is not None]
    if not kept:
        return
    _graveyard.extend(kept)
    _pin_graveyard()
    if any(type(obj).__module__.partition(".")[0] == "uvloop" for obj in kept):
        _register_pool_reset()


def _pin_graveyard() -> None:
    # At shutdown the interpreter clears module globals; a list referenced only from here would
    # be freed then and its objects finalised (aiohttp's __del__ warns, transports close shared
    # sockets). One reference no container holds keeps it past shutdown: the intended leak.
    global _pinned
    if _pinned or sys.implementation.name != "cpython":
        return
    try:
        import ctypes

        ctypes.pythonapi.Py_IncRef(ctypes.py_object(_graveyard))
    except (ImportError, AttributeError, OSError):  # pragma: no cover - a CPython without ctypes
        return
    _pinned = True


def _register_pool_reset() -> None:
    global _pool_reset_registered
    if not _pool_reset_registered:
        _pool_reset_registered = True
        atexit.register(_reset_libuv_pool)


def _reset_libuv_pool() -> None:
    """Use libuv's thread pool once in this child, so that libuv's exit joins threads it owns."""
    try:
        import uvloop

        loop = uvloop.new_event_loop()
        try:
            loop.run_until_complete(loop.getaddrinfo("127.0.0.1", 0))
        finally:
            loop.close()
    except Exception:  # at exit there is no caller left; the log is all we have
        logger.debug("loopbridge: resetting libuv's thread pool in a forked child failed", exc_info=True)
