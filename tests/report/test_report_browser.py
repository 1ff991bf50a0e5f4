"""The HTML report: self-contained, and rendered by a real browser (Debian's Chromium).

The page is written for the corpus shop with live per-endpoint figures, opened from a
``file://`` URL with every network request refused (and recorded), checked, and saved as a
screenshot in ``artifacts/report.png`` at the repository root.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, expect, sync_playwright

from .conftest import REPO, SHOP, run_report
from .test_report_cli import _stats_with_endpoints

CHROMIUM = os.environ.get("LOOPBRIDGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "artifacts"


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report-html")
    stats = tmp / "stats.json"
    stats.write_text(json.dumps(_stats_with_endpoints()))
    out = tmp / "report.html"
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        result = run_report(SHOP, "--stats", str(stats), "--format", "html", "-o", str(out))
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    return out


def test_page_is_self_contained(page_file: Path) -> None:
    text = page_file.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    for reference in (r"\bsrc\s*=", r"\bhref\s*=", r"url\(", r"@import", r"<link\b"):
        assert not re.search(reference, text), reference
    assert "<script>" not in text and "<script " not in text.replace(
        '<script type="application/json" id="report-data">', "")
    embedded = re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                         text, re.DOTALL)
    assert embedded is not None
    assert json.loads(embedded.group(1))["schema"] == "loopbridge-report/1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; a missing browser fails (CI installs it), never skips."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                    "(apt-get install chromium) or set LOOPBRIDGE_CHROMIUM to its path")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        yield chromium
        chromium.close()


def test_page_renders_the_chart_and_the_ranked_steps(browser: Browser, page_file: Path) -> None:
    data = json.loads(run_report(SHOP, "--format", "json").stdout)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    fetched: list[str] = []

    def refuse(route: Route) -> None:
        if not route.request.url.startswith("file://"):
            fetched.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", refuse)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(page_file.as_uri())
        expect(page).to_have_title("loopbridge report")
        expect(page.locator("#share-on-loop .big")).to_have_text("33.3 %")
        expect(page.locator("#share-routes-clean .big")).to_have_text("40.0 %")
        expect(page.locator("#live-note")).to_contain_text("per-endpoint figures for 3 of 10 routes")
        chart = page.locator("#route-chart")
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 200
        expected_bars = sum(1 for r in data["routes"] for n in r["counts"].values() if n)
        expect(chart.locator("rect.bar")).to_have_count(expected_bars)
        expect(chart.locator("rect.stalls_loop")).to_have_count(1)
        expect(chart).to_contain_text("GET /orders/")
        expect(chart).to_contain_text("100 req · 30000 ms off loop")
        steps = page.locator("#steps > li")
        expect(steps).to_have_count(len(data["steps"]))
        expect(steps.first).to_contain_text("fetch_rates")   # the live ranking puts it first
        expect(page.locator("#modules tbody tr")).to_have_count(len(data["modules"]))
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    finally:
        context.close()
    assert fetched == []
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_a_large_app_charts_its_worst_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from .synth import write_app

    write_app(tmp_path, 40)   # 200 routes
    monkeypatch.chdir(tmp_path)
    result = run_report("synthapp", "--format", "html")
    assert result.exit_code == 0
    page = result.stdout
    # 120 of the 200 have IO not on the loop: those are charted, never padded to 150 with the rest
    assert "The 120 routes with IO not on the loop, of 200 (the other 80 have none found)" in page
    assert page.count('<text x="0"') == 120
