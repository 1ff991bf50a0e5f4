"""The bridge and the loop under faults: lost slots, deadlines, loop death, shutdown, fork.

Each test reproduces one way the runtime used to break (issue "twenty ways it breaks") and
asserts the promise that now holds. Anything that could hang runs in a subprocess with a hard
timeout; every loop here is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from flask import Flask

import bridge
from async_core import BridgeTimeout, LoopNotRunning, Overloaded, configure_default, default_loop
from bridge import LoopBridge, http
from tests.conftest import Upstream
from tests.reliability.conftest import Figures, HostileUpstream

pytestmark = pytest.mark.usefixtures("fresh_loop")
ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done, time.monotonic() - started


def _wait_until(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# -- A: a slot is released exactly once on every path --------------------------------------------
def test_a_timeout_before_the_task_starts_releases_its_slot() -> None:
    lt = configure_default(max_inflight=2)
    bridge.run(asyncio.sleep(0))
    for _ in range(4):
        lt.call_soon(time.sleep, 0.2)  # the loop is busy: the cancel lands before the first step
        with pytest.raises(BridgeTimeout):
            bridge.run(asyncio.sleep(1), timeout=0.05)
    assert _wait_until(lambda: lt.inflight == 0, 3.0), f"{lt.inflight} slots leaked"
    assert bridge.run(asyncio.sleep(0, "ok")) == "ok"
    gc.collect()  # a never-awaited coroutine would warn here (and filterwarnings=error fails it)


def test_a_cancellation_storm_of_1000_callers_leaks_nothing(figures: Figures) -> None:
    lt = configure_default(max_inflight=64, queue_timeout=5.0)
    bridge.run(asyncio.sleep(0))
    outcomes: list[str] = []
    lock = threading.Lock()

    def caller(i: int) -> None:
        try:
            bridge.run(asyncio.sleep(0.5 if i % 3 else 0), timeout=0.02 + (i % 5) * 0.01)
            result = "ok"
        except BridgeTimeout:
            result = "timeout"
        except Overloaded:
            result = "overloaded"
        with lock:
            outcomes.append(result)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(100) as pool:
        for i in range(1000):
            if i % 100 == 0:
                lt.call_soon(time.sleep, 0.05)  # short stalls: cancels land before first steps
            pool.submit(caller, i)
    assert len(outcomes) == 1000
    assert _wait_until(lambda: lt.inflight == 0 and lt.queued == 0, 5.0), (lt.inflight, lt.queued)
    assert bridge.run(asyncio.sleep(0, "ok"), timeout=2) == "ok"
    gc.collect()
    figures.add("A cancellation storm: 1000 callers", f"{time.monotonic() - started:.2f}s, "
                f"{outcomes.count('timeout')} timeouts, {outcomes.count('ok')} ok, slots left 0")


def test_a_flask_short_timeout_stall_gives_504s_then_recovers() -> None:
    app = Flask("stall")
    app.config.update(LOOPBRIDGE_TIMEOUT=0.05)

    @app.get("/x")
    async def x() -> str:
        await asyncio.sleep(0)
        return "x"

    LoopBridge(app)
    client = app.test_client()
    assert client.get("/x").status_code == 200
    lt = default_loop()
    lt.configure(lt.config.replace(max_inflight=8))
    lt.call_soon(time.sleep, 0.5)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        during = list(pool.map(lambda _: app.test_client().get("/x").status_code, range(16)))
    assert set(during) <= {504, 503} and 504 in during
    assert _wait_until(lambda: lt.inflight == 0, 3.0)
    after = [client.get("/x").status_code for _ in range(20)]
    assert after == [200] * 20


# -- D: the caller's deadline bounds the wait for a slot -----------------------------------------
def test_d_the_deadline_bounds_the_wait_for_a_slot_and_says_which_limit_fired() -> None:
    lt = configure_default(max_inflight=1, queue_timeout=0.3)
    holder = threading.Thread(target=bridge.run, args=(asyncio.sleep(1.2),))
    holder.start()
    assert _wait_until(lambda: lt.inflight == 1)
    started = time.monotonic()
    with pytest.raises(BridgeTimeout, match="while it waited for a free in-flight slot") as caught:
        bridge.run(asyncio.sleep(0), timeout=0.05)
    assert time.monotonic() - started < 0.5
    assert isinstance(caught.value, TimeoutError)
    started = time.monotonic()
    with pytest.raises(Overloaded, match="queue timeout"):
        bridge.run(asyncio.sleep(0), timeout=5)  # the queue timeout (0.3 s) fires first here
    assert 0.25 <= time.monotonic() - started < 0.8
    holder.join(5)


# -- E: thread-sensitive work cannot be interrupted (documented); the deadline holds after it --
def test_e_deadline_holds_as_soon_as_thread_sensitive_work_returns() -> None:
    started = time.monotonic()
    with pytest.raises(BridgeTimeout):
        bridge.run(bridge.to_async(time.sleep)(0.6), timeout=0.1)
    elapsed = time.monotonic() - started
    assert 0.55 <= elapsed < 0.9, elapsed  # the sleep runs in this thread; nothing after it waits


# -- F, F2: stop and exit within grace + a fixed margin --------------------------------------------
def test_f2_stop_with_an_idle_loop_is_prompt_and_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    bridge.run(asyncio.sleep(0))
    with caplog.at_level(logging.ERROR, logger="async_core"):
        started = time.monotonic()
        default_loop().stop(grace=0)
        assert time.monotonic() - started < 0.5
    assert not caplog.records


def test_f2_interpreter_exit_is_prompt(figures: Figures) -> None:
    done, elapsed = _python("""
        import asyncio, bridge
        bridge.run(asyncio.sleep(0))
    """, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "did not finish" not in done.stderr and "ERROR" not in done.stderr
    assert elapsed < 5.0
    figures.add("F2 process exit after one bridged call", f"{elapsed:.2f}s (imports included)")


def test_f_exit_with_a_blocked_loop_takes_grace_plus_margin(figures: Figures) -> None:
    done, elapsed = _python("""
        import asyncio, threading, time, bridge
        from async_core import configure_default
        configure_default(stop_grace=1.0)
        async def blocker():
            time.sleep(40)
        threading.Thread(target=bridge.run, args=(blocker(),), daemon=True).start()
        time.sleep(0.3)
        print("main returns", flush=True)
    """, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "main returns" in done.stdout
    assert elapsed < 1.0 + 1.5 + 3.0, elapsed  # grace + STOP_MARGIN + start-up and imports
    figures.add("F exit with the loop blocked in time.sleep(40), grace 1 s", f"{elapsed:.2f}s in all")


# -- B, C: loop death under HTTP traffic, 20 times in one process ----------------------------------
def test_b_c_http_recovers_after_each_loop_death_under_traffic(upstream: Upstream, figures: Figures,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    url = upstream.url("/delay/1")
    stop = threading.Event()
    errors: list[BaseException] = []
    ok = [0]

    def traffic() -> None:
        while not stop.is_set():
            try:
                http.get(url, timeout=5)
                ok[0] += 1
            except LoopNotRunning:
                pass  # the one error a death may give a call in flight
            except BaseException as exc:  # anything else is a bug
                errors.append(exc)

    def boom() -> None:
        raise SystemExit("boom")

    threads = [threading.Thread(target=traffic, name=f"traffic-{i}") for i in range(8)]
    for t in threads:
        t.start()
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING):
            for _ in range(20):
                time.sleep(0.05)
                try:
                    default_loop().call_soon(boom)
                except LoopNotRunning:
                    pass
                time.sleep(0.05)
                assert http.get(url, timeout=5).status_code == 200
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert not errors, errors[:3]
    assert http.get(url, timeout=5).status_code == 200
    assert not [r for r in caplog.records if "incomplete" in r.getMessage()]
    gc.collect()  # an unclosed aiohttp session would warn here (filterwarnings=error)
    figures.add("B/C 20 loop deaths under 8 threads of HTTP traffic",
                f"{time.monotonic() - started:.2f}s, {ok[0]} requests ok, 0 wrong errors, cleanup complete")


# -- fork with calls in flight -----------------------------------------------------------------------
def test_fork_with_calls_in_flight(figures: Figures) -> None:
    done, elapsed = _python("""
        import asyncio, os, threading, time, bridge
        results = []
        def caller():
            results.append(bridge.run(asyncio.sleep(0.3, "parent")))
        threads = [threading.Thread(target=caller) for _ in range(8)]
        for t in threads: t.start()
        time.sleep(0.1)
        pid = os.fork()
        if pid == 0:
            try:
                ok = bridge.run(asyncio.sleep(0.01, "child"), timeout=5) == "child"
            except BaseException:
                ok = False
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        for t in threads: t.join(5)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert results == ["parent"] * 8, results
        print("fork ok")
    """, timeout=60)
    assert done.returncode == 0 and "fork ok" in done.stdout, done.stderr
    figures.add("fork with 8 calls in flight", f"child ran its own call, parent's 8 finished ({elapsed:.2f}s)")


# -- 10,000 calls from 64 threads: nothing grows -----------------------------------------------------
def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_10000_bridged_calls_from_64_threads_leak_nothing(figures: Figures) -> None:
    async def tasks_now() -> int:
        return len(asyncio.all_tasks())

    async def echo(i: int) -> int:
        await asyncio.sleep(0)
        return i

    bridge.run(asyncio.sleep(0))
    fds_before = len(os.listdir("/proc/self/fd"))
    threads_before = threading.active_count()
    tasks_before = bridge.run(tasks_now())
    rss_before = _rss_kib()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        results = list(pool.map(lambda i: bridge.run(echo(i), timeout=30), range(10_000)))
    elapsed = time.monotonic() - started
    assert results == list(range(10_000))
    assert default_loop().inflight == 0
    assert bridge.run(tasks_now()) == tasks_before
    assert threading.active_count() == threads_before
    assert len(os.listdir("/proc/self/fd")) <= fds_before + 2
    growth = _rss_kib() - rss_before
    figures.add("10,000 bridged calls from 64 threads",
                f"{elapsed:.2f}s ({10_000 / elapsed:,.0f} calls/s), tasks/threads/fds unchanged, RSS +{growth} KiB")


# -- G: exactly 1 + retries attempts ----------------------------------------------------------------
@pytest.mark.parametrize(("method", "retries", "attempts"), [("GET", 0, 1), ("GET", 2, 3), ("PUT", 0, 1),
                                                              ("DELETE", 1, 2), ("POST", 2, 1)])
def test_g_exactly_one_plus_retries_attempts(hostile: HostileUpstream, method: str, retries: int,
                                             attempts: int) -> None:
    http.configure(retries=retries, backoff=0.01, backoff_max=0.02)
    try:
        before = hostile.hits["/reset"]
        with pytest.raises(http.UpstreamConnectionError if hasattr(http, "UpstreamConnectionError")
                           else bridge.UpstreamConnectionError):
            http.request(method, hostile.url("/reset"), timeout=5)
        assert hostile.hits["/reset"] - before == attempts
    finally:
        http.configure(retries=0, backoff=0.2, backoff_max=5.0)


# -- H: one hung upstream does not starve everyone -------------------------------------------------------
def test_h_a_hung_host_does_not_starve_a_healthy_one(hostile: HostileUpstream, upstream: Upstream,
                                                     figures: Figures) -> None:
    hung = threading.Thread(target=http.map, args=([hostile.url("/silence")] * 100,),
                            kwargs={"concurrency": 100, "timeout": (2, 3)}, daemon=True)
    hung.start()
    assert _wait_until(lambda: hostile.hits["/silence"] >= 100, 5.0)
    started = time.monotonic()
    assert http.get(upstream.url("/delay/0"), timeout=2).status_code == 200
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    hung.join(10)
    figures.add("H healthy GET while 100 requests hang on another host", f"{elapsed * 1000:.0f} ms")


def test_h_waiting_for_a_pooled_connection_counts_against_the_timeout(hostile: HostileUpstream,
                                                                      upstream: Upstream) -> None:
    http.configure(limit=4, limit_per_host=4)
    try:
        hung = threading.Thread(target=http.map, args=([hostile.url("/silence")] * 4,),
                                kwargs={"concurrency": 4, "timeout": (2, 2)}, daemon=True)
        hung.start()
        time.sleep(0.3)  # the four hung requests hold the whole pool
        started = time.monotonic()
        with pytest.raises(bridge.UpstreamConnectTimeout, match="pooled connection"):
            http.get(upstream.url("/delay/0"), timeout=(0.3, 5))
        assert time.monotonic() - started < 1.0
        hung.join(10)
    finally:
        http.configure(limit=256, limit_per_host=100)


# -- I and hostile upstreams ------------------------------------------------------------------------------
def test_i_a_bad_chunk_size_is_a_payload_error(hostile: HostileUpstream) -> None:
    import requests

    with pytest.raises(bridge.UpstreamError) as caught:
        http.get(hostile.url("/badchunk"), timeout=5)
    from async_core import UpstreamPayloadError

    assert isinstance(caught.value, UpstreamPayloadError)
    assert isinstance(caught.value, requests.exceptions.ChunkedEncodingError)


def test_hostile_upstreams_each_end_in_the_documented_error_within_bounds(hostile: HostileUpstream,
                                                                           figures: Figures) -> None:
    from async_core import BodyTooLarge, UpstreamPayloadError, UpstreamReadTimeout, UpstreamTimeout

    http.configure(total_timeout=1.5)
    cases = {
        "/reset-mid-body": UpstreamPayloadError, "/huge": BodyTooLarge, "/huge-declared": BodyTooLarge,
        "/silence": UpstreamReadTimeout, "/drip": UpstreamTimeout,
    }
    timings = []
    try:
        for path, expected in cases.items():
            started = time.monotonic()
            with pytest.raises(expected):
                http.get(hostile.url(path), timeout=(1, 0.5))
            elapsed = time.monotonic() - started
            assert elapsed < 2.5, (path, elapsed)
            timings.append(f"{path} {elapsed:.2f}s")
    finally:
        http.configure(total_timeout=60.0)
    assert http.get(hostile.url("/ok"), timeout=2).status_code == 200
    figures.add("hostile upstreams (documented error each)", ", ".join(timings))
