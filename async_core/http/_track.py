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
import functools
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import aiohttp

from .._errors import LoopNotRunning, UpstreamConnectTimeout, UpstreamReadTimeout, UpstreamTimeout
from .._loop import LoopThread

__all__ = [
    "CURRENT",
    "PROBE_WAIT",
    "CallerDeadline",
    "Connections",
    "Progress",
    "TrackConnections",
    "close_idle",
    "loop_answers",
    "loop_answers_by",
]

#: seconds before a limit passes that the caller asks the loop whether it runs (it must answer by then)
PROBE_WAIT = 0.05
#: the shortest time the loop is given to answer (a check that woke late still asks)
_MIN_PROBE = 0.01
#: seconds past ``total`` at which the caller ends a call whatever the loop does (its own timer fires first)
_HARD_SLACK = 0.02
#: seconds between checks while the loop runs (its own timers are in charge then)
_RECHECK = 0.25


class Connections:
    """The pooled connections a Session's requests were given, held weakly (loop thread).

    Noting one is a dict lookup when it is known already (the usual case: a kept-alive
    connection serves request after request); a closed connection drops out when collected.
    """

    __slots__ = ("_refs",)

    def __init__(self) -> None:
        self._refs: dict[int, weakref.ref[Any]] = {}

    def add(self, proto: Any) -> None:
        key = id(proto)
        ref = self._refs.get(key)
        if ref is not None and ref() is proto:
            return
        self._refs[key] = weakref.ref(proto, functools.partial(self._forget, key))

    def _forget(self, key: int, ref: weakref.ref[Any]) -> None:
        if self._refs.get(key) is ref:
            del self._refs[key]

    def discard(self, proto: Any) -> None:
        ref = self._refs.get(id(proto))
        if ref is not None and ref() is proto:
            del self._refs[id(proto)]

    def __iter__(self) -> Iterator[Any]:
        for ref in list(self._refs.values()):
            proto = ref()
            if proto is not None:
                yield proto

    def __len__(self) -> int:
        return len(self._refs)


class Progress:
    """One call's progress on the loop: written by the loop thread, read by the caller.

    Attributes:
        at: ``time.monotonic()`` of the last step (the call's start, its connection, its head,
            a chunk of its body).
        connected: a connection was handed to the request (new or from the pool).
        owner: the set of connections of the Session (adapter) making the call, or ``None``.
    """

    __slots__ = ("abandoned", "at", "connected", "owner", "parent", "result")

    def __init__(self, owner: Connections | None = None, parent: Progress | None = None) -> None:
        self.at = time.monotonic()
        self.connected = False
        self.owner = owner
        #: the progress of the call this one is part of (a map's item: the map), told of each step too
        self.parent = parent
        #: set by the caller when it gave up; read on the loop (see the adapter's give-up path)
        self.abandoned = False
        #: what the loop produced, kept until the caller took it (loop thread only)
        self.result: Any = None

    def step(self) -> None:
        """Note progress now (loop thread), here and in the calls this one is part of."""
        now = time.monotonic()
        progress: Progress | None = self
        while progress is not None:
            progress.at = now
            progress = progress.parent

    def abandon(self, lt: LoopThread, settle: Any = None) -> None:
        """The caller gave up (its thread): ``settle(result)`` runs on the loop for a result that
        came anyway (the loop side checks :attr:`abandoned` for one that comes later)."""
        self.abandoned = True
        if settle is None:
            return
        try:
            lt.call_soon(self._settle, settle)
        except LoopNotRunning:
            pass  # a stopped loop closed every connection already

    def _settle(self, settle: Any) -> None:
        if self.result is not None:
            settle(self.result)


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
            now = time.monotonic()
            owner = progress.owner
            if owner is not None and conn.protocol is not None:
                owner.add(conn.protocol)
            while progress is not None:
                progress.connected = True
                progress.at = now
                progress = progress.parent
        return conn


def close_idle(connectors: Iterable[aiohttp.BaseConnector], connections: Connections) -> int:
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


class CallerDeadline:
    """The limits a caller gave an HTTP call, held from the caller's side (a ``bridge`` Watch).

    The loop enforces ``connect``, ``read`` and ``total`` with its own timers, which cannot fire
    while sync code blocks the loop. The caller therefore checks, at the time a limit would
    pass (``connect`` after the start while no connection was made, ``read`` after the last
    step of the call, ``total`` after the start), whether the loop still runs: if it does, the
    loop's timers are in charge and the caller waits on; if the loop does not run a callback
    by the time the limit passes (it is asked :data:`PROBE_WAIT` before), the caller ends the
    call with the timeout error the limit names (the coroutine is cancelled once the loop runs
    again).

    Parameters:
        lt: the loop thread the call runs on.
        progress: the call's :class:`Progress` (the caller puts it in the context).
        connect, read, total: seconds, or ``None`` for no limit.
        where: how messages name the call (``"GET https://…"``), or a function that says it.
        settle: run on the loop with a result that came after the caller gave up.
    """

    def __init__(self, lt: LoopThread, progress: Progress, connect: float | None, read: float | None,
                 total: float | None, where: str | Callable[[], str], settle: Any = None,
                 total_name: str = "total_timeout") -> None:
        self.lt, self.progress = lt, progress
        self.connect, self.read, self.total = connect, read, total
        self._where, self._settle, self._total_name = where, settle, total_name
        #: the error the caller ended the call with, once it did
        self.error: BaseException | None = None
        self._hard = None if total is None else progress.at + total + _HARD_SLACK
        self._not_before = 0.0

    @property
    def where(self) -> str:
        """How messages name the call (built on the error path only)."""
        return self._where if isinstance(self._where, str) else self._where()

    def _limit(self) -> float | None:
        return self.read if self.progress.connected else self.connect

    def split(self, count: int) -> list[BaseException]:
        """The error for each of ``count`` items of a batch the caller ended (one instance each)."""
        assert self.error is not None
        return [type(self.error)(*self.error.args) for _ in range(count)]

    def next_check(self) -> float | None:
        limit = self._limit()
        soft = None if limit is None else max(self.progress.at + limit - PROBE_WAIT, self._not_before)
        if soft is None:
            return self._hard
        return soft if self._hard is None else min(soft, self._hard)

    def check(self) -> BaseException | None:
        now = time.monotonic()
        progress = self.progress
        if self._hard is not None and now >= self._hard:
            error: BaseException = UpstreamTimeout(
                f"{self.where}: {self._total_name}={self.total}s passed while the loopbridge loop was blocked by sync code "
                "(the watchdog's log names the call); the request is cancelled once the loop runs again. Move the "
                f"blocking call off the loop, or raise {self._total_name}.")
        else:
            limit = self._limit()
            if limit is None or progress.at + limit - PROBE_WAIT > now:
                return None  # the call moved on since the check was planned
            if loop_answers_by(self.lt, progress.at + limit):
                self._not_before = time.monotonic() + min(limit, _RECHECK)
                return None
            if progress.connected:
                error = UpstreamReadTimeout(
                    f"{self.where}: nothing came for the read timeout ({limit}s) while the loopbridge loop was blocked by "
                    "sync code (the watchdog's log names the call); the request is cancelled once the loop runs again. "
                    "Move the blocking call off the loop, or raise the read timeout with timeout=(connect, read).")
            else:
                error = UpstreamConnectTimeout(
                    f"{self.where}: no connection within the connect timeout ({limit}s) while the loopbridge loop was "
                    "blocked by sync code (the watchdog's log names the call); the request is cancelled once the loop "
                    "runs again. Move the blocking call off the loop, or raise the timeout with timeout=(connect, read).")
        progress.abandon(self.lt, self._settle)
        self.error = error
        return error


def loop_answers_by(lt: LoopThread, due: float) -> bool:
    """Whether ``lt``'s loop runs a callback before ``time.monotonic()`` reaches ``due`` (or shortly after, if that passed)."""
    return loop_answers(lt, max(due - time.monotonic(), _MIN_PROBE))
