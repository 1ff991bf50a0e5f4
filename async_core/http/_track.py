"""What a request did on the loop, as the caller's thread needs to know it.

Two questions the caller's side asks of work it cannot watch directly (it runs on the loop):

- **Which pooled connections did this Session use?** ``session.close()`` closes those that are
  idle, so a server the test suite shuts down after a test is not kept waiting for the shared
  pool's keep-alive timeout, while other Sessions' requests on the same pool go on.
- **How far did the request get?** When the loop is blocked by sync code its timers cannot
  fire; the caller then ends the call itself at its deadline, and tells a connect timeout from a
  read timeout by whether a connection was made.

Both are answered by :class:`Progress`, an object per call that the caller creates and puts in
the context (``bridge.run`` carries the context to the loop); the pool's connector writes to it
when it hands the request a connection (:class:`TrackConnections`).
"""

from __future__ import annotations

import contextvars
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

import aiohttp

from .._errors import LoopNotRunning
from .._loop import LoopThread

__all__ = ["CURRENT", "Progress", "TrackConnections", "close_idle", "loop_answers"]


class Progress:
    """One call's progress on the loop: written by the loop thread, read by the caller.

    Attributes:
        at: ``time.monotonic()`` of the last step (the call's start, its connection, its head,
            a chunk of its body).
        connected: a connection was handed to the request (new or from the pool).
        owner: the set of connections of the Session (adapter) making the call, or ``None``.
    """

    __slots__ = ("abandoned", "at", "connected", "owner", "result")

    def __init__(self, owner: weakref.WeakSet[Any] | None = None) -> None:
        self.at = time.monotonic()
        self.connected = False
        self.owner = owner
        #: set by the caller when it gave up; read on the loop (see the adapter's give-up path)
        self.abandoned = False
        #: what the loop produced, kept until the caller took it (loop thread only)
        self.result: Any = None

    def step(self) -> None:
        """Note progress now (loop thread)."""
        self.at = time.monotonic()


#: the progress object of the call running in this context (set by the caller, read on the loop)
CURRENT: contextvars.ContextVar[Progress | None] = contextvars.ContextVar("loopbridge_http_progress", default=None)


class TrackConnections(aiohttp.BaseConnector):
    """A connector mixin: note each connection handed out in the current call's :class:`Progress`.

    ``connect`` is the connector's public entry point; the connection object it returns is the
    one the request uses, whether it was just opened or taken from the pool.
    """

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        conn = await super().connect(req, traces, timeout)
        progress = CURRENT.get()
        if progress is not None:
            progress.connected = True
            progress.at = time.monotonic()
            owner = progress.owner
            if owner is not None and conn.protocol is not None:
                owner.add(conn.protocol)
        return conn


def close_idle(connectors: Iterable[aiohttp.BaseConnector], connections: weakref.WeakSet[Any]) -> int:
    """Close the connections of ``connections`` that sit idle in a pool (loop thread); the count.

    A connection in use (by any Session: the pool is shared) is left alone; closed ones are
    dropped by the pool the next time it looks. The pool's set of connections in use is
    aiohttp's ``_acquired`` (read only; without it nothing is closed).
    """
    busy: set[Any] = set()
    for connector in connectors:
        acquired = getattr(connector, "_acquired", None)
        if acquired is None:
            return 0  # an aiohttp that keeps it elsewhere: closing blind could cut a request
        busy.update(acquired)
    closed = 0
    for proto in list(connections):
        if proto in busy:
            continue
        connections.discard(proto)
        if proto.is_connected():
            proto.close()
            closed += 1
    return closed


def loop_answers(lt: LoopThread, seconds: float) -> bool:
    """Whether ``lt``'s loop runs a callback within ``seconds`` (it is not blocked by sync code)."""
    answered = threading.Event()
    try:
        lt.call_soon(answered.set)
    except LoopNotRunning:
        return False
    return answered.wait(seconds)
