"""The monitor as a real server process: it serves, and a shutdown mid-run loses nothing whole.

Each test starts ``python -m legacy_app.server`` (waitress) in a child process with a
timeout on every wait, so a hang fails the test instead of freezing the suite.
"""

from __future__ import annotations

import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from legacy_app import storage
from legacy_app.db import open_database
from legacy_app.server import READY_PREFIX
from legacy_app.simulator import Simulator

# The monitor's tests run in loopbridge strict mode: a stalled loop fails the test.
pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=250)


@pytest.fixture(scope="module")
def slow_sim() -> Iterator[Simulator]:
    """300 sites at 30 ms each: a serial check-all takes about 9 s, long enough to cut."""
    with Simulator(sites=300, latency_ms=30, fixed=True, in_thread=False) as server:
        yield server


def _start_server(db: Path, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "legacy_app.server", "--port", "0", "--db", str(db),
           "--allow", "127.0.0.1", "--threads", "4", *extra]
    env = dict(os.environ, PYTHONUNBUFFERED="1", LEGACY_APP_INSTANCE_PATH=str(tmp_path / "inst"))
    stderr = open(tmp_path / "server.stderr", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    stderr.close()
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        line = proc.stdout.readline() if sel.select(30) else ""
    if not line.startswith(READY_PREFIX):
        proc.kill()
        proc.wait(10)
        pytest.fail(f"the server did not start: {line!r}\n{(tmp_path / 'server.stderr').read_text()}")
    return proc, line[len(READY_PREFIX):].strip()


def _wait(proc: subprocess.Popen[str], signum: int = signal.SIGTERM) -> int:
    """Signal the server, wait for it (kill it after 30 s) and close its pipe."""
    if proc.poll() is None:
        proc.send_signal(signum)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        pytest.fail("the server did not stop within 30 s of the signal")
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


def _seed(db: Path, sim: Simulator) -> None:
    conn = open_database(db)
    try:
        for i, url in enumerate(sim.site_urls()):
            storage.add_site(conn, url, f"site {i}")
    finally:
        conn.close()


def _recorded(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM checks").fetchone()[0])
    finally:
        conn.close()


def _assert_consistent(db: Path) -> dict[str, object]:
    """Every stored row is whole and the run's counters match the rows it owns."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for row in conn.execute("SELECT * FROM checks"):
            assert row["ok"] in (0, 1) and row["run_id"] is not None
            if row["status_code"] is None:
                assert row["error"], dict(row)
            else:
                assert row["latency_ms"] is not None and row["latency_ms"] >= 0, dict(row)
        [run] = [dict(r) for r in conn.execute("SELECT * FROM runs")]
        owned = conn.execute("SELECT COUNT(*), COALESCE(SUM(ok), 0) FROM checks WHERE run_id = ?",
                             (run["id"],)).fetchone()
        assert (run["recorded"], run["ok_count"]) == tuple(owned)
        assert run["status"] in ("running", "failed", "finished")
        if run["status"] == "finished":
            assert run["duration_ms"] is not None and run["recorded"] == run["planned"]
        return run
    finally:
        conn.close()


def test_server_process_serves_the_dashboard_and_api(tmp_path: Path, slow_sim: Simulator) -> None:
    db = tmp_path / "served.sqlite3"
    proc, url = _start_server(db, tmp_path)
    try:
        assert "Uptime monitor" in requests.get(url + "/", timeout=10).text
        created = requests.post(url + "/api/sites", json={"url": slow_sim.site_url(0)}, timeout=10)
        assert created.status_code == 201
        run = requests.post(url + "/api/check-all", json={"checker": "legacy"}, timeout=30).json()
        assert (run["recorded"], run["ok_count"], run["status"]) == (1, 1, "finished")
    finally:
        assert _wait(proc) == 0
    assert "Traceback" not in (tmp_path / "server.stderr").read_text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_check_all_cut_by_shutdown_leaves_the_database_consistent(
        tmp_path: Path, slow_sim: Simulator, signum: int) -> None:
    db = tmp_path / "cut.sqlite3"
    _seed(db, slow_sim)
    proc, url = _start_server(db, tmp_path, "--grace", "1")
    outcome: list[object] = []

    def check_all() -> None:
        try:
            outcome.append(requests.post(url + "/api/check-all", json={"checker": "legacy"}, timeout=60))
        except requests.RequestException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=check_all)
    caller.start()
    deadline = time.monotonic() + 30
    while _recorded(db) < 20:
        assert time.monotonic() < deadline and proc.poll() is None, "the check-all never got going"
        time.sleep(0.05)
    started = time.monotonic()
    _wait(proc, signum)
    stopped_in = time.monotonic() - started
    caller.join(60)
    run = _assert_consistent(db)
    assert run["status"] != "finished" and 20 <= int(run["recorded"]) < 300  # type: ignore[call-overload]
    assert isinstance(outcome[0], requests.RequestException)
    if signum == signal.SIGTERM:
        assert proc.returncode == 0 and stopped_in < 5, stopped_in
        assert "Traceback" not in (tmp_path / "server.stderr").read_text()
