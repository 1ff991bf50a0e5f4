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

In strict mode the process's default loop (the one ``bridge.run``, ``to_sync`` and the Flask
extension use) runs with the watchdog at the test threshold and ``strict=True`` while the test
function runs. A stall then fails the test twice over: the bridged call that was waiting raises
:class:`~async_core.LoopStalled` naming the blocking line, and, should the test swallow that
error (or no call was waiting), the test is failed afterwards with the watchdog's report.

Fixtures: ``loop_thread`` (the default loop, stopped before and after the test so each test
gets a fresh loop and no resources leak between tests) and ``bridge_run`` (``bridge.run`` on it).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import weakref
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

if TYPE_CHECKING:
    from async_core import LoopConfig, LoopThread
    from async_core._watchdog import StallReport, Watchdog

__all__ = ["NOSTRICT_MARKER", "STRICT_MARKER", "bridge_run", "loop_thread"]

logger = logging.getLogger(__name__)

STRICT_MARKER = "loopbridge_strict"
NOSTRICT_MARKER = "loopbridge_nostrict"
#: threshold when neither the marker nor the ini option names one and the loop's is 0 (off)
_FALLBACK_THRESHOLD_MS = 500.0
#: how long the end of a strict test waits for a still-blocked loop to answer
_SETTLE_TIMEOUT_S = 10.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


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
_STALLS = pytest.StashKey["list[StallReport]"]()


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
class _StrictWatch:
    """Watches the default loop while one test function runs and collects its stall reports."""

    active: ClassVar[_StrictWatch | None] = None
    _hooked: ClassVar[weakref.WeakSet[LoopThread]] = weakref.WeakSet()

    def __init__(self, threshold_ms: float | None) -> None:
        from async_core import default_loop

        self.lt = default_loop()
        self.old: LoopConfig = self.lt.config
        self.threshold_ms = threshold_ms or (self.old.watchdog_ms if self.old.watchdog_ms > 0 else _FALLBACK_THRESHOLD_MS)
        self.reports: list[StallReport] = []
        self.watchdogs: list[Watchdog] = []
        self._lock = threading.Lock()

    def begin(self) -> None:
        """Put the default loop in strict mode at the test threshold and start collecting."""
        from async_core import LoopState

        if self.lt not in self._hooked:  # once per LoopThread: on_start hooks cannot be removed
            self.lt.on_start(_on_loop_start)
            self._hooked.add(self.lt)
        self.lt.configure(self.old.replace(strict=True, watchdog_ms=self.threshold_ms))
        _StrictWatch.active = self
        if self.lt.state is LoopState.RUNNING:
            self.attach(self.lt)

    def attach(self, lt: LoopThread) -> None:
        """Collect the reports of ``lt``'s watchdog (attached now if the loop has none)."""
        from async_core._watchdog import attach_watchdog

        watchdog = attach_watchdog(lt)
        with self._lock:
            if watchdog not in self.watchdogs:
                watchdog.add_callback(self.collect)
                self.watchdogs.append(watchdog)

    def collect(self, report: StallReport) -> None:
        """Watchdog callback (monitor thread): keep the report for this test."""
        with self._lock:
            self.reports.append(report)

    def end(self) -> list[StallReport]:
        """Let a stall that is ending be reported, then restore the loop's settings."""
        try:
            self._settle()
        finally:
            _StrictWatch.active = None
            for watchdog in self.watchdogs:
                try:
                    watchdog.remove_callback(self.collect)
                except ValueError:
                    pass
            current = self.lt.config
            self.lt.configure(current.replace(strict=self.old.strict, watchdog_ms=self.old.watchdog_ms))
        with self._lock:
            return list(self.reports)

    def _settle(self) -> None:
        from async_core import LoopState

        if self.lt.state is not LoopState.RUNNING:
            return
        try:  # one round trip: whatever blocked the loop during the test has finished
            self.lt.submit(_noop()).result(timeout=_SETTLE_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a timeout or a dead loop: say so, fail nothing here
            logger.warning("loopbridge: the loop did not answer within %ss after the test: %r", _SETTLE_TIMEOUT_S, exc)
        for watchdog in list(self.watchdogs):
            watchdog.sync(timeout=2.0)


async def _noop() -> None:
    return None


def _on_loop_start(lt: LoopThread) -> None:
    watch = _StrictWatch.active
    if watch is not None and watch.lt is lt:
        watch.attach(lt)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """In strict mode, watch the loop while the test function runs."""
    plan = item.stash.get(_PLAN, None)
    if plan is None or not plan.strict:
        return (yield)
    watch = _StrictWatch(plan.watchdog_ms)
    watch.begin()
    try:
        return (yield)
    finally:
        item.stash[_STALLS] = watch.end()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fail a strict test the loop stalled in, with the watchdog's report as the reason."""
    report = yield
    stalls = item.stash.get(_STALLS, None) if call.when == "call" else None
    if not stalls:
        return report
    text = "\n\n".join(stall.format() for stall in stalls)
    report.sections.append(("loopbridge stalls", text))
    if report.passed:
        report.outcome = "failed"
        report.longrepr = (
            f"the loopbridge event loop stalled during this test (strict mode){_times(len(stalls))}:\n\n{text}\n\n"
            "Move the blocking call off the loop (await an async API, or wrap it with bridge.to_async), "
            f"raise loopbridge_watchdog_ms, or mark the test @pytest.mark.{NOSTRICT_MARKER}."
        )
    return report


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
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
def bridge_run(loop_thread: LoopThread) -> Callable[..., Any]:
    """``bridge.run`` on a fresh loop: ``bridge_run(fetch(url), timeout=5)``."""
    from bridge import run

    return run


def _times(count: int) -> str:
    return "" if count == 1 else f", {count} times"
