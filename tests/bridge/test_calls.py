"""run / to_sync / to_async: context, errors, timeouts, cancellation, backpressure, threads."""

from __future__ import annotations

import asyncio
import contextvars
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import traceback

import pytest
from asgiref.local import Local
from asgiref.sync import sync_to_async

from async_core import LoopThread, current_loop_thread, default_loop
from bridge import BridgeTimeout, DeadlockRisk, LoopBridgeError, Overloaded, run, to_async, to_sync

pytestmark = pytest.mark.usefixtures("fresh_loop")

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


async def _read_var() -> str:
    return request_id.get()


def test_run_returns_the_result_from_the_loop_thread() -> None:
    async def where() -> str:
        return threading.current_thread().name

    assert run(where()) == "loopbridge-loop"


def test_run_carries_contextvars_both_ways() -> None:
    request_id.set("req-42")
    assert run(_read_var()) == "req-42"

    async def change() -> None:
        request_id.set("set-in-coroutine")

    run(change())
    assert request_id.get() == "set-in-coroutine"


def test_asgiref_local_set_by_caller_is_visible_in_the_coroutine() -> None:
    local = Local()
    local.user = "alice"

    async def read() -> str:
        return local.user  # type: ignore[no-any-return]

    assert run(read()) == "alice"


def test_exception_keeps_its_type_and_shows_the_coroutine_frames() -> None:
    class CustomError(Exception):
        pass

    async def inner_helper() -> None:
        raise CustomError("from the loop")

    async def failing() -> None:
        await inner_helper()

    with pytest.raises(CustomError, match="from the loop") as info:
        run(failing())
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert "failing" in frames and "inner_helper" in frames
    assert frames.index("failing") < frames.index("inner_helper")


@pytest.mark.loopbridge_nostrict  # blocks the loop on purpose
def test_timeout_holds_while_the_loop_is_blocked_and_cancels_the_coroutine() -> None:
    observed: list[str] = []

    async def blocks_the_loop() -> None:
        time.sleep(1.0)  # noqa: LB102 - the point of the test: the loop itself is stuck
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            observed.append("cancelled")
            raise

    started = time.monotonic()
    with pytest.raises(BridgeTimeout) as info:
        run(blocks_the_loop(), timeout=0.2)
    assert time.monotonic() - started < 0.6
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, LoopBridgeError)
    assert "timeout=0.2s" in str(info.value)
    deadline = time.monotonic() + 5
    while not observed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert observed == ["cancelled"]


def test_timeout_on_a_waiting_coroutine_cancels_it_promptly() -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def waits() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        finally:
            cancelled.set()

    with pytest.raises(BridgeTimeout):
        run(waits(), timeout=0.5)
    # a coroutine whose task had not started yet is closed unrun instead (tests/reliability)
    assert started.is_set(), "the loop did not start the coroutine within 0.5 s"
    assert cancelled.wait(2)


def test_ctrl_c_in_the_caller_cancels_the_coroutine_and_waits_for_its_cleanup() -> None:
    code = """
        import asyncio, faulthandler, os, signal, sys, threading, time
        from bridge import run
        faulthandler.dump_traceback_later(20, exit=True)  # a hang shows its stacks, not a bare timeout
        run(asyncio.sleep(0))  # the loop runs: the Ctrl-C lands while the caller waits on it
        log = []
        async def slow():
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                await asyncio.sleep(0.05)
                log.append("cleanup done")
                raise
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        t = time.monotonic()
        try:
            run(slow())
        except KeyboardInterrupt:
            print("interrupted", round(time.monotonic() - t, 1), log)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "interrupted" in proc.stdout and "cleanup done" in proc.stdout, proc.stdout


def test_backpressure_bounds_in_flight_calls_then_raises_overloaded() -> None:
    lt = default_loop()
    lt.configure(lt.config.replace(max_inflight=2, queue_timeout=0.2))
    release = threading.Event()

    async def hold() -> str:
        while not release.is_set():
            await asyncio.sleep(0.01)
        return "held"

    holders = [threading.Thread(target=run, args=(hold(),)) for _ in range(2)]
    for t in holders:
        t.start()
    _wait_until(lambda: lt.inflight == 2)
    started = time.monotonic()
    with pytest.raises(Overloaded, match="max_inflight=2"):
        run(asyncio.sleep(0))
    waited = time.monotonic() - started
    assert 0.15 < waited < 1.0
    release.set()
    for t in holders:
        t.join(5)
    assert run(asyncio.sleep(0, "room again")) == "room again"


def test_a_queued_caller_gets_the_slot_when_one_frees_up() -> None:
    lt = default_loop()
    lt.configure(lt.config.replace(max_inflight=1, queue_timeout=5))
    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(run(asyncio.sleep(0.3, "first"))))
    first.start()
    _wait_until(lambda: lt.inflight == 1)
    results.append(run(asyncio.sleep(0, "second")))
    first.join(5)
    assert sorted(results) == ["first", "second"]


def test_run_on_the_loop_thread_raises_deadlock_risk_immediately() -> None:
    async def nested() -> None:
        coro = asyncio.sleep(0)
        run(coro)  # noqa: LB401 - the misuse under test

    started = time.monotonic()
    with pytest.raises(DeadlockRisk, match="await"):
        run(nested(), timeout=5)
    assert time.monotonic() - started < 1


def test_run_works_from_a_thread_that_runs_its_own_loop() -> None:
    async def notebook_cell() -> tuple[str, str]:
        other = run(asyncio.sleep(0.01, threading.current_thread().name))  # noqa: LB401 - a notebook cell calling run
        return other, threading.current_thread().name

    result, here = asyncio.run(notebook_cell())
    assert result == here == threading.current_thread().name


def test_thread_sensitive_to_async_runs_in_the_calling_thread() -> None:
    caller = threading.get_ident()

    @to_async
    def where() -> int:
        return threading.get_ident()

    async def coro() -> tuple[int, int]:
        return await where(), threading.get_ident()

    in_sync_fn, on_loop = run(coro())
    assert in_sync_fn == caller
    assert on_loop != caller


def test_thread_bound_sqlite_connection_keeps_working_through_to_async() -> None:
    conn = sqlite3.connect(":memory:")  # check_same_thread=True: only usable in this thread
    conn.execute("CREATE TABLE t (x)")

    @to_async
    def insert(value: int) -> int:
        conn.execute("INSERT INTO t VALUES (?)", (value,))
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]  # type: ignore[no-any-return]

    async def many() -> list[int]:
        return [await insert(i) for i in range(3)]

    assert run(many()) == [1, 2, 3]
    conn.close()


def test_thread_sensitive_calls_work_from_many_worker_threads_at_once() -> None:
    errors: list[BaseException] = []

    @to_async
    def ident() -> int:
        return threading.get_ident()

    async def coro() -> int:
        await asyncio.sleep(0.01)
        return await ident()

    def worker() -> None:
        try:
            for _ in range(20):
                assert run(coro(), timeout=5) == threading.get_ident()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors


def test_nested_bridge_calls_stay_in_the_caller_thread() -> None:
    caller = threading.get_ident()

    @to_async
    def innermost() -> int:
        return threading.get_ident()

    async def inner() -> int:
        return await innermost()

    @to_async
    def middle() -> int:
        return run(inner())

    async def outer() -> int:
        return await middle()

    assert run(outer(), timeout=5) == caller


def test_thread_sensitive_work_of_a_background_task_runs_on_the_sync_worker() -> None:
    done = threading.Event()
    seen: list[str] = []

    @to_async
    def record() -> None:
        seen.append(threading.current_thread().name)

    async def background() -> None:
        await asyncio.sleep(0.05)  # the request that started it has returned by now
        await record()
        await record()  # a second call in the same context: no "would deadlock" error
        done.set()

    async def view() -> None:
        asyncio.get_running_loop().create_task(background())

    run(view())
    assert done.wait(5)
    assert seen and all(name.startswith("loopbridge-sync") for name in seen)


def test_asgiref_sync_to_async_on_a_plain_task_does_not_trip_the_deadlock_guard() -> None:
    lt = default_loop()

    @to_async
    def step() -> str:
        return threading.current_thread().name

    async def task_without_caller() -> list[str]:
        return [await step(), await step()]

    names = lt.submit(task_without_caller()).result(5)
    assert all(n.startswith("loopbridge-sync") for n in names)


def test_asgiref_sync_to_async_inside_a_bridged_call_reaches_the_caller_thread() -> None:
    caller = threading.get_ident()

    async def coro() -> int:
        return await sync_to_async(threading.get_ident)()

    assert run(coro()) == caller


def test_run_accepts_other_awaitables() -> None:
    class Answer:
        def __await__(self):  # type: ignore[no-untyped-def]
            yield from asyncio.sleep(0).__await__()
            return 42

    assert run(Answer()) == 42  # type: ignore[arg-type]


def test_run_rejects_bad_arguments_with_clear_errors() -> None:
    async def coro_fn() -> None:
        pass

    with pytest.raises(TypeError, match=r"call it: run\(coro_fn\(\.\.\.\)\)"):
        run(coro_fn)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="awaitable"):
        run(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="> 0"):
        run(asyncio.sleep(0), timeout=0)
    with pytest.raises(TypeError, match="number of seconds"):
        run(asyncio.sleep(0), timeout="1")  # type: ignore[arg-type]


def test_to_sync_wraps_functions_and_methods_keeping_their_names() -> None:
    @to_sync
    async def double(x: int) -> int:
        """Double it."""
        return x * 2

    class Service:
        factor = 3

        @to_sync(timeout=5)
        async def scale(self, x: int) -> int:
            await asyncio.sleep(0)
            return x * self.factor

    assert double(21) == 42
    assert double.__name__ == "double" and double.__doc__ == "Double it."
    assert Service().scale(2) == 6


def test_to_sync_timeout_applies_per_call() -> None:
    @to_sync(timeout=0.1)
    async def slow() -> None:
        await asyncio.sleep(5)

    with pytest.raises(BridgeTimeout):
        slow()


def test_decorators_reject_the_wrong_kind_of_function() -> None:
    def plain() -> None:
        pass

    async def coro_fn() -> None:
        pass

    with pytest.raises(TypeError, match="async function"):
        to_sync(plain)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="plain"):
        to_async(coro_fn)
    with pytest.raises(TypeError, match="executor"):
        to_async(plain, thread_sensitive=True, executor=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        to_sync(timeout=-1)


def test_to_async_not_thread_sensitive_uses_a_pool_thread() -> None:
    @to_async(thread_sensitive=False)
    def where() -> int:
        return threading.get_ident()

    async def coro() -> int:
        return await where()

    assert run(coro()) != threading.get_ident()


def test_current_loop_thread_names_the_owner_on_the_loop_only() -> None:
    async def owner() -> LoopThread | None:
        return current_loop_thread()

    assert run(owner()) is default_loop()
    assert current_loop_thread() is None


def test_many_concurrent_callers_all_get_their_own_results() -> None:
    results: dict[int, list[int]] = {}

    async def echo(i: int) -> int:
        await asyncio.sleep(0.001)
        return i

    def worker(n: int) -> None:
        results[n] = [run(echo(n * 1000 + i)) for i in range(50)]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(results[n] == [n * 1000 + i for i in range(50)] for n in range(16))
    assert default_loop().inflight == 0


def _wait_until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def test_pid_is_recorded_so_a_fork_is_noticed() -> None:
    lt = default_loop()
    lt.start()
    assert lt._pid == os.getpid()
