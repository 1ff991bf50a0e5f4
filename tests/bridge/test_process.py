"""Which process answered: the stats' ``"process"`` object and ``flask loopbridge stats``.

The real servers (gunicorn, uWSGI, waitress) are in tests/servers/test_fleet_servers.py; here the
plain process (the test client, the flask command) and the argument checks.
"""

from __future__ import annotations

import os
import socket

import pytest
from flask import Flask

from bridge import LoopBridge
from bridge._process import process_info
from loopbridge.flask_cli import format_stats, loopbridge_cli


def _app() -> Flask:
    app = Flask(__name__)
    app.config.update(LOOPBRIDGE_STATS_URL="/_loopbridge/stats")
    LoopBridge(app)
    return app


def test_stats_say_which_process_answered_and_that_no_server_was_found() -> None:
    data = _app().test_client().get("/_loopbridge/stats").get_json()
    process = data["process"]
    assert process["pid"] == os.getpid() and process["host"] == socket.gethostname()
    assert process["server"] is None and process["workers"] is None
    assert "other processes may serve the app" in process["note"] and "--stats URL --stats URL" in process["note"]


def test_a_waitress_environ_names_the_only_process() -> None:
    info = process_info({"SERVER_SOFTWARE": "waitress"})
    assert info["server"] == "waitress" and info["workers"] == 1
    assert "the only waitress process" in info["note"]


def test_process_info_refuses_a_non_mapping_environ() -> None:
    with pytest.raises(TypeError, match="WSGI environ mapping"):
        process_info("SERVER_SOFTWARE=waitress")  # type: ignore[arg-type]


def test_flask_loopbridge_stats_names_the_process() -> None:
    app = _app()
    result = app.test_cli_runner().invoke(loopbridge_cli, ["stats"])
    assert result.exit_code == 0, result.output
    assert f"process: pid {os.getpid()} on {socket.gethostname()}, no known WSGI server" in result.output


def test_format_stats_shows_a_served_answers_worker_count() -> None:
    text = format_stats({"state": "running", "process": {
        "pid": 7, "host": "web-1", "server": "gunicorn", "workers": 3, "note": "figures of one of 3 gunicorn workers"}})
    assert "process: pid 7 on web-1, gunicorn, 3 worker(s)" in text
    assert "one of 3 gunicorn workers" in text
