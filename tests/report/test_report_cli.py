"""The command: formats, the JSON schema, --fail-under, and the live half (file and URL)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopbridge.report import REQUIRED_FIELDS, SCHEMA

from .conftest import SHOP, report_json, run_report

# The monitor app serves the stats in one test: keep its loop honest.
pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=250)

_TOP_KEYS = {"schema", "paths", "headline", "routes", "modules", "sites", "steps", "live", "compare",
             "scan"}
_ROUTE_KEYS = {"endpoint", "rule", "methods", "view", "path", "line", "view_kind", "hooks", "clean",
               "counts", "by_kind", "sites", "live", "verdict", "verdict_text"}
_STEP_KEYS = {"rank", "function", "site", "sites", "call", "kind", "status", "change", "payoff",
              "basis", "routes", "measured_s"}


def test_json_has_the_documented_stable_schema() -> None:
    data = report_json(SHOP)
    assert data["schema"] == SCHEMA == "loopbridge-report/1"
    assert set(data) == _TOP_KEYS
    assert all(set(r) == _ROUTE_KEYS for r in data["routes"])
    assert all(set(s) == _STEP_KEYS for s in data["steps"])
    assert set(data["headline"]) == {"io_sites", "io_sites_on_loop", "share_on_loop", "routes",
                                     "routes_clean", "share_routes_clean", "stalls_loop_sites",
                                     "routes_measured_blocked", "routes_measured_clear", "routes_unknown"}
    documented = Path("docs/report.md").read_text(encoding="utf-8")
    for key in _TOP_KEYS | _ROUTE_KEYS | _STEP_KEYS:
        assert f"`{key}`" in documented, f"docs/report.md does not describe {key!r}"


def test_steps_are_ranked_by_pay_off_and_name_the_change() -> None:
    steps = report_json(SHOP)["steps"]
    assert [s["rank"] for s in steps] == list(range(1, len(steps) + 1))
    # by pay-off, but advice to leave a call as it is never above a step that moves waiting
    moving = [s["payoff"] for s in steps if "leave it" not in s["change"]]
    assert moving == sorted(moving, reverse=True)
    last_moving = max(i for i, s in enumerate(steps) if "leave it" not in s["change"])
    assert all("leave it" in s["change"] for s in steps[last_moving + 1:])
    assert any("leave it" in s["change"] for s in steps) and "leave it" not in steps[0]["change"]
    first = steps[0]
    assert first["status"] == "stalls_loop" and first["call"] == "requests.get"
    assert "aiohttp" in first["change"]          # the lint's own fix for LB101
    by_call = {s["call"]: s for s in steps}
    assert "bridge.http.get" in by_call["requests.get"]["change"] or any(
        "bridge.http.get" in s["change"] for s in steps if s["function"] == "fetch_rates")


def test_text_table_lists_routes_modules_and_steps() -> None:
    result = run_report(SHOP)
    assert result.exit_code == 0
    out = result.stdout
    assert "IO call sites on the loop: 5 of 15 (33.3 %)" in out
    assert "Routes with no blocking IO found statically: 4 of 10 (40.0 %); not found is not none left" in out
    assert re.search(r"POST\s+/orders/admin/reindex\s+orders\.admin\.reindex\s+sync", out)
    assert "Next steps (best pay-off first)" in out and "change: " in out


def test_fail_under_fails_the_build_below_the_share(tmp_path: Path) -> None:
    below = run_report(SHOP, "--fail-under", "34", "-o", str(tmp_path / "r.txt"))
    assert below.exit_code == 1
    assert "33.3 % of IO call sites on the loop, below --fail-under 34 %" in below.stderr
    assert (tmp_path / "r.txt").read_text().startswith("loopbridge report:")
    assert run_report(SHOP, "--fail-under", "33", "-o", str(tmp_path / "r.txt")).exit_code == 0


def test_missing_path_and_bad_stats_are_usage_errors(tmp_path: Path) -> None:
    assert run_report("no/such/dir").exit_code == 2
    bad = tmp_path / "stats.json"
    bad.write_text("[1, 2]")
    result = run_report(SHOP, "--stats", str(bad))
    assert result.exit_code == 2 and "not a JSON object" in result.output
    result = run_report(SHOP, "--stats", "ftp://x/stats")
    assert result.exit_code == 2 and "only http:// and https://" in result.output


def _stats_with_endpoints() -> dict[str, Any]:
    return {"pid": 1, "state": "running", "inflight": 0, "lag": {"stalls": 2},
            "endpoints": {
                "orders.list_orders": {"requests": 100, "total_ms": 30000.0, "bridged_ms": 0.0,
                                       "stalls": 0},
                "orders.notify": {"requests": 10, "total_ms": 2000.0, "bridged_ms": 500.0,
                                  "stalls": 0},
                "orders.show": {"requests": 5, "total_ms": 100.0, "bridged_ms": 90.0,
                                "stalls": 1},
                "gone.endpoint": {"requests": 1, "total_ms": 1.0, "bridged_ms": 0.0,
                                  "stalls": 0},
                "half.endpoint": {"requests": 3}}}


def test_live_figures_join_routes_and_drive_the_ranking(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps(_stats_with_endpoints()))
    data = report_json(SHOP, "--stats", str(stats))
    live = data["live"]
    assert live["per_endpoint"] is True and live["unmatched_endpoints"] == ["gone.endpoint"]
    assert "lack bridged_ms, stalls, total_ms" in live["note"]
    routes = {r["endpoint"]: r for r in data["routes"]}
    assert routes["orders.list_orders"]["live"] == {
        "requests": 100, "total_ms": 30000.0, "bridged_ms": 0.0, "stalls": 0, "bridged_calls": None,
        "bridged_share": 0.0, "blocked": None}
    assert routes["orders.show"]["live"]["bridged_share"] == 0.9
    assert routes["health"]["live"] is None
    text = run_report(SHOP, "--stats", str(stats)).stdout
    assert "Seen live but not found in the source: gone.endpoint" in text
    assert re.search(r"GET\s+/orders/\s+orders\.list_orders\s+sync .*\s100\s+30000\s+0\.0 %\s+-\s+0\s+"
                     r"blocking IO found statically \(\d+ call sites\)$", text, re.MULTILINE), text
    assert re.search(r"orders\.show\s+async .*\s5\s+100\s+90\.0 %\s+-\s+1\s+\S.*$", text, re.MULTILINE)
    # without sampled figures a route with no findings and no traffic is unknown, not clean
    assert routes["health"]["verdict"] == "unknown"
    first = data["steps"][0]   # 30 s of worker time in fetch_rates beats the rest
    assert first["function"] == "fetch_rates" and first["basis"].startswith("live: 30.000 s")


def test_stats_without_per_endpoint_figures_degrade_clearly(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"pid": 1, "state": "running", "lag": None}))
    result = run_report(SHOP, "--stats", str(stats))
    assert result.exit_code == 0
    assert "no per-endpoint figures" in result.stdout
    assert ", ".join(REQUIRED_FIELDS) in result.stdout
    data = report_json(SHOP, "--stats", str(stats))
    assert data["live"]["per_endpoint"] is False
    assert all(s["basis"].startswith("static") for s in data["steps"])


@pytest.fixture(scope="module")
def monitor_stats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The uptime monitor under waitress on 127.0.0.1 with its stats endpoint switched on."""
    from async_core.http import default_http_config, set_default_http_config
    from legacy_app import create_app
    from legacy_app.server import AppServer

    tmp = tmp_path_factory.mktemp("report-live")
    saved = default_http_config()
    app = create_app({"INSTANCE_PATH": str(tmp), "DATABASE": str(tmp / "m.sqlite3"),
                      "LOOPBRIDGE_STATS_URL": "/_loopbridge/stats"})
    server = AppServer(app, 0, threads=2, grace=1.0).start_in_thread()
    try:
        yield server.url + "/_loopbridge/stats"
    finally:
        server.stop()
        set_default_http_config(saved)


def test_stats_url_of_a_running_app_gives_each_route_its_traffic(monitor_stats_url: str) -> None:
    import urllib.request

    base = monitor_stats_url.removesuffix("/_loopbridge/stats")
    for path in ("/api/sites", "/api/sites", "/api/sites", "/api/runs", "/"):
        with urllib.request.urlopen(base + path, timeout=30) as resp:
            assert resp.status == 200
    data = report_json("legacy_app", "--stats", monitor_stats_url)
    live = data["live"]
    assert live["source"] == monitor_stats_url and live["per_endpoint"] is True
    assert live["process"]["state"] in ("new", "running")
    assert live["unmatched_endpoints"] == []      # every endpoint seen live is in the source
    routes = {r["endpoint"]: r for r in data["routes"]}
    sites, runs, home = (routes[e]["live"] for e in ("api.list_sites", "api.list_runs",
                                                     "views.dashboard"))
    assert (sites["requests"], runs["requests"], home["requests"]) == (3, 1, 1)
    assert sites["total_ms"] > 0 and sites["bridged_ms"] == 0 and sites["bridged_calls"] == 0
    assert routes["api.check_all"]["live"] is None          # no traffic, no figures
    assert data["steps"][0]["basis"].startswith(("live: ", "measured: "))  # measured when a sample caught one
    assert set(data["steps"][0]["routes"]) & {"api.list_sites", "api.list_runs", "views.dashboard"}


def test_unreachable_stats_url_is_a_usage_error() -> None:
    import socket

    with socket.socket() as sock:   # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_report(SHOP, "--stats", f"http://127.0.0.1:{port}/_loopbridge/stats")
    assert result.exit_code == 2
    assert "cannot read the stats from" in result.output and "LOOPBRIDGE_STATS_URL" in result.output


def test_a_tree_without_routes_or_io_reports_empty_shares(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "broken.py").write_text("def oops(:\n")
    data = report_json(str(tmp_path))
    assert data["headline"]["share_on_loop"] is None and data["headline"]["routes"] == 0
    assert len(data["scan"]["problems"]) == 1 and "LB901" in data["scan"]["problems"][0]
    text = run_report(str(tmp_path)).stdout
    assert "(no Flask routes found)" in text and "n/a" in text


def test_compare_shows_what_moved_and_fail_on_drop_guards_the_share(tmp_path: Path) -> None:
    import shutil

    shop = tmp_path / "shop"
    shutil.copytree(SHOP, shop)
    before = tmp_path / "before.json"
    assert run_report(str(shop), "--format", "json", "-o", str(before)).exit_code == 0
    helpers = shop / "helpers.py"
    helpers.write_text(helpers.read_text().replace(
        'requests.get("https://rates.example/today", timeout=5)',
        'bridge.http.get("https://rates.example/today", timeout=5)'))
    after = tmp_path / "after.json"
    result = run_report(str(shop), "--compare", str(before), "--fail-on-drop", "--format", "json",
                        "-o", str(after))
    assert result.exit_code == 0, result.output
    changes = json.loads(after.read_text())["compare"]
    assert changes["source"] == "before.json"
    assert changes["headline"]["io_sites_on_loop"] == {"before": 5, "now": 6}
    where = f"{shop}/helpers.py".replace("\\", "/")
    assert [m.endswith("fetch_rates() bridge.http.get") for m in changes["moved_to_loop"]] == [True]
    assert [m.endswith("fetch_rates() requests.get") for m in changes["blocking_removed"]] == [True]
    assert changes["routes_now_clean"] == ["orders.list_orders"] and not changes["share_dropped"]
    assert all(m.startswith(where) or "helpers.py" in m for m in changes["moved_to_loop"])
    text = run_report(str(shop), "--compare", str(before)).stdout
    assert "Since before.json: IO call sites on the loop 5 -> 6" in text
    assert "routes now clean: orders.list_orders" in text
    # the other way round the share dropped: --fail-on-drop fails the build
    helpers.write_text(helpers.read_text().replace("bridge.http.get(\"https://rates",
                                                   "requests.get(\"https://rates"))
    dropped = run_report(str(shop), "--compare", str(after), "--fail-on-drop")
    assert dropped.exit_code == 1
    assert "down from 40.0 % in after.json" in dropped.stderr


def test_compare_refuses_what_is_not_an_earlier_report(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "something/9"}))
    result = run_report(SHOP, "--compare", str(other))
    assert result.exit_code == 2 and "is not a loopbridge-report/1 report" in result.output
    assert run_report(SHOP, "--fail-on-drop").exit_code == 2
