"""The servers legacy apps run on, started for real: which worker answered, recycling, uWSGI.

gunicorn (sync and gthread, --preload, max_requests recycling mid-traffic), uWSGI through
``pyuwsgi`` (--master --processes N, with and without --lazy-apps, harakiri and reload-on-rss
recycling) and waitress, each serving tests/servers/bridged_app.py on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.servers.test_wsgi_servers import BAD_OUTPUT, BIN, ROOT, _free_port, _load, _stop, _wait_for_port, server_env  # noqa: F401

STATS = "/_loopbridge/stats"


def _get(url: str, timeout: float = 20) -> dict[str, Any]:
    req = urllib.request.Request(url, headers={"Connection": "close"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _until_pids(url: str, want: int, rounds: int = 80, burst: int = 24, seconds: float = 40.0) -> dict[int, dict[str, Any]]:
    """Bursts of concurrent GETs to ``url`` (bounded in count and time) until ``want`` distinct pids
    answered; pid -> an answer. Concurrent new connections are what spreads them over the workers;
    the pause between bursts lets every worker wait on the listening socket again, so one that
    keeps losing the race to accept gets its turn (gthread workers on 2 cores can lose many)."""
    seen: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(burst) as pool:
        for _ in range(rounds):
            for body in pool.map(lambda _: _get(url), range(burst)):
                pid = body["process"]["pid"] if "process" in body else body["pid"]
                seen[pid] = body
            if len(seen) >= want or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    return seen


class Server:
    """A server process on 127.0.0.1 and its port; ``stop()`` returns its stderr."""

    def __init__(self, cmd: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for_port(port, self.proc, timeout=30)
        except BaseException:  # never leave a server running behind a failed start
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.communicate()
            raise

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self, sig: int = signal.SIGTERM) -> str:
        return _stop(self.proc, sig)


@pytest.fixture
def fleet_env(server_env: dict[str, str]) -> dict[str, str]:
    return {**server_env, "LOOPBRIDGE_STATS_URL": STATS}


def _gunicorn(env: dict[str, str], *args: str) -> Server:
    port = _free_port()
    cmd = [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{port}", "--graceful-timeout", "10", *args,
           "tests.servers.bridged_app:app"]
    return Server(cmd, env, port)


def _clean(stderr: str) -> None:
    for bad in BAD_OUTPUT:
        assert bad not in stderr, stderr


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_gunicorn_stats_say_which_of_the_workers_answered(fleet_env: dict[str, str], worker_class: str) -> None:
    threads = ["--threads", "4"] if worker_class == "gthread" else []  # gunicorn makes sync gthread with threads
    server = _gunicorn(fleet_env, "-k", worker_class, "-w", "3", *threads)
    try:
        answers = _until_pids(server.url(STATS), 3)
        assert len(answers) == 3, answers.keys()
        for pid, body in answers.items():
            process = body["process"]
            assert process["pid"] == pid != server.proc.pid
            assert process["server"] == "gunicorn" and process["workers"] == 3
            assert process["master_pid"] == server.proc.pid and process["worker_class"] == worker_class
            assert "one of 3 gunicorn workers" in process["note"]
        assert len({body["process"]["worker"] for body in answers.values()}) == 3
        cli = subprocess.run(
            [str(BIN / "flask"), "--app", "tests.servers.bridged_app", "loopbridge", "stats", "--url", server.url(STATS)],
            cwd=ROOT, env=fleet_env, capture_output=True, text=True, timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert "gunicorn, 3 worker(s)" in cli.stdout and "one of 3 gunicorn workers" in cli.stdout
    finally:
        _clean(server.stop())


def _sequence(server: Server, rounds: int) -> list[tuple[int, str]]:
    """``rounds`` times: read the stats, then make a bridged call. Returns (pid, what) per request:
    the loop's state for a stats read, ``"call"`` for the bridged call."""
    seen = []
    for _ in range(rounds):
        stats = _get(server.url(STATS))
        seen.append((stats["process"]["pid"], stats["state"]))
        body = _get(server.url("/sync-whoami"))
        assert body["loop_thread_name"] == "loopbridge-loop"
        seen.append((body["pid"], "call"))
    return seen


def _first_reads(seen: list[tuple[int, str]]) -> dict[int, str]:
    """pid -> the loop state its first request saw, for the workers whose first request was a
    stats read (a worker may be replaced after any request, so some start with a call)."""
    first: dict[int, str] = {}
    for pid, what in seen:
        first.setdefault(pid, what)
    return {pid: what for pid, what in first.items() if what != "call"}


def test_gunicorn_max_requests_recycles_workers_whose_loops_start_lazily(fleet_env: dict[str, str]) -> None:
    # one sync worker replaced every 6 requests: each new worker's first request is a stats read
    server = _gunicorn(fleet_env, "-k", "sync", "-w", "1", "--preload", "--max-requests", "6",
                       "--max-requests-jitter", "0")
    try:
        seen = _sequence(server, 15)
    finally:
        stderr = server.stop()
    first = _first_reads(seen)
    assert len(first) >= 4, seen  # 30 requests, a new worker every 6, each starting with a stats read
    # the master's loop (started at import, --preload) is not inherited: each worker starts its own
    assert set(first.values()) == {"new"}, seen
    later = [what for index, (pid, what) in enumerate(seen) if what != "call" and pid in {p for p, _ in seen[:index]}]
    assert later and set(later) == {"running"}, seen  # and it runs once the worker made a call
    _clean(stderr)


def test_gunicorn_recycling_under_concurrent_traffic_loses_no_call(fleet_env: dict[str, str]) -> None:
    # sync workers: a connection waits in the shared listen queue until a worker takes it, so a
    # worker leaving at max_requests drops nothing. (gthread workers accept ahead of their
    # threads, and gunicorn resets what one accepted but had not started when it leaves.)
    server = _gunicorn(fleet_env, "-k", "sync", "-w", "3", "--preload",
                       "--max-requests", "10", "--max-requests-jitter", "3")
    try:
        results = _load(server.url("/slow"), 12) + _load(server.url("/sync-whoami"), 60)
    finally:
        stderr = server.stop()
    assert len(results) == 72 and all(status == 200 for status, _ in results)
    assert all(body["upstream_ok"] for _, body in results[:12])
    assert len({body["pid"] for _, body in results}) > 3  # 3 workers, and some were replaced mid-traffic
    _clean(stderr)


# -- uWSGI (pyuwsgi from PyPI) -------------------------------------------------------------------
def _uwsgi_version() -> tuple[int, ...]:
    from importlib.metadata import version

    return tuple(int(p) for p in version("pyuwsgi").split(".")[:3] if p.isdigit())


def _uwsgi_cmd(port: int, *args: str) -> list[str]:
    uwsgi = BIN / "uwsgi"
    if not uwsgi.exists():
        pytest.fail("uWSGI is not installed: pip install 'loopbridge[uwsgi]' (CI installs it)")
    return [str(uwsgi), "--http-socket", f"127.0.0.1:{port}", "--master", "--die-on-term", "--need-app",
            "--disable-logging", "--module", "tests.servers.bridged_app:app", *args]


def _uwsgi(env: dict[str, str], *args: str, import_call: bool = False) -> Server:
    """uWSGI serving the test app; without ``import_call`` the app makes no bridged call at import
    (in the master, that is refused unless --lazy-apps: see the test below)."""
    port = _free_port()
    return Server(_uwsgi_cmd(port, *args), env if import_call else {**env, "TEST_NO_IMPORT_CALL": "1"}, port)


@pytest.mark.parametrize("lazy", [False, True], ids=["forked-app", "lazy-apps"])
def test_uwsgi_processes_each_run_their_own_loop(fleet_env: dict[str, str], lazy: bool) -> None:
    # lazy apps: each worker imports the app and makes the import-time bridged call itself
    server = _uwsgi(fleet_env, "--processes", "3", "--enable-threads", *(["--lazy-apps"] if lazy else []), import_call=lazy)
    try:
        answers = _until_pids(server.url("/sync-whoami"), 3)
        assert len(answers) == 3 and server.proc.pid not in answers
        for pid, body in answers.items():
            assert body["pid"] == pid and body["loop_thread_name"] == "loopbridge-loop"
            assert body["request_thread"] != body["loop_thread"]
        stats = _until_pids(server.url(STATS), 3)
        for body in stats.values():
            process = body["process"]
            assert process["server"] == "uwsgi" and process["workers"] == 3
            assert process["master_pid"] == server.proc.pid and 1 <= process["worker"] <= 3
        slow = _load(server.url("/slow"), 6)
        assert all(status == 200 and body["upstream_ok"] for status, body in slow)
    finally:
        _clean(server.stop())


@pytest.mark.parametrize(("recycle", "rounds"), [(["--max-requests", "4"], 10), (["--reload-on-rss", "1"], 5)],
                         ids=["max-requests", "reload-on-rss"])
def test_uwsgi_recycling_loses_no_call_and_new_workers_start_their_loop_lazily(
    fleet_env: dict[str, str], recycle: list[str], rounds: int
) -> None:
    # one worker (each new one's first request is a stats read); reload-on-rss 1 MB: every worker
    # is over it after its first request. uWSGI keeps a worker 10 s by default: not here.
    server = _uwsgi(fleet_env, "--processes", "1", "--enable-threads", "--min-worker-lifetime", "0", *recycle)
    try:
        seen = _sequence(server, rounds)
    finally:
        stderr = server.stop()
    first = _first_reads(seen)
    assert len(first) >= 3, seen
    assert set(first.values()) == {"new"}, seen  # a replaced worker's loop starts with its first call
    _clean(stderr)


def test_uwsgi_harakiri_kills_a_stuck_worker_and_its_replacement_serves(fleet_env: dict[str, str]) -> None:
    server = _uwsgi(fleet_env, "--processes", "1", "--enable-threads", "--harakiri", "1")
    try:
        victim = _get(server.url("/sync-whoami"))["pid"]
        with pytest.raises(OSError):  # the worker is killed mid-request: the connection drops
            _get(server.url("/sleep/4000"), timeout=15)
        after = [_get(server.url("/sync-whoami")) for _ in range(5)]
    finally:
        stderr = server.stop()
    assert all(body["loop_thread_name"] == "loopbridge-loop" for body in after)
    assert {body["pid"] for body in after} != {victim}  # the replacement runs its own loop
    assert "HARAKIRI" in stderr
    for bad in ("Unclosed client session", "Task was destroyed but it is pending"):
        assert bad not in stderr, stderr


def test_uwsgi_without_python_threads_is_named_not_hung(fleet_env: dict[str, str]) -> None:
    # no --enable-threads, and no bridged call at import: the first call comes with a request
    server = _uwsgi(fleet_env, "--processes", "1")
    try:
        req = urllib.request.Request(server.url("/sync-whoami"), headers={"Connection": "close"})
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                status, body = resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode()
    finally:
        _clean(server.stop())
    if _uwsgi_version() >= (2, 0, 30):  # threads on by default: it simply works
        assert status == 200 and json.loads(body)["loop_thread_name"] == "loopbridge-loop"
    else:  # the floor this project declares has them off: a clear error naming the setting
        assert status == 503 and "--enable-threads" in body and "enable-threads is off" in body


def test_waitress_stats_name_the_only_process(fleet_env: dict[str, str]) -> None:
    port = _free_port()
    server = Server([str(BIN / "waitress-serve"), f"--listen=127.0.0.1:{port}", "--threads=8",
                     "tests.servers.bridged_app:app"], fleet_env, port)
    try:
        assert _get(server.url("/sync-whoami"))["pid"] == server.proc.pid
        process = _get(server.url(STATS))["process"]
    finally:
        _clean(server.stop(signal.SIGINT))
    assert process["pid"] == server.proc.pid and process["server"] == "waitress" and process["workers"] == 1
    assert "the only waitress process" in process["note"]


def test_gunicorn_hooks_keep_recycled_workers_counts_and_drop_their_live_gauges(
    fleet_env: dict[str, str], tmp_path: Path
) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("from bridge.prometheus import child_exit, on_starting  # noqa: F401\n")
    stale = tmp_path / "metrics" / "counter_999999.db"  # an earlier run's file: on_starting removes it
    stale.parent.mkdir()
    stale.write_bytes(b"\0" * 8)
    env = {**fleet_env, "PROMETHEUS_MULTIPROC_DIR": str(stale.parent), "LOOPBRIDGE_METRICS_URL": "/metrics"}
    server = _gunicorn(env, "-c", str(conf), "-k", "sync", "-w", "2", "--max-requests", "5",
                       "--max-requests-jitter", "0")
    try:
        pids = {_get(server.url("/sync-whoami"))["pid"] for _ in range(30)}
        time.sleep(1.0)  # the master reaps the last recycled workers (child_exit)
        req = urllib.request.Request(server.url("/metrics"), headers={"Connection": "close"})
        with urllib.request.urlopen(req, timeout=20) as resp:
            text = resp.read().decode()
    finally:
        _clean(server.stop())
    assert not stale.exists()
    count = [line for line in text.splitlines()
             if line.startswith('loopbridge_request_duration_seconds_count{endpoint="sync_whoami"}')]
    assert len(count) == 1 and float(count[0].split()[-1]) == 30.0  # recycled workers' requests still count
    live = [line for line in text.splitlines() if line.startswith("loopbridge_process{")]
    assert len(pids) >= 6 and 1 <= len(live) <= 2, (pids, live)  # only live workers' gauges are left


def test_uwsgi_master_refuses_to_start_a_loop_it_would_fork_into_workers(fleet_env: dict[str, str]) -> None:
    # the app's bridged call at import runs in the master (no --lazy-apps): a clear error, and
    # uWSGI (--need-app) stops, instead of workers that can hang after a respawn
    cmd = _uwsgi_cmd(_free_port(), "--processes", "2", "--enable-threads")
    proc = subprocess.run(cmd, cwd=ROOT, env=fleet_env, capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "LoopNotRunning" in output and "--lazy-apps" in output and "uWSGI master" in output
