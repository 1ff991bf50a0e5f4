"""The dashboard: down sites first, status filter, sortable columns, readable times, the two
runs compared fairly, and a check-all in progress shown while it runs."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from legacy_app import dashboard as board
from legacy_app import storage
from legacy_app.db import get_db
from legacy_app.simulator import Simulator

pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=250)

_ROW = re.compile(r'<tr id="site-(\d+)"[^>]*data-state="(\w+)"')
NOW = dt.datetime(2026, 1, 2, 12, 0, 0, tzinfo=dt.UTC)


def _site(i: int, state: str, latency: float | None, name: str = "") -> dict[str, object]:
    return {"id": i, "name": name or f"s{i}", "state": state, "latency_ms": latency, "status_code": None,
            "uptime_pct": None, "checked_at": None}


def test_select_sites_puts_down_first_and_filters_and_sorts() -> None:
    sites = [_site(1, "up", 30), _site(2, "down", None), _site(3, "unknown", None), _site(4, "down", 5),
             _site(5, "up", 10)]
    assert [s["id"] for s in board.select_sites(sites)] == [2, 4, 3, 1, 5]
    assert [s["id"] for s in board.select_sites(sites, "down")] == [2, 4]
    assert [s["id"] for s in board.select_sites(sites, sort="latency")] == [4, 5, 1, 2, 3]
    # empty values stay last in either order
    assert [s["id"] for s in board.select_sites(sites, sort="latency", order="desc")] == [1, 5, 4, 2, 3]
    assert board.select_sites(sites, "bogus", "bogus") == board.select_sites(sites)
    assert board.count_states(sites) == {"all": 5, "down": 2, "up": 2, "unknown": 1}


@pytest.mark.parametrize(("iso", "text"), [
    (None, "never"), ("2026-01-02T11:59:55.100Z", "just now"), ("2026-01-02T11:59:18.000Z", "42 s ago"),
    ("2026-01-02T11:57:00.000Z", "3 min ago"), ("2026-01-02T07:00:00.000Z", "5 h ago"),
    ("2025-12-31T11:00:00.000Z", "2 days ago"), ("2026-01-01T11:00:00.000Z", "1 day ago"), ("garbage", "never"),
])
def test_ago_reads_like_a_person_would_say_it(iso: str | None, text: str) -> None:
    assert board.ago(iso, NOW) == text


def test_comparison_explains_why_up_counts_differ() -> None:
    legacy, bridge = {"ok_count": 295}, {"ok_count": 292}
    line = board.comparison(legacy, bridge, {"common": 300, "same": 291, "up_first": 6, "up_second": 3})
    assert line.startswith("Same 300 sites; 9 answered differently") and "(295 vs 292)" in line and "flaky" in line
    same = board.comparison(legacy | {"ok_count": 292}, bridge, {"common": 300, "same": 300, "up_first": 0,
                                                                  "up_second": 0})
    assert same == "Same 300 sites, same results (292 up in each)."
    assert "different sites" in board.comparison(legacy, bridge, {"common": 0, "same": 0, "up_first": 0,
                                                                   "up_second": 0})


def test_dashboard_lists_down_sites_first_with_filter_and_sort(client: FlaskClient, sim: Simulator) -> None:
    app = client.application
    with app.app_context():
        conn = get_db()
        for i in range(3):
            storage.add_site(conn, sim.site_url(i), f"ok {i}")
        storage.add_site(conn, f"{sim.base_url}/status/503", "broken")
    assert client.post("/api/check-all", json={"checker": "legacy"}).status_code == 200
    html = client.get("/").get_data(as_text=True)
    rows = _ROW.findall(html)
    assert [state for _, state in rows] == ["down", "up", "up", "up"]
    assert 'id="filter-down"' in html and 'aria-sort="ascending"' in html
    assert re.search(r'<time datetime="[0-9T:.\-]+Z" title="[0-9T:.\-]+Z">just now</time>', html)
    down_only = _ROW.findall(client.get("/?status=down").get_data(as_text=True))
    assert [state for _, state in down_only] == ["down"]
    by_name_desc = client.get("/?sort=name&order=desc").get_data(as_text=True)
    assert [int(i) for i, _ in _ROW.findall(by_name_desc)] == [3, 2, 1, 4]
    assert "No unknown sites." in client.get("/?status=unknown").get_data(as_text=True)


def test_dashboard_shows_both_runs_per_call_and_whole_run(client: FlaskClient, sim: Simulator) -> None:
    with client.application.app_context():
        for i in range(4):
            storage.add_site(get_db(), sim.site_url(i), f"ok {i}")
    for checker in ("legacy", "bridge"):
        assert client.post("/api/check-all", json={"checker": checker}).status_code == 200
    html = client.get("/").get_data(as_text=True)
    assert html.count('<span class="label">whole run</span>') == 2 and html.count("per call (median · p95)") == 2
    assert 'id="comparison">Same 4 sites, same results (4 up in each).' in html
    assert 'id="latency-note">Per call vs whole run' in html and "up to 20 calls in flight" in html


def test_a_running_check_all_is_shown_with_its_progress(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        run_id = storage.start_run(get_db(), "legacy", 300)
        storage.record_results(get_db(), run_id, [])
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'<section id="progress" class="card progress"\s+data-poll', html)  # not hidden
    assert '<progress id="progress-bar" max="300"' in html and "Checking 0 of 300 sites" in html
    runs = client.get("/api/runs?limit=1").get_json()["runs"]
    assert runs[0]["status"] == "running" and runs[0]["planned"] == 300
    with app.app_context():
        storage.finish_run(get_db(), run_id, 10.0)
    assert re.search(r'<section id="progress" class="card progress" hidden', client.get("/").get_data(as_text=True))


def test_run_latencies_and_compare_runs(app: Flask) -> None:
    with app.app_context():
        conn = get_db()
        sites = [storage.add_site(conn, f"http://127.0.0.1:9/{i}") for i in range(4)]
        first, second = storage.start_run(conn, "legacy", 4), storage.start_run(conn, "bridge", 4)
        for run_id, oks in ((first, [1, 1, 0, 1]), (second, [1, 0, 1, 1])):
            storage.record_results(conn, run_id, [
                storage.CheckResult(s.id, bool(ok), 200 if ok else 503, 10.0 * (n + 1)) for n, (s, ok)
                in enumerate(zip(sites, oks))])
        assert storage.run_latencies(conn, first) == {"median_ms": 30.0, "p95_ms": 40.0}
        assert storage.compare_runs(conn, first, second) == {"common": 4, "same": 2, "up_first": 1, "up_second": 1}
        assert storage.run_latencies(conn, 999) == {"median_ms": None, "p95_ms": None}


def test_demo_summary_says_why_up_counts_differ() -> None:
    from legacy_app.demo import summary

    assert summary({"duration_ms": 800.0, "ok_count": 7}, {"duration_ms": 100.0, "ok_count": 7}).endswith(
        "8.0x faster over the whole run; same sites, same up count (7)")
    line = summary({"duration_ms": 800.0, "ok_count": 295}, {"duration_ms": 100.0, "ok_count": 292})
    assert "up counts differ (295 vs 292)" in line and "flaky" in line
