"""What the pytest plugin does for a strict test: watch every loop it runs, catch lost coroutines.

Imported by :mod:`loopbridge.pytest_plugin` only once a test runs strict, so an inert plugin
loads none of the runtime. For one strict test, from the start of its setup to the end of its
teardown (:class:`StrictWindow`):

- **the default loop** (the one ``bridge.run``, ``to_sync`` and the Flask extension use) runs
  with its watchdog at the test threshold and ``strict=True``: a stall fails the bridged call
  waiting on it with ``LoopStalled``, and the test afterwards in any case;
- **every other event loop that starts running** (pytest-asyncio's, anyio's, an
  ``asyncio.run`` in the test) is found as it starts, through ``asyncio.events._set_running_loop``
  (the call every asyncio loop makes as ``run_forever`` begins and ends), and watched by a
  :meth:`Watchdog.for_loop <async_core.Watchdog.for_loop>` while it runs: same threshold, same
  report, same blamed line;
- **coroutines never awaited**: ``warnings._warn_unawaited_coroutine`` (which CPython calls when
  a never-started coroutine is finalised) records the coroutine's creating line and the test
  that created it, then lets Python's own ``RuntimeWarning`` through (:class:`UnawaitedTracker`).
  Coroutine origin tracking is on only in synchronous code of the test's thread, never while an
  event loop runs there: it costs 10-15 µs per coroutine created, which turned a test awaiting
  a trivial coroutine 100,000 times into a stall of its own. A coroutine created inside a
  running loop and never awaited is nearly always dropped on the line that created it; that
  line, found at finalisation, is named instead.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import dataclasses
import linecache
import logging
import sys
import threading
import types
import warnings
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from async_core import LoopConfig, LoopState, LoopThread, StallReport, Watchdog, current_loop_thread, default_loop
from async_core._watchdog import attach_watchdog

__all__ = ["StrictWindow", "UnawaitedCoroutine", "UnawaitedTracker"]

logger = logging.getLogger(__name__)

#: threshold when neither the marker nor the ini option names one and the loop's is 0 (off)
FALLBACK_THRESHOLD_MS = 500.0
#: how long the end of a strict phase waits for a still-blocked loop to answer
_SETTLE_TIMEOUT_S = 10.0
#: frames kept of each coroutine's creation: enough to reach the test function from a helper
_ORIGIN_DEPTH = 32


# -- the window of one strict test --------------------------------------------------------------
class StrictWindow:
    """Watches the default loop and every loop that runs, from setup to teardown of one test."""

    active: ClassVar[StrictWindow | None] = None
    _hooked: ClassVar[weakref.WeakSet[LoopThread]] = weakref.WeakSet()

    def __init__(self, threshold_ms: float | None, knob: str, origins: UnawaitedTracker | None = None) -> None:
        self.lt = default_loop()
        self.old: LoopConfig = self.lt.config
        self.threshold_ms = threshold_ms or (self.old.watchdog_ms if self.old.watchdog_ms > 0 else FALLBACK_THRESHOLD_MS)
        self.knob = knob
        self.reports: list[StallReport] = []
        self.watchdogs: list[Watchdog] = []
        self.loop_watchdogs: dict[asyncio.AbstractEventLoop, Watchdog] = {}
        self._lock = threading.Lock()
        self._original_set_running: Callable[[Any], None] | None = None
        self.origins = origins

    def begin(self) -> None:
        """Put the default loop in strict mode, hook loop starts, start collecting."""
        if self.lt not in self._hooked:  # once per LoopThread: on_start hooks cannot be removed
            self.lt.on_start(_on_loop_start)
            self._hooked.add(self.lt)
        self.lt.configure(self.old.replace(strict=True, watchdog_ms=self.threshold_ms))
        StrictWindow.active = self
        if self.lt.state is LoopState.RUNNING:
            self.attach(self.lt)
        self._original_set_running = original = asyncio.events._set_running_loop

        def set_running_loop(loop: asyncio.AbstractEventLoop | None) -> None:
            if loop is None:
                self._loop_stops()
                original(None)
                if self.origins is not None:
                    self.origins.loop_stops()
            else:
                if self.origins is not None:
                    self.origins.loop_starts()
                original(loop)
                self._loop_starts(loop)

        asyncio.events._set_running_loop = set_running_loop

    # -- the default loop --
    def attach(self, lt: LoopThread) -> None:
        """Collect the reports of ``lt``'s watchdog (attached now if the loop has none)."""
        watchdog = attach_watchdog(lt)
        with self._lock:
            if watchdog not in self.watchdogs:
                watchdog.threshold_knob = self.knob
                watchdog.add_callback(self.collect)
                self.watchdogs.append(watchdog)

    def collect(self, report: StallReport) -> None:
        """Watchdog callback (monitor thread): keep the report for this test."""
        with self._lock:
            self.reports.append(report)

    # -- other loops (runs on the thread that starts or stops the loop) --
    def _loop_starts(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            if current_loop_thread() is not None:  # a LoopThread's loop has its own watchdog
                return
            if _in_child_greenlet():  # Playwright's sync API: the loop is suspended, not stalled,
                return  # while the test's own code runs
            watchdog = self.loop_watchdogs.get(loop)
            if watchdog is None:
                watchdog = Watchdog.for_loop(
                    loop, threshold_ms=self.threshold_ms, thread_name=threading.current_thread().name
                )
                watchdog.threshold_knob = self.knob
                watchdog.add_callback(self.collect)
                watchdog.start()
                self.loop_watchdogs[loop] = watchdog
            watchdog.resume()
        except Exception:  # noqa: BLE001 - never break the user's loop for the sake of watching it
            logger.exception("loopbridge: could not watch the event loop %r", loop)

    def _loop_stops(self) -> None:
        try:
            loop = asyncio.events._get_running_loop()
            watchdog = self.loop_watchdogs.get(loop) if loop is not None else None
            if watchdog is not None:
                watchdog.pause()
        except Exception:  # noqa: BLE001 - as above
            logger.exception("loopbridge: could not pause the watch of an event loop")

    # -- phase and window ends --
    def settle(self) -> list[StallReport]:
        """Let a stall that is ending be reported; return every report of the window so far."""
        if self.lt.state is LoopState.RUNNING:
            try:  # one round trip: whatever blocked the loop during the phase has finished
                self.lt.submit(_noop()).result(timeout=_SETTLE_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - a timeout or a dead loop: say so, fail nothing here
                logger.warning("loopbridge: the loop did not answer within %ss after the test: %r", _SETTLE_TIMEOUT_S, exc)
        for watchdog in [*self.watchdogs, *self.loop_watchdogs.values()]:
            watchdog.sync(timeout=2.0)
        with self._lock:
            return list(self.reports)

    def end(self) -> list[StallReport]:
        """Settle, then undo everything :meth:`begin` did."""
        try:
            reports = self.settle()
        finally:
            if self._original_set_running is not None:
                asyncio.events._set_running_loop = self._original_set_running
            StrictWindow.active = None
            for watchdog in self.watchdogs:
                try:
                    watchdog.remove_callback(self.collect)
                except ValueError:
                    pass
                watchdog.threshold_knob = Watchdog.threshold_knob
            for watchdog in self.loop_watchdogs.values():
                watchdog.stop()
            current = self.lt.config
            self.lt.configure(current.replace(strict=self.old.strict, watchdog_ms=self.old.watchdog_ms))
        return reports


def _in_child_greenlet() -> bool:
    greenlet = sys.modules.get("greenlet")
    getcurrent = getattr(greenlet, "getcurrent", None)
    return getcurrent is not None and getcurrent().parent is not None


async def _noop() -> None:
    return None


def _on_loop_start(lt: LoopThread) -> None:
    window = StrictWindow.active
    if window is not None and window.lt is lt:
        window.attach(lt)


# -- coroutines never awaited -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class UnawaitedCoroutine:
    """A coroutine that was created and finalised without ever being awaited."""

    name: str
    origin: tuple[tuple[str, int, str], ...]
    owner: str | None
    #: where its last reference was dropped, when its creation was not recorded and that line
    #: does not call it (created in a running loop and kept for a while)
    dropped_at: tuple[str, int, str] | None = None

    def format(self) -> str:
        """The coroutine, its creating line, and the calls that led there (innermost last)."""
        if not self.origin:
            if self.dropped_at is not None:
                filename, lineno, function = self.dropped_at
                return (
                    f"coroutine {self.name!r} was never awaited; created inside a running event loop (where "
                    f"its creation is not recorded) and dropped at {filename}:{lineno} in {function}"
                )
            return f"coroutine {self.name!r} was never awaited (its creation was not recorded)"
        filename, lineno, function = self.origin[0]
        lines = [f"coroutine {self.name!r} was never awaited; created at {filename}:{lineno} in {function}:"]
        for filename, lineno, function in reversed(self.origin[:8]):
            lines.append(f'  File "{filename}", line {lineno}, in {function}')
        return "\n".join(lines)


class UnawaitedTracker:
    """Attributes each never-awaited coroutine created in a strict test to that test.

    The test is found in the coroutine's creation stack (its function, or the latest strict
    test running when no frame matches); one collected after its test ended is kept under
    that test's id for the end of the session.
    """

    def __init__(self) -> None:
        self._original: Callable[[Any], Any] | None = None
        self._by_code: dict[tuple[str, str], str] = {}
        self.current: str | None = None
        self.found: dict[str, list[UnawaitedCoroutine]] = {}
        self._old_depth = 0
        self._lock = threading.Lock()
        self._paused = threading.local()
        #: where warnings are shown when the strict test starts (pytest's own recorder): one
        #: shown elsewhere went to a recorder the test opened (pytest.warns, recwarn)
        self._shown_by: object = None

    def install(self) -> None:
        """Route ``warnings._warn_unawaited_coroutine`` through :meth:`_on_unawaited` (once)."""
        if self._original is None:
            self._original = getattr(warnings, "_warn_unawaited_coroutine", None)
            warnings._warn_unawaited_coroutine = self._on_unawaited  # type: ignore[attr-defined]

    def uninstall(self) -> None:
        """Give ``warnings`` its own function back."""
        if self._original is not None:
            warnings._warn_unawaited_coroutine = self._original  # type: ignore[attr-defined]
            self._original = None

    def begin(self, nodeid: str, functions: list[Any]) -> None:
        """A strict test starts: record its coroutines' origins and remember its functions."""
        self.install()
        self.current = nodeid
        for function in functions:
            code = getattr(function, "__code__", None)
            if isinstance(code, types.CodeType):
                self._by_code[(code.co_filename, code.co_name)] = nodeid
        self._old_depth = sys.get_coroutine_origin_tracking_depth()
        sys.set_coroutine_origin_tracking_depth(max(self._old_depth, _ORIGIN_DEPTH))
        self._shown_by = getattr(warnings, "_showwarnmsg_impl", None)

    def end(self) -> None:
        """The strict test is over (its reports are made): later finds are late ones."""
        sys.set_coroutine_origin_tracking_depth(self._old_depth)
        self.current = None

    def loop_starts(self) -> None:
        """A loop starts running on this thread: no origin tracking while it runs (see module doc)."""
        self._paused.depth = sys.get_coroutine_origin_tracking_depth()
        sys.set_coroutine_origin_tracking_depth(0)

    def loop_stops(self) -> None:
        """The loop of this thread stops: tracking as it was before it started."""
        depth = getattr(self._paused, "depth", None)
        if depth is not None:
            sys.set_coroutine_origin_tracking_depth(depth)
            self._paused.depth = None

    def take(self, nodeid: str) -> list[UnawaitedCoroutine]:
        """The coroutines attributed to ``nodeid`` so far (and forget them)."""
        with self._lock:
            return self.found.pop(nodeid, [])

    def _on_unawaited(self, coro: Any) -> None:
        found = self._record(coro, sys._getframe(1))
        if self._original is not None:
            self._original(coro)  # Python's own warning, as without strict mode (may raise: let it)
        if found is not None and self._shown_to_the_test(coro):
            with self._lock:  # the test asked for the warning (pytest.warns): it knows
                self.found.get(found.owner or "", []).remove(found)

    def _record(self, coro: Any, dropped_in: types.FrameType) -> UnawaitedCoroutine | None:
        try:
            origin = getattr(coro, "cr_origin", None)
            name = getattr(coro, "__qualname__", None) or repr(coro)
            dropped_at = None
            if origin is None:
                if self.current is None:  # not created in a strict test: Python's warning only
                    return None
                origin, dropped_at = _site_of_drop(coro, dropped_in)
            owner = next((self._by_code[(f, n)] for f, _, n in origin if (f, n) in self._by_code), None)
            if owner is None and dropped_at is not None:
                owner = self._owner_on_stack(dropped_in)
            found = UnawaitedCoroutine(name, tuple(origin), owner or self.current, dropped_at)
            with self._lock:
                self.found.setdefault(found.owner or "", []).append(found)
            return found
        except Exception:  # noqa: BLE001 - called while an object is finalised: never raise
            logger.exception("loopbridge: could not record a coroutine that was never awaited")
            return None

    def _owner_on_stack(self, frame: types.FrameType | None) -> str | None:
        while frame is not None:
            code = frame.f_code
            owner = self._by_code.get((code.co_filename, code.co_name))
            if owner is not None:
                return owner
            frame = frame.f_back
        return None

    def _shown_to_the_test(self, coro: Any) -> bool:
        shown_by = getattr(warnings, "_showwarnmsg_impl", None)
        if shown_by is self._shown_by:
            return False
        log = getattr(shown_by, "__self__", None)
        return isinstance(log, list) and bool(log) and getattr(log[-1], "source", None) is coro


def _site_of_drop(
    coro: Any, frame: types.FrameType
) -> tuple[tuple[tuple[str, int, str], ...], tuple[str, int, str] | None]:
    """For a coroutine whose creation was not recorded: its creating line if the frame that
    dropped it is on a line that calls it (``fetch()`` as a statement), else where it was dropped."""
    code = getattr(coro, "cr_code", None)
    name = code.co_name if isinstance(code, types.CodeType) else ""
    stack: list[tuple[str, int, str]] = []
    walker: types.FrameType | None = frame
    while walker is not None and len(stack) < 8:
        stack.append((walker.f_code.co_filename, walker.f_lineno or 0, walker.f_code.co_name))
        walker = walker.f_back
    filename, lineno, _ = stack[0]
    if name and f"{name}(" in linecache.getline(filename, lineno):
        return tuple(stack), None
    return (), stack[0]
