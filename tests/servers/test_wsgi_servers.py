"""The bridge under real WSGI servers: gunicorn (gthread, --preload) and waitress."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Upstream

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BAD_OUTPUT = ("Unclosed client session", "Task was destroyed but it is pending", "Event loop is closed", "Traceback")

# A load generator in its own process: N concurrent GETs, one new connection per request.
CLIENT = textwrap.dedent(
    """
    import json, sys, urllib.request
    from concurrent.futures import ThreadPoolExecutor
    url, n = sys.argv[1], int(sys.argv[2])
    def get(_):
        req = urllib.request.Request(url, headers={"Connection": "close"})
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, json.loads(resp.read())
    with ThreadPoolExecutor(n) as pool:
        print(json.dumps(list(pool.map(get, range(n)))))
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.communicate()[1]}")  # closes the pipes
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"server did not listen on {port} in {timeout}s")


def _load(url: str, n: int) -> list[tuple[int, dict]]:  # type: ignore[type-arg]
    out = subprocess.run([sys.executable, "-c", CLIENT, url, str(n)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [(status, body) for status, body in json.loads(out.stdout)]


@pytest.fixture
def server_env(upstream: Upstream) -> dict[str, str]:
    return {**os.environ, "TEST_UPSTREAM_URL": upstream.url(""), "PYTHONPATH": str(ROOT)}


@pytest.fixture
def gunicorn(server_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    cmd = [
        str(BIN / "gunicorn"), "-k", "gthread", "-w", "2", "--threads", "16", "--preload",
        "--graceful-timeout", "10", "-b", f"127.0.0.1:{port}", "tests.servers.bridged_app:app",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=server_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_port(port, proc)
    yield proc, port
    _stop(proc, signal.SIGTERM)


def _stop(proc: subprocess.Popen[str], sig: int) -> str:
    """Signal the server, wait for it (bounded) and return its stderr; pipes are closed."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def _check_one_loop_per_worker(results: list[tuple[int, dict]]) -> dict[int, set[int]]:  # type: ignore[type-arg]
    assert all(status == 200 for status, _ in results)
    loops: dict[int, set[int]] = {}
    for _, body in results:
        loops.setdefault(body["pid"], set()).add(body["loop_thread"])
        assert body["loop_thread_name"] == "loopbridge-loop"
    assert all(len(threads) == 1 for threads in loops.values()), loops
    return loops


def test_gunicorn_preload_each_worker_answers_from_its_own_loop_thread(gunicorn) -> None:  # type: ignore[no-untyped-def]
    proc, port = gunicorn
    pids: set[int] = set()
    for _ in range(5):  # the kernel spreads new connections; a few rounds reach both workers
        results = _load(f"http://127.0.0.1:{port}/whoami", 40)
        loops = _check_one_loop_per_worker(results)
        pids |= set(loops)
        if len(pids) == 2:
            break
    assert len(pids) == 2 and proc.pid not in pids
    # the app was imported (and the loop first started) in the master, before the fork
    assert {body["imported_in"] for _, body in results} == {proc.pid}
    sync = _load(f"http://127.0.0.1:{port}/sync-whoami", 20)
    _check_one_loop_per_worker(sync)
    assert all(body["request_thread"] != body["loop_thread"] for _, body in sync)


def test_gunicorn_sigterm_lets_in_flight_bridged_calls_finish_cleanly(gunicorn) -> None:  # type: ignore[no-untyped-def]
    proc, port = gunicorn
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, f"http://127.0.0.1:{port}/slow", "8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(0.4)  # the requests are now waiting on the upstream, inside the shared session
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = client.communicate(timeout=30)
    assert client.returncode == 0, err
    results = json.loads(out)
    assert [status for status, _ in results] == [200] * 8
    assert all(body["upstream_ok"] for _, body in results)
    stderr = _stop(proc, signal.SIGTERM)
    assert proc.returncode == 0
    assert time.monotonic() - started < 10
    for bad in BAD_OUTPUT:
        assert bad not in stderr, stderr


def test_waitress_serves_the_bridged_app(server_env: dict[str, str]) -> None:
    port = _free_port()
    cmd = [str(BIN / "waitress-serve"), f"--listen=127.0.0.1:{port}", "--threads=8", "tests.servers.bridged_app:app"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=server_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, proc)
        loops = _check_one_loop_per_worker(_load(f"http://127.0.0.1:{port}/whoami", 30))
        assert list(loops) == [proc.pid]
        slow = _load(f"http://127.0.0.1:{port}/slow", 8)
        assert all(status == 200 and body["upstream_ok"] for status, body in slow)
    finally:
        stderr = _stop(proc, signal.SIGINT)
    for bad in BAD_OUTPUT[:3]:
        assert bad not in stderr, stderr
