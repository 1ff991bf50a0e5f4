"""The stall watchdog: notices when synchronous code blocks the loop, and shows the line.

How it works::

    monitor thread ("<loop thread name>-watchdog")            loop thread
    ──────────────────────────────────────────────            ───────────
    every interval (threshold / 4):
      call_soon_threadsafe(_beat, seq) ─────────────────────▶ _beat: note (seq, now)
    answer arrived → lag = answered_at - sent_at ◀───────────
      (counters, histogram)
    no answer after `threshold` → a stall:
      sample sys._current_frames()[loop thread] every threshold/5
      strict mode: wake every waiting bridge call with LoopStalled (at once, while stalled)
    answer arrives (or the stall outlasts ``report_after``) → ONE StallReport per stall:
      log (WARNING on ``async_core.watchdog``), counters, callbacks

It sees any stall whatever its cause (``time.sleep``, a CPU-bound loop, a C extension doing IO),
because it measures the loop, not a list of known functions. Its cost on the loop is one
callback per interval (no per-callback instrumentation), measured by
``benchmarks/bench_watchdog.py``.

Blame. Each sample walks the loop thread's stack and sorts frames into *internal* (asyncio,
uvloop, concurrent, threading, selectors, loopbridge itself), *library* (the rest of the
standard library and site-packages) and *user* code. The blamed frame is the innermost user
frame: for ``requests.get(url)`` in a coroutine that is the user's calling line, with the
requests/urllib3/socket frames listed below it. Across samples the frame seen most often wins.
A C function that holds the GIL for the whole stall cannot be sampled while it runs; the stall
is still reported, with the stack taken as soon as the GIL is released.

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
import dataclasses
import inspect
import linecache
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
]

#: a stable public name (the module itself is private): configure "async_core.watchdog"
logger = logging.getLogger("async_core.watchdog")

#: upper bounds (ms) of the lag histogram's buckets; one more bucket counts everything above
HISTOGRAM_BOUNDS_MS: tuple[float, ...] = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)

_MAX_SAMPLES = 50
_MAX_USER_FRAMES = 5
_LIBRARY_HEAD, _LIBRARY_TAIL = 4, 8
_PAUSED_POLL_S = 0.5
_CO_COROUTINE_FLAGS = inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE

StallCallback = Callable[["StallReport"], Any]
#: one frame as sampled: (filename, lineno, qualname)
_Raw = tuple[str, int, str]

_all_watchdogs: weakref.WeakSet[Watchdog] = weakref.WeakSet()


# -- the report -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class StallFrame:
    """One frame of a stall report.

    ``kind`` is ``"user"`` (your code), ``"library"`` (stdlib or site-packages) or
    ``"internal"`` (asyncio, uvloop, threading, loopbridge itself).
    """

    filename: str
    lineno: int
    function: str
    line: str
    kind: str

    @property
    def location(self) -> str:
        """``file:line``, the form editors and terminals open."""
        return f"{self.filename}:{self.lineno}"

    def as_dict(self) -> dict[str, Any]:
        """The frame as JSON-able data."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class StallReport:
    """What the watchdog saw during one stall of the loop (immutable).

    Attributes:
        duration_ms: how long the loop did not answer a heartbeat (a lower bound of the stall).
        threshold_ms: the threshold in force.
        ongoing: ``True`` when the loop was still blocked as the report was made.
        blamed: the blocking frame (innermost user frame), or ``None`` if nothing was sampled.
        frames: outermost first: up to five user frames ending with ``blamed``, then the
            library frames below it (the middle of a long library stack is elided).
        elided: how many library frames were left out of ``frames``.
        task: name of the task that was running, when it could be identified safely.
        coroutine: qualified name of the outermost non-internal coroutine on the stack.
        samples / blamed_samples: stacks sampled, and how many of them show ``blamed``.
        started_at: wall-clock time (``time.time()``) the late heartbeat was sent.

    Example::

        watchdog.add_callback(lambda report: print(report.format()))
    """

    duration_ms: float
    threshold_ms: float
    ongoing: bool
    blamed: StallFrame | None
    frames: tuple[StallFrame, ...]
    elided: int
    task: str | None
    coroutine: str | None
    samples: int
    blamed_samples: int
    started_at: float
    thread_name: str

    def headline(self) -> str:
        """One line: how long, where, in which task."""
        where = f"at {self.blamed.location} in {self.blamed.function}" if self.blamed else "(no stack sampled)"
        state = "has been blocked for" if self.ongoing else "was blocked for"
        who = [f"task {self.task!r}"] if self.task else []
        who += [f"coroutine {self.coroutine}"] if self.coroutine else []
        running = f" ({', '.join(who)})" if who else ""
        return (
            f"the event loop {state} {self.duration_ms:.0f} ms (threshold {self.threshold_ms:g} ms) "
            f"by synchronous code {where}{running}"
        )

    def stack_text(self) -> str:
        """The sampled stack, traceback style (most recent call last)."""
        lines = [
            (
                f"Stack of thread {self.thread_name!r} (most recent call last; the blocking frame was "
                f"seen in {self.blamed_samples} of {self.samples} samples):"
            )
        ]
        gap_after = self.frames.index(self.blamed) + _LIBRARY_HEAD if self.elided and self.blamed else -1
        for index, frame in enumerate(self.frames):
            tag = "" if frame.kind == "user" else f"  [{frame.kind}]"
            marker = "   <-- blocking" if frame is self.blamed else ""
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.function}{tag}{marker}')
            if frame.line:
                lines.append(f"    {frame.line}")
            if index == gap_after:
                lines.append(f"  ... {self.elided} library frames left out ...")
        return "\n".join(lines)

    def format(self) -> str:
        """A readable multi-line report: headline, blocking line, stack."""
        parts = ["loopbridge: " + self.headline()]
        if self.blamed is not None and self.blamed.line:
            parts.append(f"    {self.blamed.line}")
        if self.frames:
            parts.append(self.stack_text())
        return "\n".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (for the stats endpoint and log handlers)."""
        data = dataclasses.asdict(self)
        data["frames"] = list(data["frames"])
        data["location"] = self.blamed.location if self.blamed else None
        data["stack"] = self.stack_text()
        return data


# -- classifying and sampling frames (pure functions) ----------------------------------------
def _dir_of(module_file: str | None) -> str:
    return os.path.dirname(os.path.abspath(module_file)) + os.sep if module_file else "\0"


_STDLIB_DIR = _dir_of(os.__file__)
_INTERNAL_STDLIB = ("asyncio", "concurrent", "threading.py", "selectors.py")
_OWN_DIRS = (_dir_of(__file__), os.path.join(os.path.dirname(_dir_of(__file__).rstrip(os.sep)), "bridge") + os.sep)
_kind_cache: dict[str, str] = {}


def frame_kind(filename: str) -> str:
    """Sort a code file into ``"user"``, ``"library"`` or ``"internal"`` (see module doc)."""
    kind = _kind_cache.get(filename)
    if kind is None:
        kind = _kind_cache[filename] = _classify(filename)
    return kind


def _classify(filename: str) -> str:
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>
        return "library"
    path = os.path.abspath(filename)
    if path.startswith(_OWN_DIRS):
        return "internal"
    parts = path.split(os.sep)
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            top = parts[parts.index(marker) + 1] if parts.index(marker) + 1 < len(parts) else ""
            return "internal" if top == "uvloop" else "library"
    if path.startswith(_STDLIB_DIR):
        top = path[len(_STDLIB_DIR):].split(os.sep, 1)[0]
        return "internal" if top in _INTERNAL_STDLIB else "library"
    return "user"


def _walk(frame: FrameType | None) -> tuple[list[_Raw], FrameType | None, str | None]:
    """Innermost-first frames, the outermost coroutine frame, and the outermost non-internal
    coroutine's qualname. Reads only code objects and line numbers (cheap, no source IO)."""
    raw: list[_Raw] = []
    outer_coro: FrameType | None = None
    shown_coro: str | None = None
    while frame is not None:
        code = frame.f_code
        name = getattr(code, "co_qualname", code.co_name)
        raw.append((code.co_filename, frame.f_lineno or 0, name))
        if code.co_flags & _CO_COROUTINE_FLAGS:
            outer_coro = frame
            if frame_kind(code.co_filename) != "internal":
                shown_coro = name
        frame = frame.f_back
    return raw, outer_coro, shown_coro


def _blame_index(raw: list[_Raw]) -> int | None:
    """Index (innermost-first) of the blamed frame: innermost user, else library, else any."""
    for wanted in ("user", "library"):
        for index, (filename, _, _) in enumerate(raw):
            if frame_kind(filename) == wanted:
                return index
    return 0 if raw else None


def _to_frame(raw: _Raw) -> StallFrame:
    filename, lineno, function = raw
    return StallFrame(filename, lineno, function, linecache.getline(filename, lineno).strip(), frame_kind(filename))


def _select_frames(raw: list[_Raw], blamed: int) -> tuple[tuple[StallFrame, ...], int, int]:
    """Outermost first: a few user frames up to the blamed one, then the library frames below.

    Returns the frames, the position of the blamed frame among them, and how many library
    frames were left out of the middle of a long library stack.
    """
    users = [r for r in raw[blamed + 1:] if frame_kind(r[0]) == "user"][: _MAX_USER_FRAMES - 1]
    below = [r for r in raw[:blamed] if frame_kind(r[0]) != "internal"]
    below.reverse()  # outermost first
    elided = 0
    if len(below) > _LIBRARY_HEAD + _LIBRARY_TAIL:
        elided = len(below) - _LIBRARY_HEAD - _LIBRARY_TAIL
        below = below[:_LIBRARY_HEAD] + below[-_LIBRARY_TAIL:]
    chosen = [*reversed(users), raw[blamed], *below]
    return tuple(_to_frame(r) for r in chosen), len(users), elided


class _StallSampler:
    """Accumulates the samples of one stall and builds its report (monitor thread only)."""

    def __init__(self, sent_at: float, threshold_ms: float, thread_name: str) -> None:
        self.sent_at = sent_at
        self.threshold_ms = threshold_ms
        self.thread_name = thread_name
        self.samples = 0
        self.counts: collections.Counter[_Raw] = collections.Counter()
        self.latest: dict[_Raw, tuple[list[_Raw], int, str | None, str | None]] = {}
        self.reported = False

    def add(self, raw: list[_Raw], task: str | None, coroutine: str | None) -> None:
        """Count one sampled stack under its blamed frame."""
        self.samples += 1
        index = _blame_index(raw)
        if index is None:
            return
        key = raw[index]
        self.counts[key] += 1
        self.latest[key] = (raw, index, task, coroutine)

    def report(self, now: float, *, ongoing: bool) -> StallReport:
        """The stall so far, blamed on the frame seen most often."""
        duration_ms = (now - self.sent_at) * 1000.0
        started = time.time() - (time.monotonic() - self.sent_at)
        blamed: StallFrame | None = None
        frames: tuple[StallFrame, ...] = ()
        elided, task, coroutine, hits = 0, None, None, 0
        if self.counts:
            # the frame seen most often; among equals, the one seen first
            key, hits = self.counts.most_common(1)[0]
            raw, index, task, coroutine = self.latest[key]
            frames, position, elided = _select_frames(raw, index)
            blamed = frames[position]
        return StallReport(
            duration_ms=duration_ms, threshold_ms=self.threshold_ms, ongoing=ongoing, blamed=blamed,
            frames=frames, elided=elided, task=task, coroutine=coroutine, samples=self.samples,
            blamed_samples=hits, started_at=started, thread_name=self.thread_name,
        )


# -- the monitor ----------------------------------------------------------------------------
class Watchdog:
    """Watches one :class:`LoopThread` for stalls from a named daemon thread.

    Most code never builds one: the loop thread attaches it at start when
    ``LoopConfig.watchdog_ms > 0`` (:func:`attach_watchdog`), and its figures show in the
    stats endpoint. Threshold and strictness follow the loop's configuration at once
    (``LoopThread.configure``); pass ``threshold_ms`` / ``strict`` to pin them instead.

    Example::

        wd = default_loop().watchdog
        wd.add_callback(lambda report: alerts.send(report.format()))
        wd.stats()["stalls"]
    """

    def __init__(
        self,
        lt: LoopThread,
        *,
        threshold_ms: float | None = None,
        strict: bool | None = None,
        report_after_ms: float | None = None,
    ) -> None:
        for name, value in (("threshold_ms", threshold_ms), ("report_after_ms", report_after_ms)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not value > 0):
                raise ValueError(f"{name} must be a number of milliseconds > 0 (or None for the default), got {value!r}.")
        if strict is not None and not isinstance(strict, bool):
            raise TypeError(f"strict must be True, False or None (follow the loop's config), not {strict!r}.")
        self._lt_ref = weakref.ref(lt)
        self._loop = lt.loop
        self._loop_ident = lt.thread_ident
        self._thread_name = lt.config.thread_name
        self._threshold_ms, self._strict, self._report_after_ms = threshold_ms, strict, report_after_ms
        self._pid = os.getpid()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._synced = threading.Condition(self._lock)
        self._callbacks: list[StallCallback] = []
        self._seq = 0
        self._pending: tuple[int, float] | None = None
        self._answer: tuple[int, float] = (0, 0.0)
        self._stall: _StallSampler | None = None
        self._beats = self._stalls = 0
        self._worst_lag = self._recent_lag = 0.0
        self._histogram = [0] * (len(HISTOGRAM_BOUNDS_MS) + 1)
        self._last_report: StallReport | None = None
        self._thread = threading.Thread(target=self._run, name=f"{self._thread_name}-watchdog", daemon=True)
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
        """Start the monitor thread (done by :func:`attach_watchdog`)."""
        if self._stopping.is_set():
            raise RuntimeError("this watchdog was stopped; attach a new one with attach_watchdog(lt).")
        if not self._thread.is_alive():
            self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the monitor thread (idempotent; safe from any thread, the loop's included)."""
        self._stopping.set()
        with self._synced:
            self._synced.notify_all()
        if self._pid == os.getpid() and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def sync(self, timeout: float = 1.0) -> bool:
        """Wait until no stall is in progress or awaiting its report (so it has been reported).

        Returns at once when the loop is answering; ``False`` if a stall was still going on
        after ``timeout`` seconds (or the watchdog stopped first).
        """
        deadline = time.monotonic() + timeout
        with self._synced:
            while self._report_due():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.running:
                    return False
                self._synced.wait(min(remaining, 0.05))
        return True

    def _report_due(self) -> bool:
        if self._stall is not None:
            return True
        pending = self._pending
        threshold = self.threshold_ms / 1000.0
        if pending is None or threshold <= 0:
            return False
        seq, answered_at = self._answer
        end = answered_at if seq == pending[0] else time.monotonic()
        return end - pending[1] >= threshold

    def _alive(self) -> bool:
        lt = self._lt_ref()
        if self._stopping.is_set() or lt is None or self._pid != os.getpid() or self._loop.is_closed():
            return False
        return lt.state.value in ("running", "stopping") and lt.running_loop is self._loop

    # -- the monitor thread --------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while self._alive():
                threshold_ms = self.threshold_ms
                if threshold_ms <= 0:  # paused (watchdog_ms set to 0 at run time)
                    self._pending = self._stall = None
                    self._stopping.wait(_PAUSED_POLL_S)
                    continue
                pause = self._tick(threshold_ms / 1000.0)
                with self._synced:  # wake sync() callers: a tick may have published a report
                    self._synced.notify_all()
                if pause is None:
                    break
                self._stopping.wait(pause)
        except Exception:  # never let the watchdog take anything down with it
            logger.exception("loopbridge: the watchdog failed and stopped; the loop is no longer watched")
        finally:
            with self._synced:
                self._stopping.set()
                self._synced.notify_all()

    def _beat(self, seq: int) -> None:
        """Runs on the loop thread: the whole per-interval cost of the watchdog on the loop."""
        self._answer = (seq, time.monotonic())

    def _tick(self, threshold: float) -> float | None:
        """One look at the loop; returns how long to wait before the next, ``None`` to stop."""
        now = time.monotonic()
        interval = threshold / 4.0
        pending = self._pending
        if pending is not None and self._answer[0] == pending[0]:
            self._answered(pending[1], self._answer[1])
            pending = self._pending = None
        if pending is None:
            self._seq += 1
            try:
                self._loop.call_soon_threadsafe(self._beat, self._seq)
            except RuntimeError:  # the loop closed under us
                return None
            self._pending = (self._seq, now)
            return interval
        late = now - pending[1]
        if late < threshold:
            return min(interval, threshold - late + 0.001)
        self._stalled(pending[1], now, threshold)
        return min(max(threshold / 5.0, 0.005), 0.1)

    def _answered(self, sent_at: float, answered_at: float) -> None:
        lag_ms = max(answered_at - sent_at, 0.0) * 1000.0
        with self._lock:
            self._beats += 1
            self._recent_lag = lag_ms
            self._worst_lag = max(self._worst_lag, lag_ms)
            self._histogram[_bucket(lag_ms)] += 1
        stall = self._stall
        if stall is None:
            return
        if stall.reported:
            logger.info("loopbridge: the stall reported earlier ended after %.0f ms", lag_ms)
        else:
            self._publish(stall.report(answered_at, ongoing=False))
        self._stall = None  # only now: sync() relies on it to know a report is on its way

    def _stalled(self, sent_at: float, now: float, threshold: float) -> None:
        stall = self._stall
        first = stall is None
        if stall is None:
            stall = self._stall = _StallSampler(sent_at, threshold * 1000.0, self._thread_name)
        if stall.samples < _MAX_SAMPLES:
            self._sample(stall)
        if first and self.strict:
            self._fail_waiters(stall.report(now, ongoing=True))
        report_after = (self._report_after_ms / 1000.0) if self._report_after_ms else max(10 * threshold, 2.0)
        if not stall.reported and now - sent_at >= report_after:
            self._publish(stall.report(now, ongoing=True))
            stall.reported = True

    def _sample(self, stall: _StallSampler) -> None:
        frame = sys._current_frames().get(self._loop_ident or -1)
        raw, outer_coro, coroutine = _walk(frame)
        del frame
        stall.add(raw, self._task_name(outer_coro), coroutine)

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
        message = _stalled_message(report)
        # one error object per caller: an exception raised in several threads at once would
        # collect frames from all of them in its traceback
        for waiter in lt.waiters():
            waiter.wake(LoopStalled(message, report))

    def _publish(self, report: StallReport) -> None:
        with self._lock:
            self._stalls += 1
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
        pending = self._pending
        with self._lock:
            last = self._last_report
            out: dict[str, Any] = {
                "running": self.running,
                "threshold_ms": self.threshold_ms,
                "strict": self.strict,
                "heartbeats": self._beats,
                "stalls": self._stalls,
                "stalled_now": self._stall is not None,
                "recent_lag_ms": round(self._recent_lag, 3),
                "worst_lag_ms": round(self._worst_lag, 3),
                "current_lag_ms": round((time.monotonic() - pending[1]) * 1000.0, 3) if pending else 0.0,
                "lag_histogram": _histogram_dict(self._histogram),
            }
        out["last_stall"] = last.as_dict() if last is not None else None
        out["last_stall_stack"] = last.format() if last is not None else None
        return out


def _bucket(lag_ms: float) -> int:
    for index, bound in enumerate(HISTOGRAM_BOUNDS_MS):
        if lag_ms <= bound:
            return index
    return len(HISTOGRAM_BOUNDS_MS)


def _histogram_dict(counts: list[int]) -> dict[str, int]:
    labels = [f"<={bound:g}ms" for bound in HISTOGRAM_BOUNDS_MS] + [f">{HISTOGRAM_BOUNDS_MS[-1]:g}ms"]
    return dict(zip(labels, counts, strict=True))


def _stalled_message(report: StallReport) -> str:
    where = "an unknown place (no stack could be sampled)"
    if report.blamed is not None:
        where = f"{report.blamed.location} in {report.blamed.function}"
        if report.blamed.line:
            where += f": `{report.blamed.line}`"
    return (
        f"the event loop has been blocked for {report.duration_ms:.0f} ms (threshold "
        f"{report.threshold_ms:g} ms) by synchronous code at {where}. Strict mode fails every bridged "
        "call waiting on the loop. Move that call off the loop (await an async API, or wrap it with "
        "bridge.to_async / asyncio.to_thread), or raise the threshold (LOOPBRIDGE_WATCHDOG_MS)."
    )


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
