"""The watchdog's figures through Flask: the JSON stats endpoint and ``flask loopbridge stats``."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.cli import FlaskGroup

import bridge
from bridge import LoopBridge
from loopbridge.flask_cli import format_stats, loopbridge_cli

from .conftest import THRESHOLD_MS, Watched, line_of
from .test_stall_reports import sleepy

pytestmark = pytest.mark.loopbridge_nostrict

STATS_URL = "/_loopbridge/stats"


def make_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(LOOPBRIDGE_STATS_URL=STATS_URL, LOOPBRIDGE_WATCHDOG_MS=THRESHOLD_MS, LOOPBRIDGE_STATS_SOURCE=True)
    app.config.update(config)
    LoopBridge(app)
    return app


def stall_once(watched: Watched) -> str:
    bridge.run(sleepy())
    watched.settle()
    return f"{sleepy.__code__.co_filename}:{line_of(sleepy, 'BLOCK: sleep')}"


def test_stats_endpoint_shows_lag_stalls_and_the_last_stack(watched: Watched) -> None:
    location = stall_once(watched)
    response = make_app().test_client().get(STATS_URL)
    assert response.status_code == 200
    data = response.get_json()
    assert data["state"] == "running" and data["inflight"] == 0
    assert data["lag"]["stalls"] == 1
    assert data["lag"]["worst_ms"] >= 150
    assert data["lag"]["last_stall_location"] == location
    watchdog = data["resources"]["watchdog"]
    assert watchdog["threshold_ms"] == THRESHOLD_MS
    assert sum(watchdog["lag_histogram"].values()) == watchdog["heartbeats"]
    assert "time.sleep(0.3)" in watchdog["last_stall_stack"]
    assert watchdog["last_stall"]["blamed"]["kind"] == "user"


def test_flask_loopbridge_stats_prints_the_figures(watched: Watched) -> None:
    location = stall_once(watched)
    app = make_app()
    result = app.test_cli_runner().invoke(loopbridge_cli, ["stats"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "loopbridge loop 'loopbridge-loop'" in out and ": running" in out
    assert "bridged calls: 0 in flight" in out
    assert f"watchdog: threshold {THRESHOLD_MS} ms, strict off" in out
    assert "stalls: 1" in out
    assert location in out and "time.sleep(0.3)" in out


def test_flask_loopbridge_stats_json_matches_the_endpoint(watched: Watched) -> None:
    stall_once(watched)
    app = make_app()
    result = app.test_cli_runner().invoke(loopbridge_cli, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["lag"]["stalls"] == 1
    served = app.test_client().get(STATS_URL).get_json()
    # the endpoint adds the app's own per-endpoint figures and where their time goes (sampled);
    # the loop's figures are the same keys
    assert set(data) == set(served) - {"endpoints", "blocked"}
    assert "endpoints" in served and "blocked" in served


def test_the_command_is_found_through_the_flask_commands_entry_point(watched: Watched) -> None:
    app = make_app()
    group = FlaskGroup(create_app=lambda: app)
    result = app.test_cli_runner().invoke(group, ["loopbridge", "stats"])
    assert result.exit_code == 0, result.output
    assert "watchdog: threshold" in result.output


def test_stats_url_option_reads_a_running_server(watched: Watched) -> None:
    app = make_app()
    result = app.test_cli_runner().invoke(loopbridge_cli, ["stats", "--url", "http://127.0.0.1:9/nothing", "--timeout", "1"])
    assert result.exit_code != 0
    assert "could not read loopbridge stats from http://127.0.0.1:9/nothing" in result.output


def test_format_stats_says_when_the_watchdog_is_off() -> None:
    text = format_stats({"state": "running", "watchdog_ms": 0, "resources": {"http": {"pool_in_use": 3}}})
    assert "watchdog: off (LOOPBRIDGE_WATCHDOG_MS=0)" in text
    assert "http:\n  pool_in_use: 3" in text


def test_the_lag_histogram_prints_in_numeric_order_even_from_sorted_json() -> None:
    histogram = {"<=1000ms": 1, "<=100ms": 2, "<=10ms": 3, "<=1ms": 4, ">5000ms": 5, "<=5000ms": 6}
    data = json.loads(json.dumps({"resources": {"watchdog": {"lag_histogram": histogram, "threshold_ms": 500}},
                                  "watchdog_ms": 500}, sort_keys=True))
    text = format_stats(data)
    line = next(line for line in text.splitlines() if "lag histogram" in line)
    assert line.strip() == "lag histogram: <=1ms 4, <=10ms 3, <=100ms 2, <=1000ms 1, <=5000ms 6, >5000ms 5"
