"""The demo's link to the migration report: written from the running app's live figures."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from legacy_app.demo import STATS_PATH, write_report


@pytest.fixture
def served(make_app: Callable[..., Flask], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    report = tmp_path / "report.html"
    app = make_app(LOOPBRIDGE_STATS_URL=STATS_PATH, REPORT_PATH=str(report))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="monitor", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", report
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_report_page_is_a_404_with_a_hint_until_written(served: tuple[str, Path]) -> None:
    base, _ = served
    resp = requests.get(f"{base}/report", timeout=10)
    assert resp.status_code == 404 and "loopbridge report" in resp.text


def test_the_demo_writes_the_report_with_live_figures_and_serves_it(served: tuple[str, Path]) -> None:
    base, report = served
    assert requests.get(f"{base}/", timeout=10).status_code == 200  # live traffic to report on
    assert "Migration report" in requests.get(f"{base}/", timeout=10).text  # the header links it
    assert write_report(base, report) == str(report)
    page = requests.get(f"{base}/report", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "IO call sites" in page.text and "dashboard" in page.text  # the static half and a live endpoint


def test_the_text_form_gives_the_headline(served: tuple[str, Path]) -> None:
    base, _ = served
    text = write_report(base, None)
    assert text is not None and "IO call sites on the loop:" in text and "Live stats:" in text
