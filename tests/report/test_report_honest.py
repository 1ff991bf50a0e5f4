"""What the report claims: only what it knows, in the words of how it knows it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from .conftest import run_report

pytestmark = pytest.mark.loopbridge_nostrict


def write(tmp_path: Path, name: str, source: str) -> str:
    app = tmp_path / name
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "views.py").write_text(textwrap.dedent(source))
    return str(app)


MIXED_LOOPS = """
    import sqlite3

    import requests
    from flask import Flask

    app = Flask(__name__)


    def sync_all(urls):
        conn = sqlite3.connect("app.db")
        try:
            for url in urls:
                conn.execute("INSERT INTO seen VALUES (?)", (url,))
                conn.execute("UPDATE counts SET n = n + 1")
            conn.execute("DELETE FROM stale")
            conn.commit()
        except sqlite3.Error:
            conn.rollback()
            raise


    @app.post("/sync")
    def sync():
        sync_all(["a", "b"])
        return "ok"
"""


def test_a_step_counts_its_calls_in_a_for_loop_as_the_json_marks_them(tmp_path: Path) -> None:
    app = write(tmp_path, "mixed", MIXED_LOOPS)
    data = json.loads(run_report(app, "--format", "json").stdout)
    step = next(s for s in data["steps"] if s["function"].endswith("sync_all") and s["kind"] == "db")
    marked = [site for site in data["sites"] if site["id"] in step["sites"] and site["in_loop"]]
    assert len(marked) == 2 and len(step["sites"]) > 2
    assert f"{len(step['sites'])} call(s), 2 in a for loop" in step["basis"], step["basis"]


def test_the_stats_endpoint_is_not_listed_as_a_route_seen_live(tmp_path: Path) -> None:
    app = write(tmp_path, "mixed", MIXED_LOOPS)
    figures = {"requests": 3, "total_ms": 30.0, "bridged_ms": 0.0, "stalls": 0}
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"pid": 1, "endpoints": {"loopbridge_stats": figures, "sync": figures}}))
    result = run_report(app, "--stats", str(stats))
    assert result.exit_code == 0
    assert "loopbridge_stats" not in result.stdout and "Seen live but not found" not in result.stdout
    data = json.loads(run_report(app, "--stats", str(stats), "--format", "json").stdout)
    assert data["live"]["unmatched_endpoints"] == []


def test_a_large_app_charts_only_the_routes_with_io_and_says_so(tmp_path: Path) -> None:
    views = ["from flask import Flask", "import requests", "app = Flask(__name__)"]
    for n in range(160):
        body = "    requests.get('http://example.test')\n" if n % 16 == 0 else ""
        views.append(f"@app.get('/page/{n}')\ndef page_{n}():\n{body}    return 'x'\n")
    app = tmp_path / "big"
    app.mkdir()
    (app / "views.py").write_text("\n".join(views))
    page = run_report(str(app), "--format", "html").stdout
    assert "The 10 routes with IO not on the loop, of 160 (the other 150 have none found)" in page
    assert page.count('<text x="0"') == 10


def test_a_query_a_template_runs_is_a_step_with_the_eager_loading_change(tmp_path: Path) -> None:
    app = write(tmp_path, "mixed", MIXED_LOOPS)
    figures = {"requests": 10, "total_ms": 900.0, "bridged_ms": 0.0, "stalls": 0}
    where = [{"site": "index.html:364", "function": "block_body", "kind": "db", "primitive": "execute",
              "samples": 12, "via": []}]
    blocked = {"interval_ms": 50.0, "endpoints": {"sync": {
        "samples": 18, "blocked": 12, "fanout": 0, "bridged": 0, "running": 6, "where": where, "fanout_where": []}}}
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"pid": 1, "endpoints": {"sync": figures}, "blocked": blocked}))
    data = json.loads(run_report(app, "--stats", str(stats), "--format", "json").stdout)
    first = data["steps"][0]
    assert (first["function"], first["site"], first["measured_s"]) == ("block_body", "index.html:364", 0.6)
    assert "selectinload" in first["change"] and "template" in first["change"]
    route = next(r for r in data["routes"] if r["endpoint"] == "sync")
    assert route["verdict"] == "measured_blocked" and route["live"]["blocked"]["blocked_share"] == 0.6667


def test_waiting_sampled_under_an_endpoint_the_source_does_not_declare_still_ranks(tmp_path: Path) -> None:
    app = write(tmp_path, "mixed", MIXED_LOOPS)
    figures = {"requests": 10, "total_ms": 900.0, "bridged_ms": 0.0, "stalls": 0}
    where = [{"site": "views.py:11", "function": "sync_all", "kind": "db", "primitive": "connect", "samples": 8}]
    row = {"samples": 10, "blocked": 8, "fanout": 0, "bridged": 0, "running": 2, "where": where}
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"pid": 1, "endpoints": {"web.registered_at_run_time": figures},
                                 "blocked": {"interval_ms": 50.0, "endpoints": {"web.registered_at_run_time": row}}}))
    data = json.loads(run_report(app, "--stats", str(stats), "--format", "json").stdout)
    assert data["live"]["unmatched_endpoints"] == ["web.registered_at_run_time"]
    first = data["steps"][0]   # the static step of that line, measured through the undeclared route
    assert first["function"] == "sync_all" and first["measured_s"] == 0.4
    assert "web.registered_at_run_time" in first["routes"]
