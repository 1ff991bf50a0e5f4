"""The stall watchdog: notices when synchronous code blocks the loop, and shows the line.

How it works::

    loop thread                                      monitor thread ("<loop thread>-watchdog")
    ───────────                                      ─────────────────────────────────────────
    _tick, every `resolution` (threshold / 20,       wakes when the loop has been quiet for
    1–20 ms), via call_later:                          0.5 × threshold: samples the loop thread's
      last_ran = now           ─── read ──────────▶  stack (sys._current_frames) every
      lag = how late this tick ran (histogram)        threshold / 5 (5–100 ms) while it stays quiet
      quiet since last_ran > threshold + resolution?  quiet > threshold + resolution → a stall:
        → record (last_ran, now): a finished stall    strict mode: wake every waiting bridge call
          ─── wake ───────────────────────────────▶   with LoopStalled (at once, while stalled)
                                                    a finished stall (or one outlasting
                                                    ``report_after``) → ONE StallReport:
                                                    log WARNING on ``async_core.watchdog``,
                                                    counters, callbacks

Exactness. The loop itself writes when it last ran (``_tick``), so a stall's start is known to
within one resolution step, not guessed from the next heartbeat, and its end is the first tick
after it. The reported duration is the gap between those ticks less half a step (error at most
half a step: 10 ms at the default 500 ms threshold, 2.5 ms at 100 ms). A stall is reported only
when it is *proven* longer than the threshold (gap − one step > threshold), so a shorter one is
never reported and every one longer than threshold + one step (5 %) always is, whatever its
phase. Cost on the loop: one timer callback per step (at most 50 a second at thresholds of
400 ms and above), nothing per task or per callback.

It sees any stall whatever its cause (``time.sleep``, a CPU-bound loop, a C extension doing IO),
because it measures the loop, not a list of known functions. A C function that holds the GIL for
the whole stall cannot be sampled while it runs; the stall is still reported when it returns,
with its exact duration and the stack taken as soon as the GIL is free.

The pure half (frame classification, blame, the report and its text) is ``_stall``.

The running task. ``asyncio.current_task(loop)`` is meant for the loop's own thread because its
answer may be stale by the time another thread uses it. The watchdog accepts that and guards
against it: it reads the task registry once per sample, while the loop thread is stopped at the
sampled point (the GIL is held; the registry read is a single dict lookup), and it keeps the task
only if that task's coroutine frame is the outermost coroutine frame *of the sampled stack*. A
stale answer therefore fails the check and is dropped, never misreported.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import _loop as _loop_module
from ._errors import LoopStalled
from ._stall import (
    DEFAULT_THRESHOLD_KNOB,
    HISTOGRAM_BOUNDS_MS,
    StallFrame,
    StallReport,
    StallSampler,
    context_of,
    frame_kind,
    histogram_bucket,
    histogram_dict,
    stall_route,
    stalled_message,
    walk_stack,
)
from ._trace import trace_id_in
from ._validate import check_seconds

if TYPE_CHECKING:
    from ._loop import LoopThread

__all__ = [
    "HISTOGRAM_BOUNDS_MS",
    "StallFrame",
    "StallReport",
    "Watchdog",
    "attach_watchdog",
    "detach_watchdog",
    "frame_kind",
    "resolution_s",
]

#: a stable public name (the module itself is private): configure "async_core.watchdog"
logger = logging.getLogger("async_core.watchdog")

_MAX_SAMPLES = 50
_PAUSED_POLL_S = 0.5
#: the monitor starts sampling once the loop has been quiet this share of the threshold, so a
#: stall just over the threshold has a stack too (samples of a shorter one are dropped)
_SUSPECT = 0.5

StallCallback = Callable[["StallReport"], Any]
#: the stats' key for stalls with no request known (a background task, a script)
_NO_ROUTE = "(no request)"

_all_watchdogs: weakref.WeakSet[Watchdog] = weakref.WeakSet()



def resolution_s(threshold_s: float) -> float:
    """The loop-side tick period for a threshold: threshold / 20, within 1–20 ms."""
    return min(max(threshold_s / 20.0, 0.001), 0.020)


# -- the monitor ----------------------------------------------------------------------------
class Watchdog:
    """Watches one event loop for stalls from a named daemon thread.

    Most code never builds one: the loop thread attaches it at start when
    ``LoopConfig.watchdog_ms > 0`` (:func:`attach_watchdog`), and its figures show in the
    stats endpoint. Threshold and strictness follow the loop's configuration at once
    (``LoopThread.configure``); pass ``threshold_ms`` / ``strict`` to pin them instead.
    :meth:`for_loop` watches any other loop (the pytest plugin uses it for test loops).

    Example::

        wd = default_loop().watchdog
        wd.add_callback(lambda report: alerts.send(report.format()))
        wd.stats()["stalls"]
    """

    #: the setting named by the strict-mode message as the way to raise the threshold
    threshold_knob: str = DEFAULT_THRESHOLD_KNOB

    def __init__(
        self,
        lt: LoopThread,
        *,
        threshold_ms: float | None = None,
        strict: bool | None = None,
        report_after_ms: float | None = None,
    ) -> None:
        _check_options(threshold_ms, strict, report_after_ms)
        self._lt_ref: Callable[[], LoopThread | None] = weakref.ref(lt)
        self._owned = True
        self._setup(lt.loop, lt.thread_ident, lt.config.thread_name, threshold_ms, strict, report_after_ms)

    @classmethod
    def for_loop(
        cls,
        loop: asyncio.AbstractEventLoop,
        *,
        threshold_ms: float,
        thread_name: str = "event-loop",
        report_after_ms: float | None = None,
    ) -> Watchdog:
        """A watchdog for a loop no :class:`LoopThread` owns (a test's loop, say).

        It starts paused: call :meth:`resume` on the loop's thread each time the loop starts
        running and :meth:`pause` there when it stops (a stopped loop runs nothing and must not
        count as stalled). It fails no callers (no bridged call waits on such a loop); read its
        reports through :meth:`add_callback`.
        """
        _check_options(threshold_ms, None, report_after_ms)
        if threshold_ms is None:
            raise ValueError("for_loop() needs threshold_ms, a number of milliseconds > 0.")
        watchdog = cls.__new__(cls)
        watchdog._lt_ref = lambda: None
        watchdog._owned = False
        watchdog._setup(loop, None, thread_name, threshold_ms, False, report_after_ms)
        watchdog._paused = True
        return watchdog

    def _setup(
        self,
        loop: asyncio.AbstractEventLoop,
        ident: int | None,
        thread_name: str,
        threshold_ms: float | None,
        strict: bool | None,
        report_after_ms: float | None,
    ) -> None:
        self._loop, self._loop_ident, self._thread_name = loop, ident, thread_name
        # The ticks run in an empty context of their own: scheduled from a caller's thread (the
        # loop starts lazily, often inside a Flask request) they would otherwise keep that
        # caller's context, and every object in it, alive for the life of the loop. One per
        # watchdog, entered only by its loop's thread: a context shared between loops can be
        # entered by two threads at once, and the tick that finds it "already entered" fails
        # and stops ticking, which reads as a stall that never happened.
        self._context = contextvars.Context()
        self._threshold_ms, self._strict, self._report_after_ms = threshold_ms, strict, report_after_ms
        self._pid = os.getpid()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._synced = threading.Condition(self._lock)
        self._callbacks: list[StallCallback] = []
        self._paused = False
        # written by the loop thread only (single writer), read by the others
        self._last_ran = time.monotonic()
        self._ticking = False
        self._tick_threshold_s = self.threshold_ms / 1000.0
        self._gaps: collections.deque[tuple[float, float, float]] = collections.deque()
        self._worst_lag = self._recent_lag = self._lag_sum = 0.0
        self._histogram = [0] * (len(HISTOGRAM_BOUNDS_MS) + 1)
        # the monitor's own
        self._stall: StallSampler | None = None
        self._stalls = 0
        self._by_route: collections.Counter[str] = collections.Counter()
        self._last_report: StallReport | None = None
        self._thread = threading.Thread(target=self._run, name=f"{thread_name}-watchdog", daemon=True)
        _all_watchdogs.add(self)

    def __repr__(self) -> str:
        return f"<Watchdog {self._thread.name!r} threshold={self.threshold_ms:g}ms stalls={self._stalls}>"

    # -- settings ---------------------------------------------------------------------------
    @property
    def threshold_ms(self) -> float:
        """The stall threshold in force (``0`` means paused: the loop's ``watchdog_ms`` is 0)."""
        if self._threshold_ms is not None:
            return float(self._threshold_ms)
        lt = self._lt_ref()
        return float(lt.config.watchdog_ms) if lt is not None else 0.0

    @property
    def strict(self) -> bool:
        """Whether a stall fails the waiting bridge calls with :class:`LoopStalled`."""
        if self._strict is not None:
            return self._strict
        lt = self._lt_ref()
        return bool(lt is not None and lt.config.strict)

    @property
    def running(self) -> bool:
        """True while the monitor thread runs in this process."""
        return self._pid == os.getpid() and self._thread.is_alive() and not self._stopping.is_set()

    # -- callbacks ---------------------------------------------------------------------------
    def add_callback(self, callback: StallCallback) -> None:
        """Call ``callback(report)`` once per stall, on the monitor thread (keep it quick)."""
        if not callable(callback):
            raise TypeError(f"add_callback() needs a callable taking a StallReport, got {type(callback).__name__}.")
        with self._lock:
            self._callbacks.append(callback)

    def remove_callback(self, callback: StallCallback) -> None:
        """Forget a callback added with :meth:`add_callback`; ``ValueError`` if it is unknown."""
        with self._lock:
            try:
                self._callbacks.remove(callback)
            except ValueError:
                raise ValueError(f"{callback!r} is not a callback of {self!r}; add it with add_callback() first.") from None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the monitor thread and the loop-side tick (done by :func:`attach_watchdog`)."""
        if self._stopping.is_set():
            raise RuntimeError("this watchdog was stopped; attach a new one with attach_watchdog(lt).")
        if not self._thread.is_alive():
            self._thread.start()
            if not self._paused:
                self._loop.call_soon_threadsafe(self._start_ticking, context=self._context)

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the monitor thread (idempotent; safe from any thread, the loop's included)."""
        self._stopping.set()
        self._wake.set()
        with self._synced:
            self._synced.notify_all()
        if self._pid == os.getpid() and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def resume(self) -> None:
        """The loop starts running (call on its thread, before it runs anything): watch it."""
        self._loop_ident = threading.get_ident()
        self._last_ran = time.monotonic()
        self._paused = False
        self._start_ticking()
        self._wake.set()

    def pause(self) -> None:
        """The loop stops running (call on its thread): report a stall that ended just now."""
        if not self._paused:
            self._check_gap(time.monotonic())
            self._paused = True
            self._wake.set()

    def sync(self, timeout: float = 1.0) -> bool:
        """Wait until no stall is in progress or awaiting its report (so it has been reported).

        Returns at once when the loop is answering; ``False`` if a stall was still going on
        after ``timeout`` seconds (or the watchdog stopped first).
        """
        deadline = time.monotonic() + timeout
        self._wake.set()  # a finished stall is published at once, not at the monitor's next look
        with self._synced:
            while self._report_due():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.running:
                    return False
                self._synced.wait(min(remaining, 0.05))
        return True

    def _report_due(self) -> bool:
        if self._gaps:
            return True
        threshold = self._tick_threshold_s
        if self._paused or threshold <= 0:
            return False
        return time.monotonic() - self._last_ran - resolution_s(threshold) > threshold

    def _alive(self) -> bool:
        if self._stopping.is_set() or self._pid != os.getpid() or self._loop.is_closed():
            return False
        lt = self._lt_ref()
        if lt is None:
            return not self._owned
        return lt.state.value in ("running", "stopping") and lt.running_loop is self._loop

    # -- the loop side: the whole per-step cost of the watchdog on the loop --------------------
    def _start_ticking(self) -> None:
        if not self._ticking and not self._stopping.is_set():
            self._ticking = True
            self._last_ran = time.monotonic()
            self._loop.call_soon(self._tick, context=self._context)

    def _tick(self) -> None:
        now = time.monotonic()
        if self._stopping.is_set() or self._loop_ident not in (None, threading.get_ident()):
            self._ticking = False
            return
        threshold = self._tick_threshold_s
        step = resolution_s(threshold) if threshold > 0 else _PAUSED_POLL_S
        if not self._paused:
            self._check_gap(now)
        self._last_ran = now
        self._loop.call_later(step, self._tick, context=self._context)

    def _check_gap(self, now: float) -> None:
        """Loop thread: count how late this look came, and record a proven stall."""
        threshold = self._tick_threshold_s
        if threshold <= 0:
            return
        step = resolution_s(threshold)
        lag = max(now - self._last_ran - step, 0.0)
        lag_ms = lag * 1000.0
        self._recent_lag = lag_ms
        self._lag_sum += lag_ms
        if lag_ms > self._worst_lag:
            self._worst_lag = lag_ms
        self._histogram[histogram_bucket(lag_ms)] += 1
        if lag > threshold:
            self._gaps.append((self._last_ran, now, step))
            self._wake.set()

    # -- the monitor thread --------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while self._alive():
                threshold_ms = self.threshold_ms
                self._tick_threshold_s = threshold_ms / 1000.0
                self._wake.clear()
                if threshold_ms <= 0:  # paused (watchdog_ms set to 0 at run time)
                    self._gaps.clear()
                    self._stall = None
                    pause = _PAUSED_POLL_S
                else:
                    pause = self._look(threshold_ms / 1000.0)
                with self._synced:  # wake sync() callers: a look may have published a report
                    self._synced.notify_all()
                self._wake.wait(pause)
            if self._gaps and self._tick_threshold_s > 0:  # a stall that ended as the loop closed
                self._publish_finished(self._tick_threshold_s)
        except Exception:  # never let the watchdog take anything down with it
            logger.exception("loopbridge: the watchdog failed and stopped; the loop is no longer watched")
        finally:
            with self._synced:
                self._stopping.set()
                self._synced.notify_all()

    def _look(self, threshold: float) -> float:
        """One look at the loop; returns how long to wait before the next."""
        # read first: the loop records a finished stall before it moves _last_ran on, so the
        # stall that ended since this read is among the gaps published next
        last = self._last_ran
        self._publish_finished(threshold)
        step = resolution_s(threshold)
        sample_every = min(max(threshold / 5.0, 0.005), 0.1)
        now = time.monotonic()
        quiet = now - last
        if self._paused or quiet < _SUSPECT * threshold:
            self._stall = None  # a quiet spell that ended below the threshold: not a stall
            if self._paused:
                return threshold / 4.0
            return min(max(last + _SUSPECT * threshold - now, 0.001), threshold / 4.0)
        stall = self._stall
        if stall is None or stall.start != last:
            stall = self._stall = StallSampler(last, threshold * 1000.0, self._thread_name)
        if stall.samples < _MAX_SAMPLES:
            self._sample(stall, last)
        if quiet - step <= threshold:  # not proven yet: look again when it would be
            return min(max(last + threshold + step - now, 0.001), sample_every)
        ongoing_ms = (quiet - step / 2.0) * 1000.0
        if stall.all_waiting:  # the loop waits for IO: its thread is starved, no code to blame
            return sample_every
        if not stall.confirmed:
            stall.confirmed = True
            if self.strict:
                self._fail_waiters(stall.report(ongoing_ms, ongoing=True))
        report_after = (self._report_after_ms / 1000.0) if self._report_after_ms else max(10 * threshold, 2.0)
        if not stall.reported and quiet >= report_after:
            self._publish(stall.report(ongoing_ms, ongoing=True))
            stall.reported = True
        return sample_every

    def _publish_finished(self, threshold: float) -> None:
        """Report each stall the loop recorded as finished."""
        while self._gaps:
            start, end, step = self._gaps[0]
            stall = self._stall
            if stall is None or stall.start != start:  # ended before the monitor saw it
                stall = StallSampler(start, threshold * 1000.0, self._thread_name)
            duration_ms = (end - start - step / 2.0) * 1000.0
            if stall.all_waiting:
                logger.info(
                    "loopbridge: the loop thread ran nothing for %.0f ms while it waited for IO (another "
                    "thread held the GIL, or the machine was busy); not a stall of code on the loop",
                    duration_ms,
                )
            elif stall.reported:
                logger.info("loopbridge: the stall reported earlier ended after %.0f ms", duration_ms)
            else:
                self._publish(stall.report(duration_ms, ongoing=False))
            if stall is self._stall:
                self._stall = None
            self._gaps.popleft()  # only now: sync() relies on it to know a report is on its way

    def _sample(self, stall: StallSampler, last: float) -> None:
        frame = sys._current_frames().get(self._loop_ident or -1)
        raw, outer_coro, coroutine = walk_stack(frame)
        del frame
        if self._last_ran == last:  # the loop ran in between: the stack is not the stall's
            context = context_of(outer_coro)
            route = context.get(stall_route) if context is not None else None
            stall.add(raw, self._task_name(outer_coro), coroutine, route, trace_id_in(context))
            del context
        del outer_coro

    def _task_name(self, outer_coro: FrameType | None) -> str | None:
        """The running task, kept only if it matches the sampled stack (see module doc)."""
        if outer_coro is None:
            return None
        try:
            task = asyncio.current_task(self._loop)
        except Exception:  # noqa: BLE001 - a loop without a task registry: report no task name
            return None
        if task is None or getattr(task.get_coro(), "cr_frame", None) is not outer_coro:
            return None
        return task.get_name()

    # -- reporting --------------------------------------------------------------------------
    def _fail_waiters(self, report: StallReport) -> None:
        lt = self._lt_ref()
        if lt is None:
            return
        message = stalled_message(report, self.threshold_knob)
        # one error object per caller: an exception raised in several threads at once would
        # collect frames from all of them in its traceback
        for waiter in lt.waiters():
            waiter.wake(LoopStalled(message, report))

    def _publish(self, report: StallReport) -> None:
        with self._lock:
            self._stalls += 1
            self._by_route[report.route or _NO_ROUTE] += 1
            self._last_report = report
            callbacks = list(self._callbacks)
        logger.warning("%s", report.format(), extra={"loopbridge_stall": report})
        for callback in callbacks:
            try:
                callback(report)
            except Exception:
                logger.exception("loopbridge: a watchdog callback (%r) failed", callback)

    # -- figures ----------------------------------------------------------------------------
    @property
    def last_report(self) -> StallReport | None:
        """The most recent stall report, if any."""
        return self._last_report

    def stats(self) -> dict[str, Any]:
        """JSON-able figures: stalls, lag (ms), histogram, and the last stall with its stack."""
        threshold = self._tick_threshold_s
        current = 0.0
        if threshold > 0 and not self._paused:
            current = max(time.monotonic() - self._last_ran - resolution_s(threshold), 0.0) * 1000.0
        with self._lock:
            last = self._last_report
            out: dict[str, Any] = {
                "running": self.running,
                "threshold_ms": self.threshold_ms,
                "strict": self.strict,
                "heartbeats": sum(self._histogram),
                "stalls": self._stalls,
                "stalled_now": self._stall is not None and self._stall.confirmed,
                "recent_lag_ms": round(self._recent_lag, 3),
                "worst_lag_ms": round(self._worst_lag, 3),
                "lag_sum_ms": round(self._lag_sum, 3),
                "current_lag_ms": round(current, 3),
                "lag_histogram": histogram_dict(list(self._histogram)),
                "stalls_by_route": dict(self._by_route.most_common()),
            }
        out["last_stall"] = last.as_dict() if last is not None else None
        out["last_stall_stack"] = last.format() if last is not None else None
        return out


def _check_options(threshold_ms: float | None, strict: bool | None, report_after_ms: float | None) -> None:
    for name, value in (("threshold_ms", threshold_ms), ("report_after_ms", report_after_ms)):
        check_seconds(name, value, allow_none=True, unit="milliseconds")
    if strict is not None and not isinstance(strict, bool):
        raise TypeError(f"strict must be True, False or None (follow the loop's config), not {strict!r}.")


# -- attaching to a loop thread ---------------------------------------------------------------
def attach_watchdog(lt: LoopThread, **options: Any) -> Watchdog:
    """Start a :class:`Watchdog` on ``lt`` (started if needed) and return it (idempotent).

    It is stored in ``lt.watchdog`` (so the stats show it), stops with the loop
    (``lt.add_closer``), and stops by itself if the loop dies or the process forks.
    ``options`` go to :class:`Watchdog` when a new one is made.
    """
    current = lt.watchdog
    if current is not None and current.running:
        return current
    watchdog = Watchdog(lt, **options)
    lt.watchdog = watchdog
    lt.add_closer(watchdog.stop)
    watchdog.start()
    logger.debug("loopbridge: %r attached", watchdog)
    return watchdog


def _attach_if_configured(lt: LoopThread) -> None:
    if lt.config.watchdog_ms > 0:
        attach_watchdog(lt)


def detach_watchdog(lt: LoopThread) -> None:
    """Stop and remove ``lt``'s watchdog, if it has one."""
    watchdog, lt.watchdog = lt.watchdog, None
    if watchdog is not None:
        watchdog.stop()


def _after_fork_in_child() -> None:
    # the monitor threads did not survive the fork; mark their watchdogs stopped
    for watchdog in list(_all_watchdogs):
        watchdog._stopping.set()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

_loop_module._start_extensions.append(_attach_if_configured)
