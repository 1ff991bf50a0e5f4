"""Strict mode, counters, callbacks and the watchdog's lifecycle, on the real loop thread."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import bridge
from async_core import LoopConfig, LoopStalled, LoopThread
from async_core._watchdog import (
    HISTOGRAM_BOUNDS_MS,
    StallFrame,
    StallReport,
    Watchdog,
    attach_watchdog,
    detach_watchdog,
    frame_kind,
)

from .conftest import THRESHOLD_MS, Watched, line_of
from .test_stall_reports import sleepy

pytestmark = pytest.mark.loopbridge_nostrict


def wait_until(predicate: object, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


# -- strict mode ------------------------------------------------------------------------------
async def long_sleepy() -> str:
    await asyncio.sleep(0)
    time.sleep(1.5)  # BLOCK: long sleep, deliberately  # noqa
    return "done"


def test_strict_mode_makes_the_waiting_run_raise_loop_stalled_naming_the_frame(watched: Watched) -> None:
    watched.lt.configure(watched.lt.config.replace(strict=True))
    line = line_of(long_sleepy, "BLOCK: long sleep")
    started = time.monotonic()
    with pytest.raises(LoopStalled) as info:
        bridge.run(long_sleepy())
    # the loop is blocked for 1.5 s: failing well before that proves the caller was woken
    # while the block was still going on, with a wide margin for a busy machine
    assert time.monotonic() - started < 1.2, "strict mode must fail the caller while the loop is still blocked"
    message = str(info.value)
    assert f"{long_sleepy.__code__.co_filename}:{line}" in message
    assert "time.sleep(1.5)" in message
    assert "LOOPBRIDGE_WATCHDOG_MS" in message
    report = info.value.report
    assert isinstance(report, StallReport) and report.ongoing
    assert report.blamed is not None and report.blamed.lineno == line
    assert len(watched.settle()) == 1  # the full report still goes out, once


def test_strict_mode_wakes_every_waiting_caller(watched: Watched) -> None:
    watched.lt.configure(watched.lt.config.replace(strict=True))
    errors: list[BaseException] = []

    def bystander() -> None:
        try:
            bridge.run(asyncio.sleep(1.0))
        except Exception as exc:  # noqa: BLE001 - the test inspects whatever was raised
            errors.append(exc)

    thread = threading.Thread(target=bystander)
    thread.start()
    time.sleep(0.05)
    with pytest.raises(LoopStalled):
        bridge.run(sleepy())
    thread.join(5)
    assert len(errors) == 1 and isinstance(errors[0], LoopStalled)
    assert errors[0] is not None


def test_no_loop_stalled_when_strict_is_off(watched: Watched) -> None:
    assert bridge.run(sleepy()) == "done"


# -- counters, histogram, callbacks, log --------------------------------------------------------
def test_counters_and_histogram_record_the_stall(watched: Watched) -> None:
    bridge.run(sleepy())
    watched.settle()
    stats = watched.watchdog.stats()
    assert stats["stalls"] == 1
    assert stats["worst_lag_ms"] >= 150
    assert stats["threshold_ms"] == THRESHOLD_MS
    histogram = stats["lag_histogram"]
    assert next(iter(histogram)) == "<=1ms" and list(histogram)[-1] == f">{HISTOGRAM_BOUNDS_MS[-1]:g}ms"
    assert sum(histogram.values()) == stats["heartbeats"]
    assert histogram["<=500ms"] + histogram["<=250ms"] >= 1
    assert stats["last_stall"]["location"].endswith(f"test_stall_reports.py:{line_of(sleepy, 'BLOCK: sleep')}")
    assert "time.sleep(0.3)" in stats["last_stall_stack"]
    assert wait_until(lambda: watched.watchdog.stats()["recent_lag_ms"] < THRESHOLD_MS)


def test_callbacks_are_called_once_per_stall_and_can_be_removed(watched: Watched) -> None:
    seen: list[StallReport] = []
    watched.watchdog.add_callback(seen.append)
    bridge.run(sleepy())
    watched.settle()
    assert len(seen) == 1
    watched.watchdog.remove_callback(seen.append)
    bridge.run(sleepy())
    assert len(watched.settle()) == 2
    assert len(seen) == 1
    with pytest.raises(ValueError, match="add_callback"):
        watched.watchdog.remove_callback(seen.append)
    with pytest.raises(TypeError):
        watched.watchdog.add_callback("not callable")  # type: ignore[arg-type]


def test_a_failing_callback_is_logged_and_the_others_still_run(watched: Watched, caplog: pytest.LogCaptureFixture) -> None:
    def broken(report: StallReport) -> None:
        raise RuntimeError("callback bug")

    watched.watchdog.add_callback(broken)
    watched.watchdog.add_callback(lambda report: None)
    with caplog.at_level(logging.WARNING, logger="async_core.watchdog"):
        bridge.run(sleepy())
        reports = watched.settle()
    assert len(reports) == 1
    assert any("callback" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "BLOCK: sleep" in warnings[0].getMessage()
    assert warnings[0].loopbridge_stall is reports[0]  # type: ignore[attr-defined]


def test_a_stall_longer_than_report_after_is_reported_while_it_lasts(watched: Watched) -> None:
    detach_watchdog(watched.lt)
    watchdog = attach_watchdog(watched.lt, threshold_ms=50, report_after_ms=150)
    seen: list[StallReport] = []
    watchdog.add_callback(seen.append)
    bridge.run(sleepy())
    assert watchdog.sync(3.0)
    assert len(seen) == 1 and seen[0].ongoing
    assert seen[0].duration_ms < 300
    assert watchdog.stats()["stalls"] == 1


# -- the report value object and frame sorting ------------------------------------------------
def test_stall_report_is_frozen_and_formats_readably() -> None:
    frame = StallFrame("/app/views.py", 12, "index", "time.sleep(1)", "user")
    report = StallReport(
        duration_ms=812.4, threshold_ms=500, ongoing=False, blamed=frame, frames=(frame,), elided=0,
        task="Task-3", coroutine="index", samples=4, blamed_samples=4, started_at=0.0, thread_name="loopbridge-loop",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.duration_ms = 1.0  # type: ignore[misc]
    text = report.format()
    assert text.splitlines()[0] == (
        "loopbridge: the event loop was blocked for 812 ms (threshold 500 ms) by synchronous code at "
        "/app/views.py:12 in index (task 'Task-3', coroutine index)"
    )
    assert "    time.sleep(1)" in text
    assert report.as_dict()["location"] == "/app/views.py:12"


def test_frames_are_sorted_into_user_library_and_internal() -> None:
    import asyncio.events

    import requests.api

    import bridge._calls

    assert frame_kind(__file__) == "user"
    assert frame_kind(asyncio.events.__file__) == "internal"
    assert frame_kind(threading.__file__) == "internal"
    assert frame_kind(bridge._calls.__file__) == "internal"
    assert frame_kind(requests.api.__file__) == "library"
    assert frame_kind(os.__file__) == "library"
    assert frame_kind("<frozen importlib._bootstrap>") == "library"


# -- lifecycle ---------------------------------------------------------------------------------
def test_the_loop_attaches_a_named_daemon_watchdog_and_stops_it_with_the_loop() -> None:
    lt = LoopThread(LoopConfig(watchdog_ms=200, thread_name="lb-test-loop"))
    lt.start()
    try:
        watchdog = lt.watchdog
        assert isinstance(watchdog, Watchdog) and watchdog.running
        assert attach_watchdog(lt) is watchdog
        names = {t.name: t for t in threading.enumerate()}
        assert names["lb-test-loop-watchdog"].daemon
    finally:
        lt.stop()
    assert not watchdog.running
    assert "lb-test-loop-watchdog" not in {t.name for t in threading.enumerate()}


def test_watchdog_ms_zero_means_no_watchdog_and_runtime_zero_pauses_it() -> None:
    lt = LoopThread(LoopConfig(watchdog_ms=0, thread_name="lb-test-off"))
    lt.start()
    try:
        assert lt.watchdog is None
    finally:
        lt.stop()
    lt = LoopThread(LoopConfig(watchdog_ms=100, thread_name="lb-test-pause"))
    lt.start()
    try:
        watchdog = lt.watchdog
        lt.configure(lt.config.replace(watchdog_ms=0))
        assert watchdog.threshold_ms == 0
        lt.submit(asyncio.to_thread(time.sleep, 0)).result(5)  # the loop still works
        assert watchdog.running
    finally:
        lt.stop()


def test_the_watchdog_stops_by_itself_when_the_loop_dies() -> None:
    lt = LoopThread(LoopConfig(watchdog_ms=100, thread_name="lb-test-dies"))
    loop = lt.start()
    watchdog = lt.watchdog
    loop.call_soon_threadsafe(loop.stop)  # the loop thread exits without stop(): it is dead
    assert wait_until(lambda: lt.state.value == "dead")
    assert wait_until(lambda: not watchdog.running)
    lt.stop()


def test_bad_watchdog_arguments_are_refused() -> None:
    lt = LoopThread(LoopConfig(watchdog_ms=0, thread_name="lb-test-args"))
    try:
        with pytest.raises(ValueError, match="threshold_ms"):
            Watchdog(lt, threshold_ms=-1)
        with pytest.raises(TypeError, match="strict"):
            Watchdog(lt, strict="yes")  # type: ignore[arg-type]
    finally:
        lt.stop()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_watchdog() -> None:
    script = textwrap.dedent(
        """
        import os, sys, time
        import bridge
        from async_core import configure_default, default_loop
        configure_default(watchdog_ms=100)
        bridge.run(bridge.to_async(time.sleep, thread_sensitive=False)(0))
        parent_wd = default_loop().watchdog
        pid = os.fork()
        if pid == 0:
            assert not parent_wd.running
            assert bridge.run(bridge.to_async(time.sleep, thread_sensitive=False)(0)) is None
            child_wd = default_loop().watchdog
            assert child_wd is not parent_wd and child_wd.running
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert parent_wd.running
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


_MANY_LOOPS = textwrap.dedent("""
    import logging, sys, threading, time
    import async_core._watchdog
    from async_core import LoopConfig, LoopThread

    collisions = []

    class Catch(logging.Handler):
        def emit(self, record):
            text = record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
            if "already entered" in text:
                collisions.append(text)

    logging.getLogger().addHandler(Catch())
    loops = [LoopThread(LoopConfig(watchdog_ms=20, thread_name=f"many-{i}", use_uvloop=sys.argv[1] == "uvloop"))
             for i in range(12)]
    for lt in loops:
        lt.start()
    stop = threading.Event()

    def spin():  # GIL pressure: ticks get preempted half-way, as under a busy server
        while not stop.is_set():
            sum(range(1000))

    spinners = [threading.Thread(target=spin) for _ in range(4)]
    for t in spinners:
        t.start()
    sys.setswitchinterval(0.0001)
    time.sleep(3)
    stop.set()
    for t in spinners:
        t.join()
    sys.setswitchinterval(0.005)
    time.sleep(0.3)
    late = [lt.config.thread_name for lt in loops if time.monotonic() - lt.watchdog._last_ran > 0.25]
    print("collisions", len(collisions), "not ticking", late)
    for lt in loops:
        lt.stop()
""")


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_watchdogs_of_many_loops_never_share_a_context(loop_kind: str) -> None:
    """Each watchdog ticks in a context of its own: one context shared between loop threads
    was entered by two at once under GIL pressure, the tick failed ("already entered"), and
    its watchdog stopped ticking and reported a stall of an idle loop."""
    if loop_kind == "uvloop":
        pytest.importorskip("uvloop")
    first, second = LoopThread(LoopConfig(watchdog_ms=50, thread_name="ctx-a")), LoopThread(
        LoopConfig(watchdog_ms=50, thread_name="ctx-b"))
    try:
        first.start()
        second.start()
        assert first.watchdog is not None and second.watchdog is not None
        assert first.watchdog._context is not second.watchdog._context
    finally:
        first.stop()
        second.stop()
    out = subprocess.run([sys.executable, "-c", _MANY_LOOPS, loop_kind], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "collisions 0 not ticking []" in out.stdout, out.stdout + out.stderr[-2000:]
