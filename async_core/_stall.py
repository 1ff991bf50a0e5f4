"""The stall report and its blame: pure functions and value objects, no threads.

The monitor thread (``_watchdog``) samples the loop thread's stack while the loop is quiet;
everything it does with those samples lives here:

- **classify** each code file as *internal* (asyncio, uvloop, concurrent, threading, selectors,
  loopbridge itself), *library* (the rest of the standard library and site-packages) or *user*
  code (:func:`frame_kind`);
- **blame** across the samples of one stall the frame the most samples contain (inclusive: a
  caller counts every sample of the lines it called), preferring user frames (else library
  frames), skipping interpreter and garbage-collector frames, and the deepest among equals; a
  close second is named too (:class:`StallSampler`);
- **select** what a reader needs: up to five user frames ending at the blamed one, then the
  library frames below it with the middle of a long library stack elided;
- **format** the :class:`StallReport` (headline, blocking line, traceback-style stack) and the
  strict-mode message, which names the threshold knob that applies where it is shown.
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
import inspect
import linecache
import os
import time
from types import FrameType
from typing import Any

__all__ = [
    "DEFAULT_THRESHOLD_KNOB",
    "HISTOGRAM_BOUNDS_MS",
    "RawFrame",
    "StallFrame",
    "StallReport",
    "StallSampler",
    "blame_chain",
    "blame_index",
    "context_of",
    "frame_kind",
    "histogram_bucket",
    "histogram_dict",
    "is_waiting",
    "route_of",
    "select_frames",
    "stall_route",
    "stalled_message",
    "walk_stack",
]

#: upper bounds (ms) of the lag histogram's buckets; one more bucket counts everything above
HISTOGRAM_BOUNDS_MS: tuple[float, ...] = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)

_MAX_USER_FRAMES = 5
_LIBRARY_HEAD, _LIBRARY_TAIL = 4, 8
_CO_COROUTINE_FLAGS = inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE

#: one frame as sampled: (filename, lineno, qualname)
RawFrame = tuple[str, int, str]

#: what the code on the loop is working for, set by the caller's side (the Flask extension sets
#: ``"GET /sites/<int:site_id> (endpoint show_site)"`` for each request) and carried into the
#: bridged coroutine with the rest of the caller's context; a stall report names it
stall_route: contextvars.ContextVar[str | None] = contextvars.ContextVar("loopbridge_stall_route", default=None)


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
        duration_ms: how long the loop ran nothing else: from the last time it ran before the
            stall to the first time after it (within half the watchdog's resolution).
        threshold_ms: the threshold in force.
        ongoing: ``True`` when the loop was still blocked as the report was made.
        blamed: the blocking frame (innermost user frame), or ``None`` if nothing was sampled.
        frames: outermost first: up to five user frames ending with ``blamed``, then the
            library frames below it (the middle of a long library stack is elided).
        elided: how many library frames were left out of ``frames``.
        task: name of the task that was running, when it could be identified safely.
        coroutine: qualified name of the outermost non-internal coroutine on the stack.
        samples / blamed_samples: stacks sampled, and how many of them show ``blamed``.
        started_at: wall-clock time (``time.time()``) the loop last ran before the stall.
        thread_name: the name of the thread that runs the loop.
        route: the request the blocked code was working for (``"GET /sites/<int:site_id>
            (endpoint show_site)"`` under the Flask extension), when one was known.
        runner_up / runner_up_samples: a second frame, not a caller of ``blamed``, seen in
            nearly as many samples (at least 3 in 4 of ``blamed``'s), when there is one: a
            CPU-bound stall spreads its samples over many lines.

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
    route: str | None = None
    runner_up: StallFrame | None = None
    runner_up_samples: int = 0
    #: the OpenTelemetry trace id of the request whose code blocked the loop, when a span was active
    trace_id: str | None = None

    def headline(self) -> str:
        """One line: how long, where, in which task."""
        where = f"at {self.blamed.location} in {self.blamed.function}" if self.blamed else "(no stack sampled)"
        state = "has been blocked for" if self.ongoing else "was blocked for"
        who = [f"task {self.task!r}"] if self.task else []
        who += [f"coroutine {self.coroutine}"] if self.coroutine else []
        who += [f"request {self.route}"] if self.route else []
        who += [f"trace {self.trace_id}"] if self.trace_id else []
        running = f" ({', '.join(who)})" if who else ""
        return (
            f"the event loop {state} {self.duration_ms:.0f} ms (threshold {self.threshold_ms:g} ms) "
            f"by synchronous code {where}{running}"
        )

    def stack_text(self) -> str:
        """The sampled stack, traceback style (most recent call last)."""
        also = ""
        if self.runner_up is not None:
            also = (
                f"; close behind, {self.runner_up.location} in {self.runner_up.function} in "
                f"{self.runner_up_samples} of {self.samples}"
            )
        lines = [
            (
                f"Stack of thread {self.thread_name!r} (most recent call last; the blocking frame was "
                f"seen in {self.blamed_samples} of {self.samples} samples{also}):"
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
_ROOT = os.path.dirname(_dir_of(__file__).rstrip(os.sep))
_OWN_DIRS = tuple(os.path.join(_ROOT, package) + os.sep for package in ("async_core", "bridge", "loopbridge"))
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


def walk_stack(frame: FrameType | None) -> tuple[list[RawFrame], FrameType | None, str | None]:
    """Innermost-first frames, the outermost coroutine frame, and the outermost non-internal
    coroutine's qualname. Reads only code objects and line numbers (cheap, no source IO)."""
    raw: list[RawFrame] = []
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


def is_waiting(raw: list[RawFrame]) -> bool:
    """Whether a sampled stack (innermost first) shows a stdlib loop waiting for IO in ``selectors``.

    A loop caught there past the threshold was not blocked by code: its thread got no CPU
    (another thread held the GIL, or the machine was overloaded). (uvloop waits in C, where a
    C function run as a callback, ``loop.call_soon(time.sleep, 1)``, looks the same: a stack of
    loop internals only is therefore not taken for waiting, only ranked below code.)
    """
    return bool(raw) and os.path.basename(raw[0][0]) == "selectors.py"


def _shows_no_code(raw: list[RawFrame]) -> bool:
    return is_waiting(raw) or all(frame_kind(filename) == "internal" for filename, _, _ in raw)


def route_of(outer_coroutine: FrameType | None) -> str | None:
    """The :data:`stall_route` of the context a bridged coroutine runs in, read from its frame.

    The task's outermost coroutine is the bridge's own driver (loop internals), which holds the
    caller's context as a local: read the value there (monitor thread, while the loop thread is
    stopped at the sampled point; the frame is the running one, never stale).
    """
    context = context_of(outer_coroutine)
    return context.get(stall_route) if context is not None else None


def context_of(outer_coroutine: FrameType | None) -> contextvars.Context | None:
    """The caller's context a bridged coroutine runs in (see :func:`route_of`), or ``None``."""
    if outer_coroutine is None or frame_kind(outer_coroutine.f_code.co_filename) != "internal":
        return None
    for value in outer_coroutine.f_locals.values():
        if isinstance(value, contextvars.Context):
            return value
    return None


def blame_index(raw: list[RawFrame]) -> int | None:
    """Index (innermost-first) of the blamed frame: innermost user, else library, else any."""
    for wanted in ("user", "library"):
        for index, (filename, _, _) in enumerate(raw):
            if frame_kind(filename) == wanted:
                return index
    return 0 if raw else None


#: frames a sample's blame skips: the interpreter's own (frozen importlib, exec'd strings) ...
_INTERPRETER_PREFIXES = ("<frozen ", "<string>")
#: ... and code the garbage collector runs wherever it happens to strike (finalizers, weakref
#: callbacks): they say where a collection ran, not what held the loop
_COLLECTOR_FUNCTIONS = ("__del__",)
_WEAKREF_FILE = os.path.join(_STDLIB_DIR, "weakref.py")


def _collector_cut(raw: list[RawFrame]) -> int:
    """How many innermost frames of a sample a garbage collection put there (0 if none)."""
    cut = 0
    for index, (filename, _, function) in enumerate(raw):
        if function.rsplit(".", 1)[-1] in _COLLECTOR_FUNCTIONS or filename == _WEAKREF_FILE:
            cut = index + 1
    return cut if cut < len(raw) else 0


def blame_chain(raw: list[RawFrame]) -> list[int]:
    """Indices (innermost first) of the frames of one sample that can take the blame.

    The user frames below any garbage-collector frames, else the library frames, never the
    interpreter's own; a stack of loop internals only blames its innermost frame.
    """
    cut = _collector_cut(raw)
    for wanted in ("user", "library"):
        chain = [
            index
            for index in range(cut, len(raw))
            if frame_kind(raw[index][0]) == wanted and not raw[index][0].startswith(_INTERPRETER_PREFIXES)
        ]
        if chain:
            return chain
    index = blame_index(raw[cut:])
    return [] if index is None else [index + cut]


def to_frame(raw: RawFrame) -> StallFrame:
    filename, lineno, function = raw
    return StallFrame(filename, lineno, function, linecache.getline(filename, lineno).strip(), frame_kind(filename))


def select_frames(raw: list[RawFrame], blamed: int) -> tuple[tuple[StallFrame, ...], int, int]:
    """Outermost first: a few user frames up to the blamed one, then the library frames below.

    Returns the frames, the position of the blamed frame among them, and how many library
    frames were left out of the middle of a long library stack.
    """
    users = [r for r in raw[blamed + 1:] if frame_kind(r[0]) == "user"][: _MAX_USER_FRAMES - 1]
    below = [
        r
        for r in raw[_collector_cut(raw):blamed]
        if frame_kind(r[0]) != "internal" and not r[0].startswith(_INTERPRETER_PREFIXES)
    ]
    below.reverse()  # outermost first
    elided = 0
    if len(below) > _LIBRARY_HEAD + _LIBRARY_TAIL:
        elided = len(below) - _LIBRARY_HEAD - _LIBRARY_TAIL
        below = below[:_LIBRARY_HEAD] + below[-_LIBRARY_TAIL:]
    chosen = [*reversed(users), raw[blamed], *below]
    return tuple(to_frame(r) for r in chosen), len(users), elided


class StallSampler:
    """Accumulates the stack samples of one (possible) stall and builds its report.

    ``start`` is the monotonic time the loop last ran before it went quiet; samples taken
    before the stall is proven (past the threshold) are kept, so a stall just over the
    threshold still has a stack. Each sample counts once for every frame of its
    :func:`blame_chain` (inclusive counts). Used by the monitor thread only.
    """

    def __init__(self, start: float, threshold_ms: float, thread_name: str) -> None:
        self.start = start
        self.threshold_ms = threshold_ms
        self.thread_name = thread_name
        self.samples = 0
        #: inclusive counts of samples that show code running, and of those that show none
        self.counts: collections.Counter[RawFrame] = collections.Counter()
        self.idle_counts: collections.Counter[RawFrame] = collections.Counter()
        self.depth: dict[RawFrame, int] = {}
        self.latest: dict[RawFrame, tuple[list[RawFrame], int, str | None, str | None, str | None, str | None]] = {}
        #: samples that show no code running (the loop waiting, or loop internals only), and
        #: those of a stdlib loop waiting for IO (see :func:`is_waiting`)
        self.idle = self.waiting = 0
        self.confirmed = False
        self.reported = False

    @property
    def all_waiting(self) -> bool:
        """Every sample shows the loop waiting for IO: its thread got no CPU, no code blocked it."""
        return self.samples > 0 and self.waiting == self.samples

    def add(self, raw: list[RawFrame], task: str | None, coroutine: str | None, route: str | None = None,
            trace_id: str | None = None) -> None:
        """Count one sampled stack under every frame of its blame chain."""
        self.samples += 1
        chain = blame_chain(raw)
        if not chain:
            return
        counts = self.counts
        if _shows_no_code(raw):
            self.idle += 1
            self.waiting += is_waiting(raw)
            counts = self.idle_counts
        for index in chain:
            key = raw[index]
            if key in self.latest and self.latest[key][0] is raw:
                continue  # a recursive frame counts once per sample
            counts[key] += 1
            self.depth[key] = max(self.depth.get(key, 0), len(raw) - index)
            self.latest[key] = (raw, index, task, coroutine, route, trace_id)

    def _ranked(self) -> tuple[list[tuple[RawFrame, int]], int]:
        """Frames by samples containing them, then deepest first; and the samples they rank."""
        counts, samples = (self.counts, self.samples - self.idle) if self.counts else (self.idle_counts, self.samples)
        order = sorted(counts.items(), key=lambda item: (-item[1], -self.depth[item[0]]))
        return order, samples

    def report(self, duration_ms: float, *, ongoing: bool) -> StallReport:
        """The stall so far, blamed on the frame the most samples contain (see module doc).

        A stack of the loop waiting for IO (sampled as the stall ended) loses to any that
        shows code running.
        """
        started = time.time() - (time.monotonic() - self.start)
        blamed: StallFrame | None = None
        runner_up: StallFrame | None = None
        frames: tuple[StallFrame, ...] = ()
        elided, task, coroutine, route, trace_id, hits, second, samples = 0, None, None, None, None, 0, 0, self.samples
        ranked, ranked_samples = self._ranked()
        if ranked:
            key, hits = ranked[0]
            samples = ranked_samples
            raw, index, task, coroutine, route, trace_id = self.latest[key]
            frames, position, elided = select_frames(raw, index)
            blamed = frames[position]
            callers = set(raw[index + 1:])  # its callers contain it: never a second opinion
            other = next(((k, n) for k, n in ranked[1:] if k not in callers), None)
            if other is not None and other[1] * 4 >= hits * 3:
                runner_up, second = to_frame(other[0]), other[1]
        return StallReport(
            duration_ms=duration_ms, threshold_ms=self.threshold_ms, ongoing=ongoing, blamed=blamed,
            frames=frames, elided=elided, task=task, coroutine=coroutine, samples=samples,
            blamed_samples=hits, started_at=started, thread_name=self.thread_name, route=route,
            runner_up=runner_up, runner_up_samples=second, trace_id=trace_id,
        )


# -- lag histogram and the strict-mode message -------------------------------------------------
def histogram_bucket(lag_ms: float) -> int:
    """Index of the histogram bucket that counts ``lag_ms``."""
    for index, bound in enumerate(HISTOGRAM_BOUNDS_MS):
        if lag_ms <= bound:
            return index
    return len(HISTOGRAM_BOUNDS_MS)


def histogram_dict(counts: list[int]) -> dict[str, int]:
    """The histogram counts under readable labels, in numeric order."""
    labels = [f"<={bound:g}ms" for bound in HISTOGRAM_BOUNDS_MS] + [f">{HISTOGRAM_BOUNDS_MS[-1]:g}ms"]
    return dict(zip(labels, counts, strict=True))


#: the knob named by a stall message outside pytest (inside, the plugin names its own)
DEFAULT_THRESHOLD_KNOB = "LOOPBRIDGE_WATCHDOG_MS"


def stalled_message(report: StallReport, threshold_knob: str = DEFAULT_THRESHOLD_KNOB) -> str:
    """The message of :class:`~async_core.LoopStalled`: what blocked, where, and the fixes."""
    where = "an unknown place (no stack could be sampled)"
    if report.blamed is not None:
        where = f"{report.blamed.location} in {report.blamed.function}"
        if report.blamed.line:
            where += f": `{report.blamed.line}`"
    return (
        f"the event loop has been blocked for {report.duration_ms:.0f} ms (threshold "
        f"{report.threshold_ms:g} ms) by synchronous code at {where}. Strict mode fails every bridged "
        "call waiting on the loop. Move that call off the loop (await an async API, or wrap it with "
        f"bridge.to_async / asyncio.to_thread), or raise the threshold ({threshold_knob})."
    )
