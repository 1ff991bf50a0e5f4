"""LoopBridgeAdapter through SOCKS proxies (``loopbridge[socks]``), against a real SOCKS server.

Every scheme requests knows (socks4, socks4a, socks5, socks5h) with its meaning for who resolves
the name, credentials, a dead or broken proxy as requests' errors, streaming, https with the
certificate checked for the name, pooling per proxy, and the SSRF guard kept: names resolved
here go through it, names a proxy would resolve are refused while it is on.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import requests
import trustme
from aiohttp import web

from async_core import default_loop
from async_core.http import http_client
from bridge.http import LoopBridgeAdapter

from .socks_server import SocksServer, socks_server

pytestmark = pytest.mark.timeout(60)


class _Upstream:
    """An aiohttp app on 127.0.0.1 over http and https (a trustme CA), in a thread of its own."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("localhost", "127.0.0.1")
        self.ports: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None

    async def _echo(self, request: web.Request) -> web.Response:
        resp = web.json_response({"path": request.path_qs, "host": request.headers.get("Host")})
        resp.set_cookie("seen", "yes")
        return resp

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        for i in range(5):
            await resp.write(f"part{i};".encode())
        await resp.write_eof()
        return resp

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/echo", self._echo)
        app.router.add_get("/stream", self._stream)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        for scheme, tls in (("http", None), ("https", context)):
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
            await site.start()
            self.ports[scheme] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def url(self, scheme: str, host: str, path: str) -> str:
        return f"{scheme}://{host}:{self.ports[scheme]}{path}"

    def __enter__(self) -> _Upstream:
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            started.set()
            self._loop.run_forever()
            assert self._runner is not None
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        assert started.wait(10), "the upstream did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def upstream() -> Iterator[_Upstream]:
    with _Upstream() as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[SocksServer]:
    with socks_server() as server:
        yield server


def _session(proxy_url: str, **adapter_kwargs: object) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    adapter = LoopBridgeAdapter(**adapter_kwargs)  # type: ignore[arg-type]
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.proxies = {"http": proxy_url, "https": proxy_url}
    return session


@pytest.mark.parametrize(("scheme", "version", "sent"), [
    ("socks5", 5, "127.0.0.1"), ("socks5h", 5, "localhost"), ("socks4", 4, "127.0.0.1"), ("socks4a", 4, "localhost"),
])
def test_every_scheme_reaches_the_upstream_and_resolves_where_requests_says(
        upstream: _Upstream, proxy: SocksServer, scheme: str, version: int, sent: str) -> None:
    with _session(proxy.url(scheme)) as session:
        resp = session.get(upstream.url("http", "localhost", "/echo?a=1"), timeout=10)
        assert resp.status_code == 200 and resp.json()["path"] == "/echo?a=1"
        assert session.cookies.get("seen") == "yes"  # the Session's jar, as through a direct connection
    assert proxy.requests == [(version, sent, upstream.ports["http"])]


def test_credentials_are_sent_and_a_refusal_is_a_proxy_error(upstream: _Upstream) -> None:
    with socks_server(credentials=("alice", "s3cret")) as proxy:
        with _session(proxy.url("socks5", "alice", "s3cret")) as session:
            assert session.get(upstream.url("http", "127.0.0.1", "/echo"), timeout=10).status_code == 200
        with _session(proxy.url("socks5", "alice", "wrong-pass")) as session:
            with pytest.raises(requests.exceptions.ProxyError) as caught:
                session.get(upstream.url("http", "127.0.0.1", "/echo"), timeout=10)
    assert "wrong-pass" not in str(caught.value) and "SOCKS proxy" in str(caught.value)
    assert isinstance(caught.value, requests.exceptions.ConnectionError)


def test_a_dead_proxy_and_a_proxy_that_hangs_up_are_connection_errors(upstream: _Upstream, closed_port: int) -> None:
    with _session(f"socks5://127.0.0.1:{closed_port}") as session:
        with pytest.raises(requests.exceptions.ConnectionError, match="SOCKS proxy"):
            session.get(upstream.url("http", "127.0.0.1", "/echo"), timeout=5)

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(10)  # takes the greeting, answers nothing
        writer.close()

    async def serve(ready: asyncio.Future[int], stop: asyncio.Event) -> None:
        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        ready.set_result(server.sockets[0].getsockname()[1])
        await stop.wait()
        server.close()
        await server.wait_closed()

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready: asyncio.Future[int] = loop.create_future()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(ready, stop),), daemon=True)
    thread.start()
    port = asyncio.run_coroutine_threadsafe(asyncio.wait_for(asyncio.shield(ready), 10), loop).result(10)
    try:
        with _session(f"socks5://127.0.0.1:{port}") as session:
            with pytest.raises(requests.exceptions.ConnectionError):
                session.get(upstream.url("http", "127.0.0.1", "/echo"), timeout=5)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def test_https_through_the_proxy_checks_the_certificate_for_the_name(upstream: _Upstream, proxy: SocksServer,
                                                                     tmp_path: object) -> None:
    ca_file = f"{tmp_path}/ca.pem"
    upstream.ca.cert_pem.write_to_path(ca_file)
    with _session(proxy.url("socks5h")) as session:
        assert session.get(upstream.url("https", "localhost", "/echo"), verify=ca_file, timeout=10).json()["path"] == "/echo"
        with pytest.raises(requests.exceptions.SSLError):  # the system CAs do not know the test CA
            session.get(upstream.url("https", "localhost", "/echo"), timeout=10)


def test_streaming_and_keep_alive_through_one_pool_per_proxy(upstream: _Upstream, proxy: SocksServer) -> None:
    with _session(proxy.url("socks5")) as session:
        with session.get(upstream.url("http", "127.0.0.1", "/stream"), stream=True, timeout=10) as resp:
            assert b"".join(resp.iter_content(3)) == b"".join(f"part{i};".encode() for i in range(5))
        for _ in range(3):
            assert session.get(upstream.url("http", "127.0.0.1", "/echo"), timeout=10).ok
        assert proxy.connections == 1  # one pooled connection through the proxy, reused
        direct = requests.Session()
        direct.mount("http://", LoopBridgeAdapter())
        assert direct.get(upstream.url("http", "127.0.0.1", "/echo"), timeout=10).ok  # no proxy: the shared pool
        assert proxy.connections == 1
        stats = http_client(default_loop()).stats()
        assert stats["sessions"] == 2  # the shared pool and the proxy's


def test_the_ssrf_guard_checks_names_resolved_here_and_refuses_names_the_proxy_resolves(
        upstream: _Upstream, proxy: SocksServer) -> None:
    url = upstream.url("http", "localhost", "/echo")
    with _session(proxy.url("socks5"), block_private=True) as session:
        with pytest.raises(requests.exceptions.ConnectionError, match="loopback"):
            session.get(url, timeout=10)  # localhost resolved here, checked, refused
    with _session(proxy.url("socks5h"), block_private=True) as session:
        with pytest.raises(requests.exceptions.ConnectionError, match="resolves names itself"):
            session.get(url, timeout=10)
    with _session(proxy.url("socks5"), block_private=True) as session:
        with pytest.raises(requests.exceptions.ConnectionError, match="loopback"):
            session.get(upstream.url("http", "127.0.0.1", "/echo"), timeout=10)  # a literal: checked first
    assert proxy.requests == []  # nothing refused ever reached the proxy
    with _session(proxy.url("socks5"), block_private=True, allow=["127.0.0.1"]) as session:
        assert session.get(url, timeout=10).json()["path"] == "/echo"  # allowed: sent as the checked address
    assert proxy.requests == [(5, "127.0.0.1", upstream.ports["http"])]


def test_a_socks_url_needs_a_port_and_the_extra() -> None:
    with _session("socks5://127.0.0.1") as session:
        with pytest.raises(requests.exceptions.InvalidProxyURL, match="has no port"):
            session.get("http://127.0.0.1:9/", timeout=5)
    code = (
        "import sys; sys.modules['aiohttp_socks'] = None\n"
        "import requests, bridge.http as h\n"
        "s = requests.Session(); s.trust_env = False; s.mount('http://', h.LoopBridgeAdapter())\n"
        "try:\n"
        "    s.get('http://127.0.0.1:9/', proxies={'http': 'socks5://127.0.0.1:1080'}, timeout=5)\n"
        "except requests.exceptions.InvalidSchema as exc:\n"
        "    print('refused:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "refused: Missing dependencies for SOCKS support" in out.stdout, out.stderr
    assert "loopbridge[socks]" in out.stdout
