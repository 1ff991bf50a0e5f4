"""Fixtures of the HTTP tests: the real upstream simulator, and a clean HTTP state per test."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from async_core import default_loop
from async_core.http import default_http_config, set_default_http_config
from legacy_app.simulator import Simulator


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    """One simulator for the HTTP tests (in a thread of this process, its own loop)."""
    with Simulator(sites=50, latency_ms=5, fixed=True) as simulator:
        yield simulator


@pytest.fixture
def base(sim: Simulator) -> str:
    """The simulator's base URL, ``http://127.0.0.1:PORT``."""
    return sim.base_url


@pytest.fixture(autouse=True)
def clean_http() -> Iterator[None]:
    """Each test starts with a stopped loop and the default HTTP config, and leaves them so."""
    saved = default_http_config()
    default_loop().stop(grace=2)
    yield
    default_loop().stop(grace=2)
    set_default_http_config(saved)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
