"""LoopThread: lazy start, one loop per process, stop(grace), restart, death, exit and fork."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from async_core import (
    DeadlockRisk,
    LoopConfig,
    LoopNotRunning,
    LoopState,
    LoopThread,
    default_loop,
)
from bridge import run

pytestmark = pytest.mark.usefixtures("fresh_loop")


def _run_script(code: str, timeout: float = 30, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env=full_env
    )


def test_loop_thread_starts_lazily_on_a_named_thread() -> None:
    lt = LoopThread(LoopConfig(thread_name="lb-test-loop"))
    assert lt.state is LoopState.NEW
    assert not any(t.name == "lb-test-loop" for t in threading.enumerate())
    names = lt.submit(_thread_name()).result(5)
    assert names == "lb-test-loop"
    assert lt.state is LoopState.RUNNING
    lt.stop()
    assert lt.state is LoopState.STOPPED


async def _thread_name() -> str:
    return threading.current_thread().name


def test_default_loop_is_one_per_process() -> None:
    assert default_loop() is default_loop()
    loop_a = default_loop().loop
    loop_b = default_loop().loop
    assert loop_a is loop_b
    assert run(_thread_name()) == "loopbridge-loop"


def test_stop_lets_in_flight_work_finish_within_grace_and_cancels_the_rest() -> None:
    lt = LoopThread()
    events: list[str] = []

    async def short() -> None:
        await asyncio.sleep(0.1)
        events.append("short finished")

    async def long() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("long cancelled")
            raise

    f_short, f_long = lt.submit(short()), lt.submit(long())
    started = time.monotonic()
    lt.stop(grace=0.5)
    assert time.monotonic() - started < 5
    assert events == ["short finished", "long cancelled"]
    assert f_short.done() and f_long.cancelled()


def test_stop_runs_closers_newest_first_and_finalises_asyncgens_and_executor() -> None:
    lt = LoopThread()
    order: list[str] = []
    executor_threads: list[threading.Thread] = []

    async def async_closer() -> None:
        order.append("async closer")

    lt.start()
    lt.add_closer(lambda: order.append("sync closer"))
    lt.add_closer(async_closer)

    async def agen():  # type: ignore[no-untyped-def]
        try:
            yield 1
            yield 2
        finally:
            order.append("asyncgen finalised")

    async def use_resources() -> None:
        gen = agen()
        await gen.__anext__()  # left suspended: shutdown_asyncgens must finalise it
        lt.resources["gen"] = gen
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: executor_threads.append(threading.current_thread())
        )

    lt.submit(use_resources()).result(5)
    lt.stop(grace=1)
    assert order == ["async closer", "sync closer", "asyncgen finalised"]
    assert executor_threads and not executor_threads[0].is_alive()


def test_loop_is_usable_again_after_stop() -> None:
    lt = default_loop()
    run(asyncio.sleep(0))
    old_loop = lt.loop
    lt.stop()
    assert lt.state is LoopState.STOPPED
    assert old_loop.is_closed()
    assert run(_loop_id()) == id(lt.loop)
    assert lt.state is LoopState.RUNNING
    assert lt.loop is not old_loop


async def _loop_id() -> int:
    return id(asyncio.get_running_loop())


def test_stop_on_the_loop_thread_raises_deadlock_risk() -> None:
    lt = default_loop()

    async def stop_myself() -> None:
        lt.stop()  # noqa: LB201 - the misuse under test

    with pytest.raises(DeadlockRisk, match="loop thread itself"):
        run(stop_myself(), timeout=5)
    assert lt.state is LoopState.RUNNING


def test_stop_is_idempotent_and_validates_grace() -> None:
    lt = LoopThread()
    lt.stop()
    lt.start()
    lt.stop()
    lt.stop()
    with pytest.raises(ValueError, match="grace"):
        lt.stop(grace=-1)


def test_dead_loop_thread_gives_callers_loop_not_running_at_once() -> None:
    lt = default_loop()
    outcome: dict[str, object] = {}

    def waiting_caller() -> None:
        started = time.monotonic()
        try:
            run(asyncio.sleep(30))
        except LoopNotRunning as exc:
            outcome["error"] = exc
        outcome["waited"] = time.monotonic() - started

    caller = threading.Thread(target=waiting_caller)
    caller.start()
    deadline = time.monotonic() + 5
    while lt.inflight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)

    def die() -> None:
        raise SystemExit("simulated crash of the loop thread")

    lt.call_soon(die)
    caller.join(5)
    assert not caller.is_alive()
    assert isinstance(outcome.get("error"), LoopNotRunning)
    assert "died" in str(outcome["error"])
    assert float(outcome["waited"]) < 3  # type: ignore[arg-type]
    assert lt.state is LoopState.DEAD
    assert run(asyncio.sleep(0, "fresh")) == "fresh"  # the next call starts a new loop


def test_uvloop_is_used_when_installed_unless_disabled() -> None:
    pytest.importorskip("uvloop", reason="the uvloop extra is part of the test install")
    code = """
        import asyncio
        from bridge import run
        async def kind(): return type(asyncio.get_running_loop()).__module__
        print(run(kind()))
    """
    assert _run_script(code).stdout.strip().startswith("uvloop")
    assert _run_script(code, env={"LOOPBRIDGE_UVLOOP": "0"}).stdout.strip().startswith("asyncio")


def test_loop_stops_cleanly_at_interpreter_exit() -> None:
    code = """
        import asyncio, aiohttp
        from async_core import default_loop
        from bridge import run
        lt = default_loop()
        async def open_session():
            session = aiohttp.ClientSession()
            lt.add_closer(session.close)
            lt.add_closer(lambda: print("closer ran", flush=True))
            asyncio.get_running_loop().create_task(asyncio.sleep(3600))
        run(open_session())
        print("main done", flush=True)
    """
    proc = _run_script(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["main", "done", "closer", "ran"]
    for bad in ("Unclosed client session", "Task was destroyed", "Event loop is closed", "Traceback"):
        assert bad not in proc.stderr


def test_forked_child_starts_a_fresh_loop_on_first_use() -> None:
    code = """
        import asyncio, os, threading
        from bridge import run
        async def who(): return (os.getpid(), threading.get_ident(), id(asyncio.get_running_loop()))
        parent = run(who())
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            child = run(asyncio.wait_for(who(), 5))
            os.write(w, repr(child).encode()); os._exit(0)
        os.close(w)
        child = eval(os.read(r, 1000).decode())
        os.waitpid(pid, 0)
        assert child[0] != parent[0], (child, parent)
        again = run(who())
        assert again == parent, (again, parent)
        print("fork ok", parent[2] != child[2] or child[1] != parent[1])
    """
    proc = _run_script(code, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("fork ok")


def test_loop_config_validates_and_reads_the_environment() -> None:
    with pytest.raises(ValueError, match="max_inflight"):
        LoopConfig(max_inflight=0)
    with pytest.raises(TypeError, match="use_uvloop"):
        LoopConfig(use_uvloop="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown LoopConfig field"):
        LoopConfig().replace(max_inflights=3)
    cfg = LoopConfig.from_env({"LOOPBRIDGE_MAX_INFLIGHT": "7", "LOOPBRIDGE_UVLOOP": "off", "LOOPBRIDGE_STRICT": "1"})
    assert (cfg.max_inflight, cfg.use_uvloop, cfg.strict) == (7, False, True)
    with pytest.raises(ValueError, match="LOOPBRIDGE_QUEUE_TIMEOUT"):
        LoopConfig.from_env({"LOOPBRIDGE_QUEUE_TIMEOUT": "soon"})
    assert "max_inflight=7" in repr(cfg)


def test_thread_name_cannot_change_while_running() -> None:
    lt = default_loop()
    lt.start()
    with pytest.raises(ValueError, match="stop"):
        lt.configure(lt.config.replace(thread_name="other"))
    lt.configure(lt.config.replace(max_inflight=5))
    assert lt.config.max_inflight == 5
