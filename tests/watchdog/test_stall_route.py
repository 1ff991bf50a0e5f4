"""In production a stall report names the Flask request it happened for, besides the line."""

from __future__ import annotations

import asyncio
import time

import pytest
from flask import Flask

import bridge
from bridge import LoopBridge

from .conftest import THRESHOLD_MS, Watched, line_of
from .test_stall_reports import sleepy

pytestmark = pytest.mark.loopbridge_nostrict


async def slow_view_body() -> str:
    await asyncio.sleep(0)
    time.sleep(0.3)  # BLOCK: async view, deliberately  # noqa
    return "slow"


def make_app() -> Flask:
    app = Flask(__name__)
    app.config.update(LOOPBRIDGE_WATCHDOG_MS=THRESHOLD_MS)

    @app.get("/sites/<int:site_id>/check")
    async def check_site(site_id: int) -> str:
        return await slow_view_body()

    @app.post("/reports")
    def make_report() -> str:
        return bridge.run(sleepy())

    @app.get("/quick")
    async def quick() -> str:
        await asyncio.sleep(0)
        return "ok"

    LoopBridge(app)
    return app


def test_an_async_view_stall_names_method_rule_and_endpoint(watched: Watched) -> None:
    response = make_app().test_client().get("/sites/7/check")
    assert response.status_code == 200 and response.text == "slow"
    reports = watched.settle()
    assert len(reports) == 1, [r.format() for r in reports]
    report = reports[0]
    assert report.route == "GET /sites/<int:site_id>/check (endpoint check_site)"
    assert report.blamed is not None and report.blamed.lineno == line_of(slow_view_body, "BLOCK: async view")
    assert "request GET /sites/<int:site_id>/check (endpoint check_site)" in report.headline()
    assert report.as_dict()["route"] == report.route


def test_a_bridged_call_from_a_sync_view_names_its_request_and_stats_group_by_it(watched: Watched) -> None:
    client = make_app().test_client()
    assert client.post("/reports").text == "done"
    assert client.post("/reports").text == "done"
    assert client.get("/quick").text == "ok"
    bridge.run(sleepy())  # outside any request
    reports = watched.settle()
    assert [r.route for r in reports] == ["POST /reports (endpoint make_report)"] * 2 + [None]
    assert watched.watchdog.stats()["stalls_by_route"] == {
        "POST /reports (endpoint make_report)": 2,
        "(no request)": 1,
    }


def test_flask_loopbridge_stats_lists_stalls_by_request(watched: Watched) -> None:
    from loopbridge.flask_cli import loopbridge_cli

    app = make_app()
    assert app.test_client().post("/reports").text == "done"
    watched.settle()
    result = app.test_cli_runner().invoke(loopbridge_cli, ["stats"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = lines.index("  stalls by request:")
    assert lines[at + 1].split() == ["1", "POST", "/reports", "(endpoint", "make_report)"]
