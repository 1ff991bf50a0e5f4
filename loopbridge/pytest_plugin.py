"""The loopbridge pytest plugin: loop fixtures, and a strict mode that fails blocking tests.

Registered through the ``pytest11`` entry point, so it loads wherever loopbridge is installed,
and it stays inert until a test run opts in. Nothing of the runtime is imported before then.

Opting in (any of)::

    pytest --loopbridge-strict                      # the whole run

    [tool.pytest.ini_options]                       # the project
    loopbridge_strict = true
    loopbridge_watchdog_ms = 100                    # stall threshold in tests (ms)

    @pytest.mark.loopbridge_strict                  # one test, class or module (pytestmark)
    @pytest.mark.loopbridge_strict(watchdog_ms=50)  # ... with its own threshold
    @pytest.mark.loopbridge_nostrict                # opt one test out of a strict run

The marker closest to the test wins (a ``loopbridge_nostrict`` test inside a
``loopbridge_strict`` module is not checked); both on the same test is a usage error.

A strict test is watched from the start of its setup to the end of its teardown
(``loopbridge._pytest_strict``): the process's default loop (the one ``bridge.run``,
``to_sync`` and the Flask extension use) runs with the watchdog at the test threshold and
``strict=True``, and every other asyncio loop that runs meanwhile (pytest-asyncio's, anyio's,
an ``asyncio.run``) is watched too. A stall fails the phase it happened in, with the watchdog's
report; on the default loop the bridged call that was waiting also raises
:class:`~async_core.LoopStalled` at once. A coroutine the test created and never awaited fails
it too, naming the line that created it (or the run, when it is found after the test ended).

Fixtures: ``loopbridge_loop_thread`` (the default loop, stopped before and after the test so
each test gets a fresh loop and no resources leak between tests) and ``loopbridge_bridge_run``
(``bridge.run`` on it). The old names ``loop_thread`` and ``bridge_run`` still work for one
release, with a :class:`LoopbridgeDeprecationWarning`.
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
import math
import warnings
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from async_core import LoopThread, StallReport

    from ._pytest_strict import StrictWindow, UnawaitedTracker

__all__ = [
    "NOSTRICT_MARKER",
    "STRICT_MARKER",
    "THRESHOLD_KNOB",
    "LoopbridgeDeprecationWarning",
    "bridge_run",
    "loop_thread",
    "loopbridge_bridge_run",
    "loopbridge_loop_thread",
]

STRICT_MARKER = "loopbridge_strict"
NOSTRICT_MARKER = "loopbridge_nostrict"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class LoopbridgeDeprecationWarning(DeprecationWarning):
    """A name or behaviour of the loopbridge pytest plugin that goes away in the next release."""


@dataclasses.dataclass(frozen=True)
class _Settings:
    """The run-wide choices, read and validated once at configure time."""

    strict: bool
    watchdog_ms: float | None


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What the plugin does for one test."""

    strict: bool
    watchdog_ms: float | None


_SETTINGS = pytest.StashKey[_Settings]()
_PLAN = pytest.StashKey[_Plan]()


# -- options, ini and markers ----------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--loopbridge-strict`` and the ini options."""
    group = parser.getgroup("loopbridge", "loopbridge: catch a blocked event loop")
    group.addoption(
        "--loopbridge-strict",
        action="store_true",
        default=False,
        dest="loopbridge_strict",
        help="fail every test during which the loopbridge event loop stalls past the threshold.",
    )
    parser.addini("loopbridge_strict", "true/false: run every test in loopbridge strict mode.", default="false")
    parser.addini(
        "loopbridge_watchdog_ms",
        "stall threshold in milliseconds for loopbridge strict tests (default: the loop's own, else 500).",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the markers and validate the run-wide settings (bad values are usage errors)."""
    config.addinivalue_line(
        "markers",
        f"{STRICT_MARKER}(watchdog_ms=None): fail the test if the loopbridge event loop stalls "
        "while it runs; optionally with its own threshold in ms.",
    )
    config.addinivalue_line(
        "markers", f"{NOSTRICT_MARKER}: never check this test for loopbridge loop stalls (opt out of strict mode)."
    )
    config.stash[_SETTINGS] = _Settings(
        strict=bool(config.getoption("loopbridge_strict")) or _ini_bool(config, "loopbridge_strict"),
        watchdog_ms=_ini_threshold(config),
    )


def _ini_bool(config: pytest.Config, name: str) -> bool:
    raw = config.getini(name)
    value = str(raw).strip().lower() if not isinstance(raw, bool) else ("true" if raw else "false")
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise pytest.UsageError(f"ini option {name} = {raw!r} is not understood; write {name} = true or {name} = false.")


def _ini_threshold(config: pytest.Config) -> float | None:
    raw = str(config.getini("loopbridge_watchdog_ms")).strip()
    if not raw:
        return None
    try:
        return _check_threshold(float(raw))
    except ValueError:
        raise pytest.UsageError(
            f"ini option loopbridge_watchdog_ms = {raw!r} is not a threshold; give a number of "
            "milliseconds > 0, e.g. loopbridge_watchdog_ms = 100."
        ) from None


def _check_threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"not a number of milliseconds > 0: {value!r}")
    return float(value)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Decide, per test, whether it runs strict (markers are validated here, before any test)."""
    settings = config.stash[_SETTINGS]
    for item in items:
        item.stash[_PLAN] = _plan_for(item, settings)


def _plan_for(item: pytest.Item, settings: _Settings) -> _Plan:
    found: list[tuple[pytest.Mark, Any]] = [
        (mark, node) for node, mark in item.iter_markers_with_node() if mark.name in (STRICT_MARKER, NOSTRICT_MARKER)
    ]
    if not found:
        return _Plan(settings.strict, settings.watchdog_ms)
    closest, node = found[0]
    same_level = {mark.name for mark, other in found if other is node}
    if len(same_level) == 2:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.{STRICT_MARKER} and @pytest.mark.{NOSTRICT_MARKER} are both set on "
            f"{node.nodeid or 'the same node'}; keep one."
        )
    if closest.name == NOSTRICT_MARKER:
        if closest.args or closest.kwargs:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{NOSTRICT_MARKER} takes no arguments.")
        return _Plan(False, None)
    return _Plan(True, _marker_threshold(item, closest) or settings.watchdog_ms)


def _marker_threshold(item: pytest.Item, mark: pytest.Mark) -> float | None:
    if mark.args or set(mark.kwargs) - {"watchdog_ms"}:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.{STRICT_MARKER} takes only watchdog_ms=<milliseconds>, got "
            f"args={mark.args!r} kwargs={mark.kwargs!r}; to opt a test out use @pytest.mark.{NOSTRICT_MARKER}."
        )
    raw = mark.kwargs.get("watchdog_ms")
    if raw is None:
        return None
    try:
        return _check_threshold(raw)
    except ValueError:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.{STRICT_MARKER}(watchdog_ms={raw!r}) needs a number of milliseconds > 0."
        ) from None


# -- strict mode ------------------------------------------------------------------------------
#: what a strict-mode message names as the way to raise the threshold inside pytest
THRESHOLD_KNOB = f"the ini option loopbridge_watchdog_ms, or @pytest.mark.{STRICT_MARKER}(watchdog_ms=...)"
_PHASES = ("setup", "call", "teardown")


class _ItemWatch:
    """One strict test's window and the stall reports of each of its phases."""

    def __init__(self, window: StrictWindow) -> None:
        self.window = window
        self.seen = 0
        self.stalls: dict[str, list[StallReport]] = {}

    def close_phase(self, when: str, reports: list[StallReport]) -> None:
        self.stalls[when] = reports[self.seen:]
        self.seen = len(reports)


_WATCH = pytest.StashKey[_ItemWatch]()
_TRACKER = pytest.StashKey["UnawaitedTracker"]()


def _tracker(config: pytest.Config) -> UnawaitedTracker:
    tracker = config.stash.get(_TRACKER, None)
    if tracker is None:
        from ._pytest_strict import UnawaitedTracker

        tracker = config.stash[_TRACKER] = UnawaitedTracker()
    return tracker


def _test_functions(item: pytest.Item) -> list[Any]:
    function = getattr(item, "function", None)
    return [inspect.unwrap(function)] if callable(function) else []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """In strict mode, open the test's window: every loop is watched from here to teardown."""
    plan = item.stash.get(_PLAN, None)
    if plan is None or not plan.strict:
        return (yield)
    from ._pytest_strict import StrictWindow

    tracker = _tracker(item.config)
    watch = item.stash[_WATCH] = _ItemWatch(StrictWindow(plan.watchdog_ms, THRESHOLD_KNOB, tracker))
    tracker.begin(item.nodeid, _test_functions(item))
    watch.window.begin()
    try:
        return (yield)
    finally:
        watch.close_phase("setup", watch.window.settle())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """In strict mode, collect the stalls of the test function itself."""
    watch = item.stash.get(_WATCH, None)
    try:
        return (yield)
    finally:
        if watch is not None:
            watch.close_phase("call", watch.window.settle())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """In strict mode, close the window after the last fixture is torn down."""
    watch = item.stash.get(_WATCH, None)
    try:
        return (yield)
    finally:
        if watch is not None:
            try:
                watch.close_phase("teardown", watch.window.end())
            finally:
                _tracker(item.config).end()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fail a strict phase the loop stalled in, or that lost a coroutine, saying where."""
    report = yield
    watch = item.stash.get(_WATCH, None)
    if watch is None or call.when not in _PHASES:
        return report
    stalls = watch.stalls.get(call.when, [])
    lost = _tracker(item.config).take(item.nodeid)
    problems: list[str] = []
    if stalls:
        text = "\n\n".join(stall.format() for stall in stalls)
        report.sections.append(("loopbridge stalls", text))
        problems.append(
            f"the event loop stalled during this test's {call.when} (loopbridge strict mode){_times(len(stalls))}:\n\n"
            f"{text}\n\nMove the blocking call off the loop (await an async API, or wrap it with "
            f"bridge.to_async / asyncio.to_thread), raise {THRESHOLD_KNOB}, or mark the test "
            f"@pytest.mark.{NOSTRICT_MARKER}."
        )
    if lost:
        text = "\n\n".join(coroutine.format() for coroutine in lost)
        report.sections.append(("loopbridge coroutines never awaited", text))
        problems.append(
            f"this test created {_count(len(lost), 'coroutine')} that never ran (loopbridge strict mode):\n\n"
            f"{text}\n\nAwait it, hand it to asyncio.create_task / bridge.run, or close() it."
        )
    if problems and report.passed:
        report.outcome = "failed"
        report.longrepr = "\n\n".join(problems)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Collect what is left, and fail the run for coroutines lost after their test ended."""
    tracker = session.config.stash.get(_TRACKER, None)
    if tracker is None:
        return
    gc.collect()
    if any(tracker.found.values()):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """List the coroutines found never awaited after their test had ended."""
    tracker = config.stash.get(_TRACKER, None)
    if tracker is None or not any(tracker.found.values()):
        return
    terminalreporter.section("loopbridge: coroutines never awaited, found after their test ended", red=True)
    for owner, lost in sorted(tracker.found.items()):
        for coroutine in lost:
            terminalreporter.write_line(f"{owner or '(no strict test)'}: {coroutine.format()}")
    terminalreporter.write_line("the run fails for them (loopbridge strict mode): await each, or close() it.")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Give ``warnings`` its own unawaited-coroutine function back."""
    tracker = config.stash.get(_TRACKER, None)
    if tracker is not None:
        tracker.uninstall()


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture
def loopbridge_loop_thread() -> Iterator[LoopThread]:
    """The process's default loop thread, freshly started for this test and stopped after it.

    It is the loop ``bridge.run`` uses, so code under test needs no changes. Resources of
    earlier tests (HTTP sessions, the watchdog's counters) are gone, and configuration
    changes the test makes are undone afterwards.
    """
    from async_core import default_loop

    lt = default_loop()
    config = lt.config
    lt.stop()
    lt.start()
    try:
        yield lt
    finally:
        lt.stop()
        lt.configure(config)


@pytest.fixture
def loopbridge_bridge_run(loopbridge_loop_thread: LoopThread) -> Callable[..., Any]:
    """``bridge.run`` on a fresh loop: ``loopbridge_bridge_run(fetch(url), timeout=5)``."""
    from bridge import run

    return run


def _renamed(old: str, new: str) -> None:
    warnings.warn(
        f"the fixture {old!r} is renamed {new!r} (plugin fixtures carry the plugin's prefix); "
        f"the old name goes away in the next release: rename it in your tests.",
        LoopbridgeDeprecationWarning,
        stacklevel=2,
    )


@pytest.fixture
def loop_thread(loopbridge_loop_thread: LoopThread) -> LoopThread:
    """Deprecated name of :func:`loopbridge_loop_thread` (removed in the next release)."""
    _renamed("loop_thread", "loopbridge_loop_thread")
    return loopbridge_loop_thread


@pytest.fixture
def bridge_run(loopbridge_bridge_run: Callable[..., Any]) -> Callable[..., Any]:
    """Deprecated name of :func:`loopbridge_bridge_run` (removed in the next release)."""
    _renamed("bridge_run", "loopbridge_bridge_run")
    return loopbridge_bridge_run


def _times(count: int) -> str:
    return "" if count == 1 else f", {count} times"


def _count(count: int, noun: str) -> str:
    return f"a {noun}" if count == 1 else f"{count} {noun}s"
