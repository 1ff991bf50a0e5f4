"""The loop thread: one asyncio event loop per process, on a named daemon thread.

Lifecycle (``LoopState``)::

    NEW ──start()──▶ RUNNING ──stop()──▶ STOPPING ──▶ STOPPED ──start()──▶ RUNNING …
                        │
                        └── thread died ──▶ DEAD (callers get LoopNotRunning; start() again works)

The loop is started lazily by the first user, never at import time: gunicorn ``--preload``
imports the app in the master and then forks, and a loop thread does not survive ``fork()``.
After a fork the child's first use starts a fresh loop (``os.register_at_fork`` plus a pid
check), while the parent's loop objects are kept out of reach of the garbage collector so the
child never closes (or warns about) resources that belong to the parent.

Bridged calls register a *waiter* here (``admit``/``release``), which gives three things in one
place: the bound on in-flight calls (backpressure), the count the stats endpoint shows, and a way
to wake every waiting caller at once when the loop dies or (in strict mode) stalls.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import enum
import inspect
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._config import LoopConfig
from ._errors import DeadlockRisk, LoopNotRunning
from ._fork import bury
from ._host import check_threads_can_run
from ._validate import check_seconds

if TYPE_CHECKING:
    from ._watchdog import Watchdog
    from .http import HttpClient

__all__ = ["LoopState", "LoopThread", "Waiter", "configure_default", "current_loop_thread", "default_loop"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: seconds :meth:`LoopThread.stop` may take beyond its grace period, for cancellation and cleanup
STOP_MARGIN = 1.5
#: part of the margin kept back from cleanup, for the result to reach the waiting thread
_SHUTDOWN_RESERVE = 0.25
Closer = Callable[[], Any]

#: every LoopThread ever started in this process (for atexit and fork handling)
_live: weakref.WeakSet[LoopThread] = weakref.WeakSet()
#: called with each LoopThread as it starts, on the starting thread (the watchdog registers here,
#: so this module never imports the modules that build on it)
_start_extensions: list[Callable[[LoopThread], None]] = []
#: running loop -> its LoopThread, for code on the loop that needs its owner
_owners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopThread] = weakref.WeakKeyDictionary()


class LoopState(enum.Enum):
    """Where a :class:`LoopThread` is in its lifecycle."""

    NEW = "new"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DEAD = "dead"


class Waiter(Protocol):
    """A caller blocked on a bridged call; the loop thread can wake it with an error."""

    def wake(self, error: BaseException) -> None:
        """Make the blocked caller raise ``error`` (called from any thread)."""


class LoopThread:
    """Owns one event loop running forever on a dedicated, named daemon thread.

    Example::

        lt = LoopThread()
        fut = lt.submit(asyncio.sleep(0.1, "done"))
        assert fut.result() == "done"
        lt.stop()

    Most code uses the process-wide instance from :func:`default_loop` through ``bridge.run``.
    """

    def __init__(self, config: LoopConfig | None = None) -> None:
        if config is not None and not isinstance(config, LoopConfig):
            raise TypeError(f"config must be a LoopConfig, not {type(config).__name__}.")
        self._config = config if config is not None else LoopConfig.from_env()
        self._init_state()

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._slots = threading.Condition(self._lock)
        self._state = LoopState.NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._thread_ident: int | None = None
        self._pid = os.getpid()
        self._waiters: set[Waiter] = set()
        self._queued = 0
        self._refused = 0
        self._closers: list[Closer] = []
        self._reset_attachments()
        self._death: BaseException | None = None
        self._abandoned: list[asyncio.Task[Any]] = []
        self._start_hooks: list[Callable[[LoopThread], Any]] = []

    def _reset_attachments(self) -> None:
        #: the loop's HTTP client (``async_core.http.http_client`` makes it), ``None`` until used
        self.http: HttpClient | None = None
        #: the stall watchdog while one is attached (``LoopConfig.watchdog_ms > 0``), else ``None``
        self.watchdog: Watchdog | None = None
        #: the one thread for thread-sensitive work whose bridged caller already returned
        self.sync_executor: concurrent.futures.ThreadPoolExecutor | None = None
        #: the application's own per-loop objects (e.g. an aiohttp session), closed by its closers;
        #: a value with a ``stats()`` method shows in the stats under its key
        self.resources: dict[str, Any] = {}

    # -- introspection -------------------------------------------------------------------
    @property
    def config(self) -> LoopConfig:
        """The current (immutable) configuration."""
        return self._config

    @property
    def state(self) -> LoopState:
        """The lifecycle state; a forked child sees ``NEW`` until first use."""
        self._check_fork()
        return self._state

    @property
    def thread_ident(self) -> int | None:
        """``threading.get_ident()`` of the loop thread while it runs, else ``None``."""
        return self._thread_ident if self.state is LoopState.RUNNING else None

    @property
    def inflight(self) -> int:
        """Number of bridged calls currently admitted (running or scheduled on the loop)."""
        return len(self._waiters)

    @property
    def queued(self) -> int:
        """Number of callers waiting for a free in-flight slot."""
        return self._queued

    @property
    def refused(self) -> int:
        """Calls refused with ``Overloaded`` since the loop was created (for metrics): by the
        loop's own bound, and by the bounds callers keep (a Flask app's, see :meth:`note_refusal`)."""
        return self._refused

    def note_refusal(self) -> None:
        """Count a call a caller's own bound refused with ``Overloaded`` (e.g. a Flask app's
        ``LOOPBRIDGE_MAX_INFLIGHT``), so the figures show every refusal (any thread)."""
        with self._lock:
            self._refused += 1

    def waiters(self) -> list[Waiter]:
        """A snapshot of the callers currently blocked on this loop."""
        with self._lock:
            return list(self._waiters)

    def in_loop_thread(self) -> bool:
        """True when called from this loop's own thread."""
        return self._thread_ident == threading.get_ident() and self._pid == os.getpid()

    def __repr__(self) -> str:
        return f"<LoopThread {self._config.thread_name!r} state={self._state.value} inflight={self.inflight}>"

    # -- configuration -------------------------------------------------------------------
    def configure(self, config: LoopConfig) -> None:
        """Replace the configuration.

        Backpressure, timeouts and watchdog settings apply at once; ``use_uvloop`` and
        ``thread_name`` need a stopped loop (they take effect at the next start).
        """
        if not isinstance(config, LoopConfig):
            raise TypeError(f"config must be a LoopConfig, not {type(config).__name__}.")
        with self._lock:
            running = self._state in (LoopState.RUNNING, LoopState.STOPPING)
            old = self._config
            if running and (config.use_uvloop != old.use_uvloop or config.thread_name != old.thread_name):
                raise ValueError(
                    "use_uvloop and thread_name cannot change while the loop runs; "
                    "call stop() first or set them before the first bridged call."
                )
            self._config = config
            self._slots.notify_all()

    def on_start(self, hook: Callable[[LoopThread], Any]) -> None:
        """Call ``hook(self)`` on the caller's thread each time the loop (re)starts."""
        if not callable(hook):
            raise TypeError("on_start() needs a callable.")
        self._start_hooks.append(hook)
        if self._state is LoopState.RUNNING:
            hook(self)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def running_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop while this thread runs it (in this process), else ``None``; never starts it."""
        loop = self._loop
        if loop is not None and self._state in (LoopState.RUNNING, LoopState.STOPPING) and self._pid == os.getpid():
            return loop
        return None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running event loop, started on first access."""
        loop = self._loop
        if loop is not None and self._state is LoopState.RUNNING and self._pid == os.getpid():
            return loop
        return self.start()

    def start(self) -> asyncio.AbstractEventLoop:
        """Start the loop thread if it is not running and return its loop (idempotent)."""
        self._check_fork()
        with self._lock:
            if self._state is LoopState.RUNNING and self._loop is not None:
                return self._loop
            if self._state is LoopState.STOPPING:
                raise LoopNotRunning(
                    "the loop thread is stopping; wait for stop() to return before using it again."
                )
            loop = self._spawn()
        for hook in list(self._start_hooks):
            try:
                hook(self)
            except Exception:
                logger.exception("loopbridge: an on_start hook of %r failed", self)
        return loop

    def _spawn(self) -> asyncio.AbstractEventLoop:
        check_threads_can_run()  # a server that freezes Python threads: say so, do not hang
        # The loop is created on its own thread, in that thread's empty context: a loop made
        # here would capture the caller's contextvars (a Flask request, say) in its internal
        # handles and keep them alive for the life of the process.
        ready = threading.Event()
        box: list[Any] = []
        thread = threading.Thread(
            target=self._main, args=(box, ready), name=self._config.thread_name, daemon=True
        )
        self._thread, self._death = thread, None
        self._closers, self._abandoned = [], []
        self._reset_attachments()
        # A Ctrl-C here must not leave a loop thread running that this object does not know
        # (the next call would start a second one): finish registering it, then re-raise.
        interrupted: BaseException | None = None
        try:
            thread.start()
        except BaseException as exc:
            if thread.ident is None:  # it never started: nothing to register
                self._thread = None
                raise
            interrupted = exc
        while True:
            try:
                ready.wait()
                break
            except BaseException as exc:  # KeyboardInterrupt, or another async exception
                interrupted = exc
        if isinstance(box[0], BaseException):
            self._thread = None
            raise box[0]
        loop = self._loop = box[0]
        self._state = LoopState.RUNNING
        _owners[loop] = self
        _live.add(self)
        _register_exit_handler()
        for extension in list(_start_extensions):
            extension(self)
        if interrupted is not None:
            raise interrupted
        logger.debug("loopbridge: started %r (%s)", self, type(loop).__module__)
        return loop

    def _main(self, box: list[Any], ready: threading.Event) -> None:
        try:
            loop = _new_event_loop(self._config.use_uvloop)
        except BaseException as exc:  # e.g. uvloop required but missing: the starter re-raises
            box.append(exc)
            ready.set()
            return
        self._thread_ident = threading.get_ident()
        asyncio.set_event_loop(loop)
        box.append(loop)
        ready.set()
        try:
            loop.run_forever()
        except BaseException as exc:  # the thread is dying: remember why for every caller
            self._death = exc
            logger.critical("loopbridge: the loop thread died: %r", exc, exc_info=exc)
        finally:
            self._on_thread_exit(loop)

    def _on_thread_exit(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            clean = self._state is LoopState.STOPPING and self._death is None
            self._state = LoopState.STOPPED if clean else LoopState.DEAD
            waiters, self._waiters = self._waiters, set()
            # this generation's closers, taken now: a new loop may start as soon as the lock is
            # released, and its closers must never run on this dying loop (nor these on it)
            closers, self._closers = self._closers, []
            self._slots.notify_all()
        error = self.not_running_error()
        for waiter in waiters:
            waiter.wake(error)
        if not clean and not loop.is_closed():
            self._salvage(loop, closers)
        if not loop.is_closed() and not loop.is_running():
            try:
                loop.close()
            except Exception:  # a loop broken by the failure that killed the thread
                logger.debug("loopbridge: closing a dead loop failed", exc_info=True)
        asyncio.set_event_loop(None)
        with self._lock:
            # thread idents are reused: a later thread must never pass for this finished one
            # (unless a new loop thread has already taken its place)
            if self._thread_ident == threading.get_ident():
                self._thread_ident = None

    def _salvage(self, loop: asyncio.AbstractEventLoop, closers: list[Closer]) -> None:
        """After the loop died: cancel its tasks and run its closers, best effort and bounded."""
        # the tasks to cancel are the dead loop's own, taken before cleanup adds tasks of its own
        leftovers = set(asyncio.all_tasks(loop))
        budget = self._config.cancel_wait + 2.0

        async def cleanup() -> None:
            await self._cancel_tasks(leftovers, wait=self._config.cancel_wait + 1.0)
            await self._run_closers(closers, budget=1.0)
            await loop.shutdown_asyncgens()

        try:
            loop.run_until_complete(asyncio.wait_for(cleanup(), timeout=budget))
        except BaseException:  # the loop may be too broken to run anything; never mask the death
            logger.warning("loopbridge: cleanup after the loop thread died was incomplete", exc_info=True)

    def stop(self, grace: float | None = None) -> None:
        """Stop the loop: finish in-flight work (up to ``grace`` s), cancel the rest, close.

        Registered closers run (newest first), async generators and the default executor are
        shut down, and the thread is joined. The whole call returns within ``grace`` plus
        ``STOP_MARGIN`` seconds whatever the loop is doing (as gunicorn's graceful timeout):
        a loop blocked in sync code is left to die with the process (its thread is a daemon),
        and the log says so. Idempotent; the instance can be started again.
        Raises :class:`DeadlockRisk` when called on the loop thread itself.
        """
        grace = self._config.stop_grace if grace is None else grace
        grace = check_seconds("grace", grace, allow_zero=True)
        assert grace is not None
        self._check_fork()
        if self.in_loop_thread():
            raise DeadlockRisk(
                "LoopThread.stop() was called on the loop thread itself, which would wait for "
                "itself forever; call it from another thread (or schedule it with to_async)."
            )
        with self._lock:
            if self._state is not LoopState.RUNNING:
                return
            self._state = LoopState.STOPPING
            loop, thread = self._loop, self._thread
            self._slots.notify_all()
        assert loop is not None and thread is not None
        deadline = time.monotonic() + grace + STOP_MARGIN
        self._run_shutdown(loop, grace, deadline)
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            logger.error(
                "loopbridge: the loop thread did not exit within grace=%gs + %gs; it is blocked in "
                "sync code (the watchdog's log names where). Leaving it to end with the process.",
                grace, STOP_MARGIN,
            )
        with self._lock:
            if self._thread is thread:  # not a loop another caller started since
                if self._state is LoopState.STOPPING:
                    self._state = LoopState.STOPPED
                self._loop, self._thread, self._thread_ident = None, None, None

    def _run_shutdown(self, loop: asyncio.AbstractEventLoop, grace: float, deadline: float) -> None:
        try:
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(grace, deadline), loop)
        except RuntimeError:  # the loop already closed under us
            return
        try:
            fut.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            logger.error("loopbridge: shutdown did not finish within grace=%gs + %gs; the loop is blocked.", grace, STOP_MARGIN)
        except concurrent.futures.CancelledError:
            logger.error("loopbridge: the shutdown task was cancelled; cleanup may be incomplete.")
        except Exception:
            logger.exception("loopbridge: error while shutting the loop down")
        # Stopped from here, after the result reached us: a loop stopped from inside the task
        # would exit before the task's completion is delivered to this waiting thread.
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:  # closed meanwhile
            pass

    async def _shutdown(self, grace: float, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        grace_end = loop.time() + grace
        cleanup_end = loop.time() + max(0.0, deadline - time.monotonic()) - _SHUTDOWN_RESERVE
        while True:
            tasks = {t for t in asyncio.all_tasks() if t is not me}
            remaining = grace_end - loop.time()
            if not tasks or remaining <= 0:
                break
            await asyncio.wait(tasks, timeout=remaining)

        def left() -> float:
            return max(0.05, cleanup_end - loop.time())

        await self._cancel_leftovers(me, wait=min(self._config.cancel_wait + 1.0, left()))
        await self._run_closers(budget=left())
        try:
            await asyncio.wait_for(loop.shutdown_asyncgens(), timeout=left())
        except asyncio.TimeoutError:
            logger.error("loopbridge: async generators did not close in time at stop.")
        try:
            await asyncio.wait_for(loop.shutdown_default_executor(), timeout=left())
        except asyncio.TimeoutError:
            logger.error("loopbridge: default executor threads still busy at stop; not waiting.")

    async def _cancel_leftovers(self, me: asyncio.Task[Any] | None, wait: float | None = None) -> None:
        await self._cancel_tasks({t for t in asyncio.all_tasks() if t is not me}, wait=wait)

    async def _cancel_tasks(self, tasks: set[asyncio.Task[Any]], wait: float | None = None) -> None:
        tasks = {t for t in tasks if not t.done()}
        if not tasks:
            return
        logger.info("loopbridge: cancelling %d task(s) still running at stop", len(tasks))
        for task in tasks:
            task.cancel()
        _, pending = await asyncio.wait(tasks, timeout=self._config.cancel_wait + 1.0 if wait is None else wait)
        if pending:
            # keep them referenced: destroying a pending task only produces a misleading warning
            self._abandoned.extend(pending)
            names = ", ".join(sorted(t.get_name() for t in pending))
            logger.error("loopbridge: task(s) ignored cancellation at stop: %s", names)

    async def _run_closers(self, closers: list[Closer] | None = None, budget: float | None = None) -> None:
        if closers is None:
            closers, self._closers = self._closers, []
        loop = asyncio.get_running_loop()
        end = None if budget is None else loop.time() + budget
        for closer in reversed(closers):
            timeout = max(self._config.stop_grace, 1.0) if end is None else max(0.05, end - loop.time())
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, timeout=timeout)
            except asyncio.TimeoutError:
                logger.error("loopbridge: closer %r did not finish in %.2fs at stop", closer, timeout)
            except Exception:
                logger.exception("loopbridge: closer %r failed at stop", closer)

    # -- work ----------------------------------------------------------------------------
    def add_closer(self, closer: Closer) -> None:
        """Register ``closer`` (sync or async callable) to run on the loop at :meth:`stop`."""
        if not callable(closer):
            raise TypeError("add_closer() needs a callable (sync or async) taking no arguments.")
        self._closers.append(closer)

    def submit(self, coro: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Schedule ``coro`` on the loop and return a ``concurrent.futures.Future``.

        A low-level door (no backpressure, no context propagation): sync code should use
        ``bridge.run``. Raises :class:`LoopNotRunning` if the loop cannot take work.
        """
        if not asyncio.iscoroutine(coro):
            raise TypeError(f"submit() needs a coroutine object, got {type(coro).__name__}.")
        loop = self.loop
        try:
            return asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError as exc:
            coro.close()
            raise self.not_running_error() from exc

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the loop thread soon (thread-safe)."""
        loop = self.loop
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError as exc:
            raise self.not_running_error() from exc

    # -- bridged-call bookkeeping (backpressure, death and stall notices) -------------------
    def admit(
        self, waiter: Waiter, queue_timeout: float | None = None, *, deadline: float | None = None
    ) -> asyncio.AbstractEventLoop:
        """Register ``waiter`` as in flight, waiting for a free slot if all are taken.

        The wait ends at whichever comes first: ``queue_timeout`` seconds (default: the
        config's), then :class:`Overloaded`; or the caller's own ``deadline`` (a
        ``time.monotonic()`` value), then :class:`BridgeTimeout`. Returns the loop to schedule on.
        Raises :class:`LoopNotRunning` when the loop cannot take work.
        """
        loop = self._loop
        if loop is None or self._state is not LoopState.RUNNING or self._pid != os.getpid():
            loop = self.start()
        with self._lock:
            if self._state is LoopState.RUNNING and len(self._waiters) < self._config.max_inflight:
                self._waiters.add(waiter)
                return loop
        return self._admit_slow(waiter, queue_timeout, deadline)

    def _admit_slow(
        self, waiter: Waiter, queue_timeout: float | None, deadline: float | None
    ) -> asyncio.AbstractEventLoop:
        from ._errors import BridgeTimeout, Overloaded

        wait = self._config.queue_timeout if queue_timeout is None else queue_timeout
        started = time.monotonic()
        queue_deadline = started + wait
        with self._slots:
            self._queued += 1
            try:
                while True:
                    if self._state is not LoopState.RUNNING or self._loop is None:
                        raise self.not_running_error()
                    if len(self._waiters) < self._config.max_inflight:
                        self._waiters.add(waiter)
                        return self._loop
                    now = time.monotonic()
                    if deadline is not None and deadline <= min(queue_deadline, now):
                        raise BridgeTimeout(
                            f"the call's timeout passed after {now - started:.3f}s while it waited for a "
                            f"free in-flight slot ({len(self._waiters)} bridged calls in flight, the limit "
                            f"max_inflight={self._config.max_inflight}); the coroutine never started. Raise "
                            "the timeout or LOOPBRIDGE_MAX_INFLIGHT, or look for calls that never finish."
                        )
                    if queue_deadline <= now:
                        self._refused += 1
                        raise Overloaded(
                            f"{len(self._waiters)} bridged calls are already in flight (the limit, "
                            f"max_inflight={self._config.max_inflight}) and none finished within the "
                            f"queue timeout ({wait:g}s); retry later, raise LOOPBRIDGE_MAX_INFLIGHT, or "
                            "look for calls that never finish."
                        )
                    until = queue_deadline if deadline is None else min(queue_deadline, deadline)
                    self._slots.wait(until - now)
            finally:
                self._queued -= 1

    def release(self, waiter: Waiter) -> None:
        """Forget ``waiter`` and hand its slot to a queued caller (any thread)."""
        with self._lock:
            self._waiters.discard(waiter)
            if self._queued:
                self._slots.notify()

    def wake_all(self, error: BaseException) -> int:
        """Wake every blocked caller with ``error``; returns how many were woken."""
        for waiter in self.waiters():
            waiter.wake(error)
        return len(self._waiters)

    def not_running_error(self) -> LoopNotRunning:
        """The :class:`LoopNotRunning` to raise now: why this loop takes no work, and what to do."""
        if self._death is not None:
            err = LoopNotRunning(
                f"the loopbridge loop thread died ({self._death!r}); work sent to it cannot run. "
                "The original error is attached as __cause__; the next call starts a fresh loop."
            )
            err.__cause__ = self._death
            return err
        return LoopNotRunning(
            f"the loopbridge loop thread is {self._state.value}; it takes no new work. "
            "Calls made after stop() start it again; calls made during stop() must be retried."
        )

    # -- fork --------------------------------------------------------------------------------
    def _check_fork(self) -> None:
        if self._pid != os.getpid():
            self._reset_after_fork()

    def _reset_after_fork(self) -> None:
        """In a forked child: forget the parent's loop without touching it, start fresh later."""
        bury([self._loop, self._thread, self._closers, self.resources, self.http, self.sync_executor, self._abandoned])
        hooks, config = self._start_hooks, self._config
        self._init_state()
        self._start_hooks, self._config = hooks, config


def _new_event_loop(use_uvloop: bool | None) -> asyncio.AbstractEventLoop:
    if use_uvloop is False or sys.platform == "win32":
        return asyncio.new_event_loop()
    try:
        import uvloop
    except ImportError:
        if use_uvloop:
            raise RuntimeError(
                "use_uvloop=True but uvloop is not installed: pip install 'loopbridge[uvloop]', "
                "or set LOOPBRIDGE_UVLOOP=auto."
            ) from None
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# -- the process-wide instance ---------------------------------------------------------------
_default: LoopThread | None = None
_default_lock = threading.Lock()


def default_loop() -> LoopThread:
    """The process's shared :class:`LoopThread` (created, not started, on first call)."""
    global _default
    lt = _default
    if lt is None:
        with _default_lock:
            if _default is None:
                _default = LoopThread()
            lt = _default
    return lt


def configure_default(config: LoopConfig | None = None, **changes: Any) -> LoopThread:
    """Set the default loop's configuration (``config``, then ``changes`` applied over it)."""
    lt = default_loop()
    base = config if config is not None else lt.config
    lt.configure(base.replace(**changes) if changes else base)
    return lt


def current_loop_thread() -> LoopThread | None:
    """The :class:`LoopThread` owning the running loop, or ``None`` off any loop thread."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return _owners.get(loop)


def _after_fork_in_child() -> None:
    global _default_lock
    _default_lock = threading.Lock()
    for lt in list(_live):
        lt._reset_after_fork()


_exit_registered = False


def _register_exit_handler() -> None:
    global _exit_registered
    if _exit_registered:
        return
    _exit_registered = True
    # threading's own exit hooks run before concurrent.futures refuses new work and before
    # non-daemon threads are joined, the same point the stdlib executors shut down at; plain
    # atexit would run after the default executor already refused the shutdown's last jobs.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(_stop_all_at_exit)
    else:  # pragma: no cover - other interpreters
        atexit.register(_stop_all_at_exit)


def _stop_all_at_exit() -> None:
    for lt in list(_live):
        if lt._pid == os.getpid() and lt._state is LoopState.RUNNING:
            try:
                lt.stop(grace=min(lt.config.stop_grace, 2.0))
            except Exception:  # at exit there is no one left to tell but the log
                logger.exception("loopbridge: stopping %r at exit failed", lt)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

