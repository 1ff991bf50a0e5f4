"""Fixtures of the HTTP tests: the real upstream simulator, and a clean HTTP state per test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from async_core import default_loop
from async_core.http import default_http_config, set_default_http_config
from legacy_app.simulator import Simulator

from .mock_support import Client, CountingServer
from .raw_server import RAW_ROUTES, RawServer, self_signed, server_context


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


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RawServer, Path]]:
    """A TLS raw server with a self-signed certificate, and a folder with ``cert.pem`` (its
    certificate, a CA bundle for it), ``notpem.txt`` (not a certificate) and ``cert-only.pem``
    (a certificate without its key)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(d)
    (d / "notpem.txt").write_text("this is not a certificate\n")
    (d / "cert-only.pem").write_bytes(cert.read_bytes())
    with RawServer(RAW_ROUTES, tls=server_context(cert, key)) as server:
        yield server, d


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listening port whose accept queue is full: connecting to it hangs (connect timeout)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    yield port
    for s in fillers:
        s.close()
    server.close()


# -- the HTTP mock-library tests (test_mocks_*.py) -----------------------------------------------------
@pytest.fixture
def server() -> Iterator[CountingServer]:
    """A fresh server on 127.0.0.1 counting the requests that reach it."""
    srv = CountingServer()
    yield srv
    srv.stop()


@pytest.fixture(params=["requests", "adapter", "facade"])
def client(request: pytest.FixtureRequest) -> Iterator[Client]:
    """Each mock example runs with stock requests (the baseline), the adapter and the facade."""
    c = Client(request.param)
    yield c
    c.close()


@pytest.fixture(params=["adapter", "facade"])
def ours(request: pytest.FixtureRequest) -> Iterator[Client]:
    """The adapter and the facade (for what stock requests cannot do, e.g. ``map``)."""
    c = Client(request.param)
    yield c
    c.close()
