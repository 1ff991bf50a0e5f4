"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright.

The monitor is served by waitress on 127.0.0.1 and checks sites of the local simulator.
Screenshots go to ``artifacts/`` at the repository root: the first test's dashboard and site
page, and ``artifacts/browser/<test name>/`` for the dashboard of a busy monitor (progress
of a running check, down sites first, filtered, sorted).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from legacy_app import create_app, storage
from legacy_app.db import get_db
from legacy_app.server import AppServer
from legacy_app.simulator import Simulator

# The monitor's tests run in loopbridge strict mode: a stalled loop fails the test. Here
# Chromium renders on the same two cores as the app, the simulator and the loop, so a loop
# turn can wait a few hundred ms for a CPU; 1 s still catches any real blocking call.
pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=1000)

CHROMIUM = os.environ.get("LOOPBRIDGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; a missing browser fails (CI installs it), never skips."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                    "(apt-get install chromium) or set LOOPBRIDGE_CHROMIUM to its path; "
                    "`playwright install` cannot download browsers here")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def monitor_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Simulator]]:
    """The monitor under waitress on a free port, with an empty database, and a simulator."""
    from async_core.http import default_http_config, set_default_http_config

    tmp = tmp_path_factory.mktemp("browser")
    saved = default_http_config()  # the factory sets the process's SSRF guard; undo it after
    with Simulator(sites=10, latency_ms=5, fixed=True) as sim:
        app = create_app({"INSTANCE_PATH": str(tmp), "DATABASE": str(tmp / "monitor.sqlite3"),
                          "SSRF_ALLOW": ["127.0.0.1"], "CHECK_TIMEOUT": 5.0})
        server = AppServer(app, 0, threads=4, grace=1.0).start_in_thread()
        try:
            yield server.url, sim
        finally:
            server.stop()
            set_default_http_config(saved)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def test_add_a_site_run_a_check_and_see_its_status(page: Page, monitor_url: tuple[str, Simulator]) -> None:
    url, sim = monitor_url
    page.goto(url + "/")
    expect(page).to_have_title("Dashboard · loopbridge demo")
    expect(page.get_by_text("No sites yet")).to_be_visible()

    page.fill("#url", sim.site_url(2))
    page.fill("#name", "Browser shop")
    page.click("#add-site")
    expect(page.locator(".flash-success")).to_have_text(f"Added Browser shop ({sim.site_url(2)}).")
    row = page.locator("tr", has_text="Browser shop")
    expect(row.locator(".badge")).to_have_text("unknown")

    page.select_option("#checker", "bridge")
    page.click("#check-all")
    expect(page.locator(".flash-success")).to_contain_text("Checked 1 site in")
    expect(row.locator(".badge")).to_have_text("up")
    expect(row).to_contain_text("100.0 %")

    page.select_option("#checker", "legacy")
    page.click("#check-all")
    expect(page.locator("#speedup")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    row.get_by_role("link", name="Browser shop").click()
    page.click("#probe")
    expect(page.locator(".flash-success")).to_contain_text("Browser shop is up: HTTP 200")
    expect(page.locator("table.checks tbody tr")).to_have_count(3)
    page.screenshot(path=str(ARTIFACTS / "site.png"), full_page=True)


def test_invalid_url_shows_the_reason(page: Page, monitor_url: tuple[str, Simulator]) -> None:
    url, _ = monitor_url
    page.goto(url + "/")
    page.fill("#url", "http://10.0.0.7/")
    page.click("#add-site")
    expect(page.locator(".flash-error")).to_contain_text("private or local address")


# --- the dashboard of a busy monitor: progress, down first, filter, sort ------------------

SHOTS = ARTIFACTS / "browser" / "test_dashboard_progress_filter_and_sort"
DOWN_PATHS = ("/status/503", "/status/500", "/status/404")


@pytest.fixture
def busy_monitor(tmp_path: Path) -> Iterator[tuple[str, Simulator]]:
    """30 sites at 150 ms (a serial check takes about 4.5 s) and 3 sites that always fail."""
    from async_core.http import default_http_config, set_default_http_config

    saved = default_http_config()
    with Simulator(sites=30, latency_ms=150, fixed=True) as sim:
        app = create_app({"INSTANCE_PATH": str(tmp_path), "DATABASE": str(tmp_path / "busy.sqlite3"),
                          "SSRF_ALLOW": ["127.0.0.1"], "CHECK_TIMEOUT": 5.0, "CHECK_CONCURRENCY": 30})
        with app.app_context():
            conn = get_db()
            for i, url in enumerate(sim.site_urls()):
                storage.add_site(conn, url, f"Site {i:02d}")
            for path in DOWN_PATHS:
                storage.add_site(conn, sim.base_url + path, f"Broken {path.rsplit('/', 1)[1]}")
        server = AppServer(app, 0, threads=4, grace=1.0).start_in_thread()
        try:
            yield server.url, sim
        finally:
            server.stop()
            set_default_http_config(saved)


def _check_all_in_background(url: str, checker: str) -> threading.Thread:
    def post() -> None:
        requests.post(f"{url}/api/check-all", json={"checker": checker}, timeout=60).raise_for_status()
    worker = threading.Thread(target=post, name=f"browser-test-check-{checker}", daemon=True)
    worker.start()
    return worker


def _latencies(page: Page) -> list[float]:
    values = page.locator("table.sites tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.latency)")
    return [float(v) for v in values if v]


def test_dashboard_progress_filter_and_sort(page: Page, busy_monitor: tuple[str, Simulator]) -> None:
    url, _ = busy_monitor
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(url + "/")
    expect(page.locator("#progress")).to_be_hidden()

    # The first check runs in the background: the page shows its progress, then its result.
    worker = _check_all_in_background(url, "legacy")
    expect(page.locator("#progress")).to_be_visible(timeout=10_000)
    expect(page.locator("#progress-text")).to_contain_text("of 33 sites with the legacy checker")
    page.wait_for_function("document.getElementById('progress-bar').value >= 3", timeout=10_000)
    value = page.locator("#progress-bar").evaluate("bar => [bar.value, bar.max]")
    assert 3 <= value[0] < value[1] == 33, value
    page.screenshot(path=str(SHOTS / "1-progress.png"), full_page=True)
    worker.join(60)
    assert not worker.is_alive()
    expect(page.locator("#progress")).to_be_hidden(timeout=10_000)  # reloaded at the end of the run
    expect(page.locator("#run-legacy .big").first).to_contain_text(" s")

    _check_all_in_background(url, "bridge").join(60)
    page.reload()
    expect(page.locator("#speedup")).to_be_visible()
    expect(page.locator("#comparison")).to_contain_text("Same 33 sites, same results (30 up in each)")
    expect(page.locator("#latency-note")).to_contain_text("Per call vs whole run")
    expect(page.locator("#run-bridge .per-call")).to_contain_text("ms")

    # Down sites come first, each with its error; times read "just now" with the ISO time on hover.
    rows = page.locator("table.sites tbody tr")
    expect(rows).to_have_count(33)
    states = rows.evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert states[:3] == ["down"] * 3 and set(states[3:]) == {"up"}, states
    stamp = rows.first.locator("time")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", stamp.get_attribute("title") or "")
    expect(stamp).to_have_text(re.compile(r"just now|\d+ s ago"))
    page.screenshot(path=str(SHOTS / "2-down-first.png"), full_page=True)

    # Filter to the down sites.
    page.click("#filter-down")
    expect(page.locator("#filter-down")).to_have_class(re.compile(r"\bactive\b"))
    expect(rows).to_have_count(3)
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.state)")) == {"down"}
    expect(page.locator("#filter-down .count")).to_have_text("3")
    page.screenshot(path=str(SHOTS / "3-filter-down.png"), full_page=True)

    # Back to all, sorted by latency: ascending, then descending on a second click.
    page.click("#filter-all")
    page.click("a.sort[data-sort=latency]")
    expect(page.locator("a.sort[data-sort=latency]")).to_have_attribute("aria-sort", "ascending")
    ascending = _latencies(page)
    assert len(ascending) == 33 and ascending == sorted(ascending)
    page.click("a.sort[data-sort=latency]")
    expect(page.locator("a.sort[data-sort=latency]")).to_have_attribute("aria-sort", "descending")
    descending = _latencies(page)
    assert descending == sorted(descending, reverse=True) and descending != ascending
    page.screenshot(path=str(SHOTS / "4-sort-latency-desc.png"), full_page=True)
