"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright.

The monitor is served by waitress on 127.0.0.1 and checks sites of the local simulator.
A screenshot of the final dashboard is saved to ``artifacts/`` at the repository root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from legacy_app import create_app
from legacy_app.server import AppServer
from legacy_app.simulator import Simulator

# The monitor's tests run in loopbridge strict mode: a stalled loop fails the test.
pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=250)

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
