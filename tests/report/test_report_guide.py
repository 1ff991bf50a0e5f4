"""The worked example in docs/migrating.md: the figures of each migration step stay true."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopbridge.report import build_report

from .conftest import REPO, report_json
from .guide_states import STATES, figures, render_table, write_state

GUIDE = REPO / "docs" / "migrating.md"

# The monitor serves real traffic in one test: keep its loop honest.
pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=250)


def _between(text: str, name: str) -> str:
    found = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.DOTALL)
    assert found is not None, f"docs/migrating.md lost its <!-- {name} --> markers"
    return found.group(1)


def test_guide_table_matches_a_report_of_each_step(tmp_path: Path) -> None:
    rows = {state: figures(write_state(tmp_path / f"s{i}", state))
            for i, state in enumerate(STATES)}
    fresh = render_table(rows)
    shown = _between(GUIDE.read_text(encoding="utf-8"), "report-example")
    assert shown == fresh, ("the report example in docs/migrating.md is out of date; "
                            "paste this table:\n" + fresh)


def test_guide_names_the_step_the_report_ranks_first() -> None:
    report = build_report(["legacy_app"])
    first = report.steps[0]
    shown = _between(GUIDE.read_text(encoding="utf-8"), "report-example-first-step")
    assert f"{first.function}() at {first.site.split(':')[0]}: {first.call} " \
           f"[{first.kind}, {first.status}]" in shown
    assert "bridge.http.map" in first.change and "bridge.http.map" in shown


@pytest.fixture(scope="module")
def busy_monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The monitor under waitress with 20 simulated sites, after real traffic; its stats URL."""
    from async_core.http import default_http_config, set_default_http_config
    from legacy_app import create_app
    from legacy_app.server import AppServer
    from legacy_app.simulator import Simulator

    tmp = tmp_path_factory.mktemp("report-guide")
    saved = default_http_config()
    with Simulator(sites=20, latency_ms=20, fixed=True) as sim:
        app = create_app({"INSTANCE_PATH": str(tmp), "DATABASE": str(tmp / "m.sqlite3"),
                          "SSRF_ALLOW": ["127.0.0.1"], "CHECK_TIMEOUT": 5.0,
                          "LOOPBRIDGE_STATS_URL": "/_loopbridge/stats"})
        server = AppServer(app, 0, threads=4, grace=1.0).start_in_thread()
        try:
            for i in range(20):
                _post(server.url + "/api/sites", {"url": sim.site_url(i)})
            _post(server.url + "/api/check-all", {"checker": "legacy"})
            _post(server.url + "/api/check-all", {"checker": "bridge"})
            for _ in range(5):
                with urllib.request.urlopen(server.url + "/api/sites", timeout=30) as resp:
                    assert resp.status == 200
            yield server.url + "/_loopbridge/stats"
        finally:
            server.stop()
            set_default_http_config(saved)


def _post(url: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.status in (200, 201)


def test_with_live_figures_the_legacy_check_loop_ranks_first(busy_monitor: str) -> None:
    data = report_json("legacy_app", "--stats", busy_monitor)
    check_all = {r["endpoint"]: r for r in data["routes"]}["api.check_all"]["live"]
    assert check_all["requests"] == 2 and check_all["bridged_calls"] >= 1
    # 20 sites x 20 ms one after the other in the legacy run: most of the route's time
    assert check_all["total_ms"] - check_all["bridged_ms"] >= 20 * 20
    first = data["steps"][0]   # the sampler saw the legacy run's requests waiting under this call
    assert first["basis"].startswith("measured: ") and first["function"] == "check_sites_legacy"
    assert first["measured_s"] >= 0.2
    shown = _between(GUIDE.read_text(encoding="utf-8"), "report-example-live")
    assert "check_sites_legacy()" in shown and "measured:" in shown
