"""The live half measures where each route's time goes: a real app under waitress, real load.

The app queries SQLite through a helper the static half cannot see into (an unannotated
parameter), fans out through a thread pool to a slow local upstream, burns CPU in one route and
reads a small file in another. The extension's sampler (stats endpoint on) must lay the
waiting at the app's own lines, and the report must rank by that measured time.
"""

from __future__ import annotations

import http.server
import importlib
import json
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import report_json

pytestmark = pytest.mark.loopbridge_nostrict

APP = '''
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
import urllib.request

from flask import Flask

from bridge import LoopBridge

SLOW_SQL = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 400000) "
            "SELECT count(*) FROM c")
UPSTREAM = "http://127.0.0.1:1/"
POOL = ThreadPoolExecutor(4)


def run_query(db, sql):
    return db.execute(sql).fetchall()  # THE HIDDEN QUERY


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status


def create_app(upstream):
    global UPSTREAM
    UPSTREAM = upstream
    app = Flask(__name__)
    app.config["LOOPBRIDGE_STATS_URL"] = "/_loopbridge/stats"
    app.config["LOOPBRIDGE_STATS_SAMPLE_MS"] = 5
    LoopBridge(app)

    @app.get("/books")
    def books():
        return str(run_query(sqlite3.connect(":memory:"), SLOW_SQL))

    @app.get("/fan")
    def fan():
        return ",".join(str(s) for s in POOL.map(fetch, [UPSTREAM] * 8))  # THE FAN-OUT

    @app.get("/cpu")
    def cpu():
        end = time.perf_counter() + 0.04
        n = 0
        while time.perf_counter() < end:
            n += 1
        return str(n)

    @app.get("/readme")
    def readme():
        with open(__file__) as handle:
            return handle.read()[:10]

    @app.get("/never")
    def never():
        return "nobody asks"

    return app
'''


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        time.sleep(0.04)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def measured_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The app's source folder, its stats URL, and its stats after a bounded load."""
    from legacy_app.server import AppServer

    folder = tmp_path_factory.mktemp("measured") / "measuredapp"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "app.py").write_text(textwrap.dedent(APP))
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    upstream.daemon_threads = True
    up_thread = threading.Thread(target=upstream.serve_forever, name="slow-upstream", daemon=True)
    up_thread.start()
    sys.path.insert(0, str(folder.parent))
    try:
        module = importlib.import_module("measuredapp.app")
        app = module.create_app(f"http://127.0.0.1:{upstream.server_address[1]}/")
        server = AppServer(app, 0, threads=4, grace=1.0).start_in_thread()
        try:
            for _ in range(4):  # bounded: 4 rounds of 4 requests
                for path in ("/books", "/fan", "/cpu", "/readme"):
                    with urllib.request.urlopen(server.url + path, timeout=30) as resp:
                        assert resp.status == 200
            url = server.url + "/_loopbridge/stats"
            with urllib.request.urlopen(url, timeout=30) as resp:
                stats = json.loads(resp.read())
            yield str(folder), url, stats
        finally:
            server.stop()
            module.POOL.shutdown(wait=True)
    finally:
        sys.path.remove(str(folder.parent))
        for name in [n for n in sys.modules if n.startswith("measuredapp")]:
            del sys.modules[name]
        upstream.shutdown()
        upstream.server_close()
        up_thread.join(5)


def test_the_sampler_lays_waiting_at_the_app_s_own_lines(measured_app: tuple[str, str, dict[str, Any]]) -> None:
    _, _, stats = measured_app
    assert "loopbridge_stats" not in stats["endpoints"]  # its own endpoint is not the app's route
    blocked = stats["blocked"]["endpoints"]
    books, fan, cpu = blocked["books"], blocked["fan"], blocked["cpu"]
    assert books["blocked"] >= books["samples"] * 0.5, books
    top = books["where"][0]
    assert (top["function"], top["kind"], top["primitive"]) == ("run_query", "db", "execute"), books
    assert top["site"] == f"app.py:{APP.splitlines().index(next(l for l in APP.splitlines() if 'THE HIDDEN QUERY' in l)) + 1}"
    assert fan["fanout"] >= fan["samples"] * 0.5, fan
    place = fan["fanout_where"][0]
    assert (place["function"], place["worker"]) == ("create_app.<locals>.fan", "fetch"), fan
    assert place["max_parallel"] >= 2, fan
    assert cpu["samples"] and cpu["blocked"] + cpu["fanout"] <= cpu["samples"] * 0.2, cpu


def test_the_report_ranks_measured_waiting_first_and_names_the_fan_out(measured_app: tuple[str, str, dict[str, Any]]) -> None:
    folder, url, _ = measured_app
    data = report_json(folder, "--stats", url)
    routes = {r["endpoint"]: r for r in data["routes"]}
    assert routes["books"]["verdict"] == "measured_blocked"   # the static half found nothing there
    assert routes["books"]["counts"]["blocking"] == 1   # only the sqlite3.connect in the view itself
    cpu = routes["cpu"]   # running code, not waiting: clear, or nearly (a sample may catch its teardown)
    assert cpu["verdict"] == "measured_clear" or cpu["live"]["blocked"]["blocked_share"] < 0.2, cpu
    assert routes["never"]["verdict"] == "unknown"
    head = data["headline"]
    assert head["routes_measured_blocked"] >= 2 and head["routes_unknown"] == 1
    steps = data["steps"]
    measured = [s for s in steps if s["measured_s"]]
    assert {s["function"] for s in measured} >= {"run_query", "create_app.<locals>.fan"}
    assert steps[: len(measured)] == measured                  # measured time first
    fan = next(s for s in measured if s["function"] == "create_app.<locals>.fan")
    assert "bridge.http.map" in fan["change"] and "fetch()" in fan["change"]
    hidden = next(s for s in measured if s["function"] == "run_query")
    assert "not found statically" in hidden["basis"] and hidden["basis"].startswith("measured: ")
    readme = next(s for s in steps if s["kind"] == "file" and s["function"].endswith("readme"))
    if readme["measured_s"]:   # a sample caught the file read: then it is no "leave it"
        assert "leave it" not in readme["change"] and "measured, not cheap here" in readme["change"]
    else:                      # "usually cheap: leave it" never above a step that moves waiting
        assert "leave it" in readme["change"] and steps.index(readme) >= len(measured)
    connect = next(s for s in steps if s["call"] == "sqlite3.connect")   # found, but not where time went
    assert connect["measured_s"] is not None and connect["measured_s"] < hidden["measured_s"] / 4
    if connect["measured_s"] == 0.0:
        assert connect["payoff"] == 0.0 and connect["basis"].startswith("measured: not seen blocked")


def test_the_text_and_html_say_what_was_measured(measured_app: tuple[str, str, dict[str, Any]]) -> None:
    from .conftest import run_report

    folder, url, _ = measured_app
    text = run_report(folder, "--stats", url).stdout
    assert "Measured live (sampled worker threads):" in text
    assert "unknown: never seen live and no IO found statically" in text
    page = run_report(folder, "--stats", url, "--format", "html").stdout
    assert 'id="measured"' in page and "% blocked (measured)" in page
