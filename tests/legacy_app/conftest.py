"""Fixtures for the monitor's tests: a simulator, an app on a fresh database, a CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from legacy_app.simulator import Simulator

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_FLASH = re.compile(r'class="flash flash-(\w+)">([^<]*)<')


@pytest.fixture(autouse=True)
def restore_http_config() -> Iterator[None]:
    """The app factory sets the process's HTTP config (SSRF guard, retries): undo it after."""
    from async_core.http import default_http_config, set_default_http_config

    saved = default_http_config()
    yield
    set_default_http_config(saved)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """A simulator in a thread: 40 sites, exactly 5 ms each, never an error."""
    with Simulator(sites=40, latency_ms=5, fixed=True) as server:
        yield server


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    """Build the monitor on a fresh database in ``tmp_path``; settings override the defaults."""
    def build(**config: Any) -> Flask:
        base: dict[str, Any] = {"INSTANCE_PATH": str(tmp_path / "instance"),
                                "DATABASE": str(tmp_path / "monitor.sqlite3"),
                                "SSRF_ALLOW": ["127.0.0.1"], "CHECK_TIMEOUT": 2.0,
                                "CHECK_CONCURRENCY": 20}
        return _create(base | config)
    return build


def _create(config: dict[str, Any]) -> Flask:
    from legacy_app import create_app

    return create_app(config)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The monitor with default test settings."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of :func:`app`."""
    return app.test_client()


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token the dashboard hands out to this client's session."""
    match = _TOKEN.search(client.get("/").get_data(as_text=True))
    assert match, "the dashboard has no CSRF token field"
    return match.group(1)


def flashes(html: str) -> list[tuple[str, str]]:
    """The flash messages of a page as (category, text), HTML entities left as they are."""
    return _FLASH.findall(html)
