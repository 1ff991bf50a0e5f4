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
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.test_wsgi_servers import BAD_OUTPUT, BIN, ROOT, _free_port, _stop, _wait_for_port, server_env  # noqa: F401

STATS = "/_loopbridge/stats"


def _get(url: str, timeout: float = 20) -> dict[str, Any]:
    req = urllib.request.Request(url, headers={"Connection": "close"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def _until_pids(url: str, want: int, rounds: int = 200) -> dict[int, dict[str, Any]]:
    """GET ``url`` (bounded rounds) until ``want`` distinct pids answered; pid -> last answer."""
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(rounds):
        body = _get(url)
        pid = body["process"]["pid"] if "process" in body else body["pid"]
        seen[pid] = body
        if len(seen) >= want:
            break
    return seen


class Server:
    """A server process on 127.0.0.1 and its port; ``stop()`` returns its stderr."""

    def __init__(self, cmd: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_port(port, self.proc, timeout=30)

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
