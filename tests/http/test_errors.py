"""Every failure we can provoke maps to its class in our hierarchy (and its requests parent)."""

from __future__ import annotations

import http.server as stdlib_http_server
import socket
import ssl
import subprocess
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import requests
from yarl import URL

from async_core import (
    BodyTooLarge,
    TooManyRedirects,
    UpstreamConnectionError,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamReadTimeout,
    UpstreamTimeout,
)
from async_core._errors import InvalidURL, UpstreamPayloadError, UpstreamSSLError
from async_core.http import translate_error
from bridge import http

from .raw_server import OkHandler


@pytest.fixture(autouse=True)
def no_retries() -> None:
    http.configure(retries=0)


def test_connection_refused(closed_port: int) -> None:
    with pytest.raises(UpstreamConnectionError, match="could not connect") as info:
        http.get(f"http://127.0.0.1:{closed_port}/")
    assert type(info.value) is UpstreamConnectionError
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)


def test_connect_timeout(full_backlog: int) -> None:
    with pytest.raises(requests.ConnectTimeout) as info:
        http.get(f"http://127.0.0.1:{full_backlog}/", timeout=(0.2, 5))
    assert isinstance(info.value, UpstreamConnectTimeout)
    assert isinstance(info.value, requests.ConnectionError)  # as in requests


def test_read_timeout(base: str) -> None:
    with pytest.raises(requests.ReadTimeout) as info:
        http.get(f"{base}/hang", timeout=0.2)
    assert isinstance(info.value, UpstreamReadTimeout) and "read timeout (0.2s)" in str(info.value)


def test_read_timeout_between_body_chunks(base: str) -> None:
    with pytest.raises(UpstreamReadTimeout):
        http.get(f"{base}/slow-body/2000", params={"chunks": 2}, timeout=(1, 0.3))


def test_total_timeout(base: str) -> None:
    http.configure(total_timeout=0.3)
    with pytest.raises(UpstreamTimeout) as info:
        http.get(f"{base}/slow-body/3000", params={"chunks": 30}, timeout=5)
    assert "total_timeout" in str(info.value)


def test_dropped_connection(base: str) -> None:
    with pytest.raises(requests.ConnectionError, match="closed the connection") as info:
        http.get(f"{base}/drop")
    assert isinstance(info.value, UpstreamConnectionError)


def test_unknown_host() -> None:
    with pytest.raises(UpstreamConnectionError, match="resolve"):
        http.get("http://no-such-host.invalid/")


@pytest.mark.parametrize("chunked", [False, True])
def test_body_cap_with_and_without_content_length(base: str, chunked: bool) -> None:
    http.configure(max_body=1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge) as info:
            http.get(f"{base}/big/{64 * 1024 * 1024}", params={"chunked": "1"} if chunked else None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ("Content-Length" in str(info.value)) is not chunked
    assert isinstance(info.value, requests.RequestException)
    assert peak < 16 * 1024 * 1024  # 64 MiB were offered; we kept about max_body at most
    assert http.get(f"{base}/big/1000", params={"chunked": "1"} if chunked else None).content == b"x" * 1000


@pytest.fixture(scope="module")
def tls_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """An HTTPS server with a self-signed certificate (fails verification)."""
    d: Path = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")

    server = stdlib_http_server.ThreadingHTTPServer(("127.0.0.1", 0), OkHandler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_tls_verification_failure_and_verify_false(tls_port: int) -> None:
    with pytest.raises(requests.exceptions.SSLError) as info:
        http.get(f"https://127.0.0.1:{tls_port}/")
    assert isinstance(info.value, UpstreamSSLError)
    assert http.get(f"https://127.0.0.1:{tls_port}/", verify=False).text == "ok"


_KEY = aiohttp.client_reqrep.ConnectionKey("h", 80, False, True, None, None, None)


@pytest.mark.parametrize(("exc", "expected"), [
    (aiohttp.ConnectionTimeoutError(), UpstreamConnectTimeout),
    (aiohttp.SocketTimeoutError(), UpstreamReadTimeout),
    (aiohttp.ServerTimeoutError(), UpstreamReadTimeout),
    (TimeoutError(), UpstreamTimeout),
    (aiohttp.ClientConnectorError(_KEY, OSError(111, "refused")), UpstreamConnectionError),
    (aiohttp.ClientConnectorDNSError(_KEY, OSError(-2, "unknown")), UpstreamConnectionError),
    (aiohttp.ClientConnectorCertificateError(_KEY, ssl.SSLCertVerificationError("bad")), UpstreamSSLError),
    (aiohttp.ClientConnectorSSLError(_KEY, ssl.SSLError("bad")), UpstreamSSLError),
    (aiohttp.ServerDisconnectedError(), UpstreamConnectionError),
    (aiohttp.ClientOSError(104, "reset"), UpstreamConnectionError),
    (aiohttp.ClientPayloadError("truncated"), UpstreamPayloadError),
    (aiohttp.InvalidURL("x"), InvalidURL),
    (aiohttp.NonHttpUrlClientError("ftp://x"), InvalidURL),
    (ConnectionResetError(104, "reset"), UpstreamConnectionError),
    (aiohttp.ClientResponseError(None, (), status=400, message="bad status line"), UpstreamConnectionError),  # type: ignore[arg-type]
])
def test_translate_error_maps_each_aiohttp_error(exc: BaseException, expected: type) -> None:
    mapped = translate_error(exc, "GET", URL("http://h/"), (1.0, 2.0))
    assert type(mapped) is expected
    assert "GET http://h/" in str(mapped)
    assert isinstance(mapped, requests.RequestException)


def test_translate_error_keeps_an_error_of_ours_wrapped_by_aiohttp() -> None:
    inner = TooManyRedirects("ours")
    outer = aiohttp.ClientConnectorDNSError(_KEY, OSError("x"))
    outer.__cause__ = inner
    mapped = translate_error(outer, "GET", "http://h/")
    assert type(mapped) is TooManyRedirects and str(mapped) == "ours"
