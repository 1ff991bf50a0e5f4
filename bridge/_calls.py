"""Calls across the bridge: ``run``, ``to_sync`` and ``to_async``.

A bridged call takes one trip each way::

    caller thread                                   loop thread
    ─────────────                                   ───────────
    copy contextvars, take an in-flight slot
    call_soon_threadsafe(_start) ─────────────────▶ create_task(_drive(coro), context=copy)
    wait on the call's queue  ◀── work items ────── to_async(thread_sensitive) calls
      (runs them here, in the caller's thread)
    ◀──────────────────── (OK | ERR, value) ─────── coroutine finished, slot released
    copy context changes back, return / raise

asgiref provides the thread-sensitive machinery: ``SyncToAsync`` looks up
``AsyncToSync.executors.current`` in the coroutine's context and runs sync code there. We set
that lever to the waiting call (an ``Executor`` whose work runs in the caller's thread) instead of
using ``AsyncToSync`` itself, because its wait cannot time out (a stuck loop would hang the
caller), it never cancels the coroutine, has no backpressure, and silently loses work sent to a
loop that is stopped but not closed (asgiref issues 525/545). The asgiref internals relied on
are listed in :data:`ASGIREF_INTERNALS` and checked by ``tests/bridge/test_asgiref_contract.py``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from queue import Empty, SimpleQueue
from typing import Any, ParamSpec, Protocol, TypeVar, overload

from asgiref.sync import SyncToAsync

from async_core import (
    BridgeTimeout,
    DeadlockRisk,
    LoopNotRunning,
    LoopState,
    LoopThread,
    current_loop_thread,
    default_loop,
)
from async_core._validate import check_seconds

from ._asgiref_compat import (
    ASGIREF_INTERNALS,
)
from ._asgiref_compat import (
    EXECUTORS as _EXECUTORS,
)
from ._asgiref_compat import (
    EXECUTORS_VAR as _EXECUTORS_VAR,
)
from ._asgiref_compat import (
    Storage as _Storage,
)
from ._asgiref_compat import (
    rehome as _rehome,
)

__all__ = ["ASGIREF_INTERNALS", "Watch", "run", "run_watched", "to_async", "to_sync"]

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")

_OK, _ERR, _WORK, _WAKE = 0, 1, 2, 3
_tls = threading.local()


class _Call(concurrent.futures.Executor):
    """One bridged call: the caller's waiter, and the executor for its thread-sensitive work."""

    __slots__ = ("_queue", "_lock", "_finished", "_parent", "loop_thread", "task", "cancelled", "released", "pending")

    def __init__(self, loop_thread: LoopThread, parent: _Call | None) -> None:
        self._queue: SimpleQueue[tuple[int, Any]] = SimpleQueue()
        self._lock = threading.Lock()
        self._finished = False
        self._parent = parent
        self.loop_thread = loop_thread
        self.task: asyncio.Task[Any] | None = None
        self.cancelled = False
        self.released = False
        #: the caller's coroutine while its task has not started (see _cancel)
        self.pending: Coroutine[Any, Any, Any] | None = None

    # Waiter protocol (async_core wakes us when the loop dies or, in strict mode, stalls)
    def wake(self, error: BaseException) -> None:
        self._queue.put((_WAKE, error))

    def post(self, kind: int, value: Any) -> None:
        self._queue.put((kind, value))

    # Executor protocol: SyncToAsync(thread_sensitive=True) submits here from the loop thread
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        with self._lock:
            if not self._finished:
                future: concurrent.futures.Future[Any] = concurrent.futures.Future()
                self._queue.put((_WORK, (future, fn, args, kwargs)))
                return future
        return self._fallback().submit(fn, *args, **kwargs)

    def _fallback(self) -> concurrent.futures.Executor:
        parent = self._parent
        while parent is not None and parent._finished:
            parent = parent._parent
        return parent if parent is not None else _sync_worker(self.loop_thread)

    def wait(self, deadline: float | None) -> tuple[int, Any]:
        """Block until the outcome, running submitted work here; ``(_WAKE, None)`` on timeout."""
        get = self._queue.get
        while True:
            if deadline is None:
                kind, value = get()
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return _WAKE, None
                try:
                    kind, value = get(timeout=remaining)
                except Empty:
                    return _WAKE, None
            if kind != _WORK:
                return kind, value
            _run_work_item(value)

    def finish(self) -> None:
        """Stop taking work; hand anything that raced in to the fallback executor."""
        with self._lock:
            self._finished = True
        if self._queue.empty():
            return
        while True:
            try:
                kind, value = self._queue.get_nowait()
            except Empty:
                return
            if kind == _WORK:
                future, fn, args, kwargs = value
                _chain(self._fallback().submit(fn, *args, **kwargs), future)


def _run_work_item(item: tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]) -> None:
    future, fn, args, kwargs = item
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _chain(source: concurrent.futures.Future[Any], target: concurrent.futures.Future[Any]) -> None:
    def copy(done: concurrent.futures.Future[Any]) -> None:
        if not target.set_running_or_notify_cancel():
            return
        exc = done.exception()
        if exc is not None:
            target.set_exception(exc)
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)


def _sync_worker(lt: LoopThread) -> concurrent.futures.Executor:
    """The loop's one thread for thread-sensitive work whose caller has already returned."""
    worker = lt.sync_executor
    if worker is None:
        worker = lt.sync_executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="loopbridge-sync")
        lt.add_closer(functools.partial(worker.shutdown, wait=False, cancel_futures=True))
    return worker


# -- the loop side ---------------------------------------------------------------------------
def _start(
    call: _Call, coro: Coroutine[Any, Any, Any], ctx: contextvars.Context, loop: asyncio.AbstractEventLoop
) -> None:
    """Runs on the loop thread: start the coroutine as a task in the caller's context copy."""
    if call.cancelled:  # the caller gave up before the loop got here
        coro.close()
        _release(call)
        call.post(_ERR, asyncio.CancelledError())
        return
    call.pending = coro  # until _drive starts it
    call.task = loop.create_task(_drive(call, coro, ctx), context=ctx)


def _release(call: _Call) -> None:
    """Give the call's in-flight slot back, exactly once whatever the path (loop thread)."""
    if not call.released:
        call.released = True
        call.loop_thread.release(call)


async def _drive(call: _Call, coro: Coroutine[Any, Any, Any], ctx: contextvars.Context) -> None:
    call.pending = None
    for var, value in ctx.items():
        if type(value) is _Storage and var is not _EXECUTORS_VAR:
            var.set(_rehome(value))
    # Equivalent to ``AsyncToSync.executors.current = call`` on this thread, in one step.
    _EXECUTORS_VAR.set(_Storage(threading.get_ident(), {"current": call}))
    try:
        result = await coro
    except BaseException as exc:  # delivered to the caller; never allowed to kill the shared loop
        outcome = (_ERR, exc)
    else:
        outcome = (_OK, result)
    # before the caller wakes: its next call finds the slot free, and the cycle context ->
    # executor storage -> call -> task -> context is already broken (see _task_done)
    call.task = None
    _release(call)
    call.post(*outcome)


def _cancel(call: _Call) -> None:
    """Runs on the loop thread: cancel the call's coroutine wherever it is."""
    call.cancelled = True
    task = call.task
    if task is None:
        return
    task.cancel()
    pending = call.pending
    if pending is not None:
        # The task has not taken its first step, and a cancel that lands first means it never
        # will: _drive's body (and its release of the slot) never runs. Settle the call here:
        # free the slot, close the caller's coroutine (never run, so no "never awaited"
        # warning), and tell a caller that may still wait for the cancellation.
        call.pending = None
        pending.close()
        call.task = None
        _release(call)
        call.post(_ERR, asyncio.CancelledError())


# -- the caller side -------------------------------------------------------------------------
def run(awaitable: Awaitable[_R], *, timeout: float | None = None) -> _R:
    """Run ``awaitable`` on the process's core loop and return its result.

    Works from any thread that is not the loop thread: a Flask view, a worker thread, the REPL,
    a notebook cell (where a loop already runs in this thread) or a sync test. contextvars of
    the caller are visible in the coroutine, and changes it makes come back. An exception
    raised by the coroutine is re-raised here with its own type and traceback.

    Parameters:
        awaitable: a coroutine object (``fetch(url)``, not ``fetch``) or any awaitable.
        timeout: seconds to wait; ``None`` waits for ever. The deadline holds even when the
            loop itself is blocked, and it also bounds the wait for a free in-flight slot.
            One limit by design: thread-sensitive ``to_async`` work runs in *this* thread
            (where thread-bound resources live) and cannot be interrupted, so a deadline that
            passes while it runs is honoured as soon as it returns.

    Raises:
        BridgeTimeout: the deadline passed; the coroutine was cancelled.
        Overloaded: too many bridged calls in flight for longer than the queue timeout.
        DeadlockRisk: called on the loop thread itself (``await`` the coroutine instead).
        LoopNotRunning: the loop is stopping or its thread died.

    Example::

        >>> import asyncio
        >>> run(asyncio.sleep(0.01, result="done"), timeout=5)
        'done'
    """
    __tracebackhide__ = True  # pytest shows the user's frames, not the bridge's
    try:
        deadline = _deadline(timeout)
        lt = default_loop()  # a bad LOOPBRIDGE_* environment value raises here, before any work
    except BaseException:
        if inspect.iscoroutine(awaitable):
            awaitable.close()  # it will never run: spare the caller a "never awaited" warning
        raise
    coro = _as_coroutine(awaitable)
    if lt.in_loop_thread():
        coro.close()
        raise DeadlockRisk(
            "bridge.run() was called on the loopbridge loop thread, where waiting for the result "
            "would block the loop the coroutine needs; inside a coroutine, `await` it instead."
        )
    return _run_timed(lt, coro, deadline, timeout, None)


def _run_timed(lt: LoopThread, coro: Coroutine[Any, Any, _R], deadline: float | None, timeout: float | None,
               watch: Watch | None) -> _R:
    """:func:`_run_on`, counted in the call clock when one is set (see :func:`start_call_clock`)."""
    __tracebackhide__ = True
    clock = _CALL_CLOCK.get()
    if clock is None or getattr(_tls, "call", None) is not None:  # not timed, or nested in a call
        return _run_on(lt, coro, deadline, timeout, watch)
    started = time.perf_counter()
    try:
        return _run_on(lt, coro, deadline, timeout, watch)
    finally:
        clock[0] += time.perf_counter() - started
        clock[1] += 1


#: when set (a Flask request with per-endpoint figures on), [seconds, calls] spent in bridged calls
_CALL_CLOCK: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("loopbridge_call_clock", default=None)


def start_call_clock() -> tuple[contextvars.Token[list[float] | None], list[float]]:
    """Time the bridged calls made from this context from now on: ``(token, [seconds, calls])``."""
    clock = [0.0, 0.0]
    return _CALL_CLOCK.set(clock), clock


def stop_call_clock(token: contextvars.Token[list[float] | None]) -> None:
    """Stop the timing :func:`start_call_clock` started (its token)."""
    _CALL_CLOCK.reset(token)


class Watch(Protocol):
    """Limits a caller keeps on a bridged call besides its timeout (see :func:`run_watched`)."""

    def next_check(self) -> float | None:
        """The ``time.monotonic()`` at which to call :meth:`check` next; ``None``: never."""

    def check(self) -> BaseException | None:
        """The error that ends the call now (its coroutine is cancelled), or ``None`` to wait on."""


def run_watched(awaitable: Awaitable[_R], watch: Watch) -> _R:
    """:func:`run` whose wait also ends when ``watch`` says so (the HTTP layer's limits).

    The caller's thread checks ``watch`` at the times it names, whatever the loop is doing: a
    loop blocked by sync code cannot fire its own timers, and the caller's limits still hold.
    """
    __tracebackhide__ = True
    lt = default_loop()
    coro = _as_coroutine(awaitable)
    if lt.in_loop_thread():
        coro.close()
        raise DeadlockRisk("bridge.run() was called on the loopbridge loop thread, where waiting for the result "
                           "would block the loop the coroutine needs; inside a coroutine, `await` it instead.")
    return _run_timed(lt, coro, None, None, watch)


def _wait(call: _Call, deadline: float | None, watch: Watch | None) -> tuple[int, Any]:
    """The call's outcome; ``(_WAKE, None)`` at ``deadline``, ``(_WAKE, error)`` when ``watch`` ends it."""
    if watch is None:
        return call.wait(deadline)
    while True:
        check = watch.next_check()
        until = deadline if check is None else check if deadline is None else min(deadline, check)
        kind, value = call.wait(until)
        if kind != _WAKE or value is not None or until is None:
            return kind, value
        if deadline is not None and time.monotonic() >= deadline:
            return kind, value
        error = watch.check()
        if error is not None:
            return _WAKE, error


def _run_on(lt: LoopThread, coro: Coroutine[Any, Any, _R], deadline: float | None, timeout: float | None,
            watch: Watch | None = None) -> _R:
    __tracebackhide__ = True
    ctx = contextvars.copy_context()
    parent: _Call | None = getattr(_tls, "call", None)
    call = _Call(lt, parent)
    try:
        loop = lt.admit(call, deadline=deadline)
        loop.call_soon_threadsafe(_start, call, coro, ctx, loop)
    except RuntimeError as exc:  # LoopNotRunning, or a loop closed between admit and schedule
        lt.release(call)
        coro.close()
        if isinstance(exc, LoopNotRunning):
            raise
        raise lt.not_running_error() from exc
    except BaseException:
        coro.close()
        raise
    _tls.call = call
    try:
        kind, value = _wait(call, deadline, watch)
    except BaseException:  # KeyboardInterrupt or another async exception: cancel, then wait a bit
        _give_up(lt, call, wait=lt.config.cancel_wait)
        raise
    finally:
        _tls.call = parent
        call.finish()
    if kind == _OK:
        _copy_back(ctx)
        return value  # type: ignore[no-any-return]
    if kind == _ERR:
        _copy_back(ctx)
        if isinstance(value, asyncio.CancelledError) and lt.state is not LoopState.RUNNING:
            raise LoopNotRunning(
                "the coroutine was cancelled because the loopbridge loop is stopping; retry the "
                "call once the process is up again, or give stop() a longer grace period."
            ) from value
        raise value
    _give_up(lt, call, wait=0.0)
    if value is not None:  # woken by the loop thread (death, strict stall)
        raise value
    raise BridgeTimeout(
        f"the coroutine did not finish within timeout={timeout:g}s and was cancelled; raise the "
        "timeout, or find what it waits on (a blocked loop shows in the watchdog's log)."
    )


def _give_up(lt: LoopThread, call: _Call, *, wait: float) -> None:
    """Cancel the call's coroutine; optionally wait (bounded) for its cleanup to finish."""
    if lt.state is not LoopState.RUNNING:  # a dead or stopping loop cancels its own tasks
        return
    try:
        lt.call_soon(_cancel, call)
    except LoopNotRunning:
        return
    if wait > 0:
        kind, _ = call.wait(time.monotonic() + wait)
        if kind == _WAKE:
            logger.warning("loopbridge: a cancelled coroutine did not finish within %.1fs", wait)


def _copy_back(ctx: contextvars.Context) -> None:
    """Apply context changes the coroutine made to the caller's context (asgiref parity)."""
    for var, value in ctx.items():
        if var is _EXECUTORS_VAR:
            continue
        if type(value) is _Storage:
            value = _rehome(value)
        try:
            if var.get() is value:
                continue
        except LookupError:
            pass
        var.set(value)


def _deadline(timeout: float | None) -> float | None:
    seconds = check_seconds("timeout", timeout, allow_none=True)
    return None if seconds is None else time.monotonic() + seconds


def _as_coroutine(awaitable: Awaitable[_R]) -> Coroutine[Any, Any, _R]:
    if inspect.iscoroutine(awaitable):
        return awaitable
    if inspect.iscoroutinefunction(awaitable):
        raise TypeError(
            f"run() needs a coroutine object, got the coroutine function {awaitable.__qualname__}; "
            f"call it: run({awaitable.__name__}(...))."
        )
    if not inspect.isawaitable(awaitable):
        raise TypeError(f"run() needs a coroutine or other awaitable, got {type(awaitable).__name__}.")
    if isinstance(awaitable, asyncio.Future) and awaitable.get_loop() is not default_loop().loop:
        raise ValueError("run() got an asyncio future bound to another event loop; it can only be awaited there.")
    return _await(awaitable)


async def _await(awaitable: Awaitable[_R]) -> _R:
    return await awaitable


# -- decorators ------------------------------------------------------------------------------
@overload
def to_sync(fn: Callable[_P, Awaitable[_R]], /) -> Callable[_P, _R]: ...
@overload
def to_sync(*, timeout: float | None = None) -> Callable[[Callable[_P, Awaitable[_R]]], Callable[_P, _R]]: ...


def to_sync(fn: Callable[_P, Awaitable[_R]] | None = None, /, *, timeout: float | None = None) -> Any:
    """Turn an async function into a plain function that runs it with :func:`run` per call.

    Use bare (``@to_sync``) or with a per-call timeout (``@to_sync(timeout=5)``).

    Example::

        @to_sync(timeout=10)
        async def fetch_status(url: str) -> int:
            ...

        fetch_status("https://example.com")   # from sync code
    """
    _deadline(timeout)  # validate now, not at the first call

    def decorate(func: Callable[_P, Awaitable[_R]]) -> Callable[_P, _R]:
        if not callable(func):
            raise TypeError(f"to_sync() needs an async function, got {type(func).__name__}.")
        if not (inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(getattr(func, "__call__", None))):
            raise TypeError(
                f"to_sync() needs an async function (async def), got {getattr(func, '__qualname__', func)!r}; "
                "a plain function can be called directly."
            )

        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            return run(func(*args, **kwargs), timeout=timeout)

        wrapper.__loopbridge_to_sync__ = True  # type: ignore[attr-defined]
        return wrapper

    if fn is not None:
        return decorate(fn)
    return decorate


@overload
def to_async(fn: Callable[_P, _R], /) -> Callable[_P, Coroutine[Any, Any, _R]]: ...
@overload
def to_async(
    *, thread_sensitive: bool = True, executor: concurrent.futures.ThreadPoolExecutor | None = None
) -> Callable[[Callable[_P, _R]], Callable[_P, Coroutine[Any, Any, _R]]]: ...
@overload
def to_async(
    fn: Callable[_P, _R], /, thread_sensitive: bool = True, executor: concurrent.futures.ThreadPoolExecutor | None = None
) -> Callable[_P, Coroutine[Any, Any, _R]]: ...


def to_async(
    fn: Callable[_P, _R] | None = None,
    /,
    thread_sensitive: bool = True,
    executor: concurrent.futures.ThreadPoolExecutor | None = None,
) -> Any:
    """Turn a sync function into an async one that runs it off the loop.

    With ``thread_sensitive=True`` (the default) the function runs in the thread of the sync
    caller that is waiting on the current bridged call — the Flask worker thread that owns the
    sqlite3 connection, say — so thread-bound legacy resources keep working. Work whose caller
    has already returned (a background task) runs on one dedicated ``loopbridge-sync`` thread.
    With ``thread_sensitive=False`` it runs in ``executor`` or the loop's default pool.

    Example::

        @to_async
        def load_site(site_id: int) -> Row:
            return db().execute("SELECT * FROM sites WHERE id = ?", (site_id,)).fetchone()

        async def probe(site_id):
            site = await load_site(site_id)   # loop stays free while sqlite works
    """
    if not isinstance(thread_sensitive, bool):
        raise TypeError(f"thread_sensitive must be a bool, not {type(thread_sensitive).__name__}.")
    if thread_sensitive and executor is not None:
        raise TypeError("executor= only works with thread_sensitive=False (thread-sensitive work has its own thread).")

    def decorate(func: Callable[_P, _R]) -> Callable[_P, Coroutine[Any, Any, _R]]:
        if not callable(func) or inspect.iscoroutinefunction(func):
            raise TypeError(
                f"to_async() needs a plain (sync) function, got {getattr(func, '__qualname__', func)!r}; "
                "an async function can be awaited directly."
            )
        inner = SyncToAsync(func, thread_sensitive=thread_sensitive, executor=executor)
        if not thread_sensitive:
            return inner  # type: ignore[return-value]

        @functools.wraps(func)
        async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            if getattr(_EXECUTORS, "current", None) is None:
                lt = current_loop_thread()
                if lt is not None:  # a task with no waiting caller: avoid asgiref's global thread
                    _EXECUTORS.current = _sync_worker(lt)
            return await inner(*args, **kwargs)

        wrapper.__loopbridge_to_async__ = True  # type: ignore[attr-defined]
        return wrapper

    if fn is not None:
        return decorate(fn)
    return decorate
