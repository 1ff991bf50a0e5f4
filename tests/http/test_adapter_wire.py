"""What real requests clients send and read, through LoopBridgeAdapter exactly as through HTTPAdapter.

Each test is one defect class found running real clients with the adapter mounted: header values
given as bytes, urllib3's SKIP_HEADER, the reason phrase, ``raw._original_response``, TLS settings
that cannot load, a bad chunk size, the body cap while streaming, the loop stopping mid-body, and
connections that outlived their Session. docs/http.md ("What differs from HTTPAdapter") lists
what cannot be the same.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from urllib3.util import SKIP_HEADER, SKIPPABLE_HEADERS

import bridge.http
from async_core import BodyTooLarge, LoopNotRunning, default_loop
from async_core.http import http_client
from bridge.http import LoopBridgeAdapter

from .raw_server import RAW_ROUTES, OkHandler, RawServer, answer, wait_until

ROUTES = {
    **RAW_ROUTES,
    "/big-chunked": lambda head: answer(headers=[(b"Transfer-Encoding", b"chunked")],
                                        body=b"1388\r\n" + b"b" * 5000 + b"\r\n0\r\n\r\n", length=False),
}


@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    with RawServer(ROUTES) as server:
        yield server


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with bridge.http.Session() as s:
        yield s


def _sent(server: RawServer) -> list[bytes]:
    """The header lines of the last request the server got."""
    return server.requests[-1].split(b"\r\n\r\n")[0].split(b"\r\n")[1:]


# -- what goes out ---------------------------------------------------------------------------------
def test_bytes_header_values_are_sent_as_their_bytes(session: requests.Session, raw: RawServer) -> None:
    session.post(raw.url("/ok"), data=b"a=1", headers={"Authorization": b"Basic dXNlcjpwdw==",
                                                        "Content-Type": b"application/x-www-form-urlencoded",
                                                        "X-Utf8": "ü".encode()})
    sent = _sent(raw)
    assert b"Authorization: Basic dXNlcjpwdw==" in sent
    assert b"Content-Type: application/x-www-form-urlencoded" in sent
    assert "X-Utf8: ü".encode() in sent


def test_bytes_header_names_and_values_through_bridge_http(raw: RawServer) -> None:
    bridge.http.get(raw.url("/ok"), headers={b"X-Name": b"v1", "X-Value": b"v2"})
    sent = _sent(raw)
    assert b"X-Name: v1" in sent and b"X-Value: v2" in sent


def test_bytes_that_cannot_go_out_unchanged_are_refused_naming_the_way_out(session: requests.Session, raw: RawServer) -> None:
    with pytest.raises(requests.exceptions.InvalidHeader, match="not UTF-8.*HTTPAdapter"):
        session.get(raw.url("/ok"), headers={"X-Latin": "é".encode("latin-1")})
    with pytest.raises(requests.exceptions.InvalidHeader, match="not UTF-8"):
        bridge.http.get(raw.url("/ok"), headers={"X-Latin": "é".encode("latin-1")})


def test_skip_header_leaves_the_header_out(session: requests.Session, raw: RawServer) -> None:
    from async_core.http import _request

    assert _request.SKIP_HEADER == SKIP_HEADER and _request.SKIPPABLE_HEADERS == SKIPPABLE_HEADERS
    session.get(raw.url("/ok"), headers={"User-Agent": SKIP_HEADER, "Accept-Encoding": SKIP_HEADER})
    names = [line.split(b":")[0].lower() for line in _sent(raw)]
    assert b"user-agent" not in names and b"accept-encoding" not in names
    assert not any(b"SKIP_HEADER" in line for line in _sent(raw))
    bridge.http.get(raw.url("/ok"), headers={"User-Agent": SKIP_HEADER, "Accept-Encoding": SKIP_HEADER})
    names = [line.split(b":")[0].lower() for line in _sent(raw)]
    assert b"user-agent" not in names and b"accept-encoding" not in names


def test_skip_header_on_a_header_urllib3_cannot_skip_is_refused_as_urllib3_refuses_it(session: requests.Session, raw: RawServer) -> None:
    with pytest.raises(ValueError, match="SKIP_HEADER only supports"):
        session.get(raw.url("/ok"), headers={"Accept": SKIP_HEADER})
    with pytest.raises(ValueError, match="SKIP_HEADER only supports"):
        requests.get(raw.url("/ok"), headers={"Accept": SKIP_HEADER})


def test_a_request_without_user_agent_or_accept_encoding_gets_what_urllib3_sends(raw: RawServer) -> None:
    seen = []
    for s in (requests.Session(), bridge.http.Session()):
        with s:
            del s.headers["User-Agent"], s.headers["Accept-Encoding"]
            s.get(raw.url("/ok"))
            seen.append(_sent(raw))
    assert seen[0] == seen[1]
    assert b"Accept-Encoding: identity" in seen[1]


# -- what comes back -------------------------------------------------------------------------------
def test_reason_phrase_is_stripped_as_http_client_strips_it(session: requests.Session, raw: RawServer) -> None:
    assert requests.get(raw.url("/spaced-reason")).reason == "Fine"
    assert session.get(raw.url("/spaced-reason")).reason == "Fine"
    assert bridge.http.get(raw.url("/spaced-reason")).reason == "Fine"


@pytest.mark.parametrize("path", ["/ok", "/http10"])
def test_original_response_offers_what_http_client_offers(session: requests.Session, raw: RawServer, path: str) -> None:
    stock = requests.get(raw.url(path)).raw._original_response
    ours = session.get(raw.url(path)).raw._original_response
    for name in ("version", "status", "reason"):
        assert getattr(ours, name) == getattr(stock, name), name
    assert ours.getheader("X-A") == stock.getheader("X-A")
    assert ours.getheader("X-Missing", "d") == "d"
    assert ours.getheaders() == stock.getheaders()
    assert ours.msg.get_all("X-A") == stock.msg.get_all("X-A")
    assert ours.headers.items() == stock.headers.items()


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"cert": "notpem.txt"},                       # a client cert that is not a certificate
    {"cert": "cert-only.pem"},                    # a cert without its key
    {"verify": "notpem.txt"},                     # a CA bundle that is not one
], ids=["bad-client-cert", "cert-without-key", "verify-not-a-bundle"])
def test_tls_settings_that_cannot_load_are_requests_ssl_errors(tls_server: tuple[RawServer, Path], kwargs: dict[str, str]) -> None:
    server, d = tls_server
    kwargs = {k: str(d / v) for k, v in kwargs.items()}
    kwargs.setdefault("verify", str(d / "cert.pem"))
    with pytest.raises(requests.exceptions.SSLError):  # stock, as the reference
        requests.get(server.url("/ok"), timeout=5, **kwargs)  # type: ignore[arg-type]
    with bridge.http.Session() as s, pytest.raises(requests.exceptions.SSLError, match="TLS settings could not be loaded"):
        s.get(server.url("/ok"), timeout=5, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", [False, True])
def test_bad_chunk_size_is_chunked_encoding_error(session: requests.Session, raw: RawServer, stream: bool) -> None:
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        r = session.get(raw.url("/bad-chunk"), stream=stream)
        r.content  # noqa: B018


def test_body_too_large_while_streaming_reaches_the_caller_as_itself(raw: RawServer) -> None:
    with requests.Session() as s:
        s.mount("http://", LoopBridgeAdapter(max_body=1000))
        r = s.get(raw.url("/big-chunked"), stream=True)
        with pytest.raises(BodyTooLarge, match="max_body=1000") as info:
            for _ in r.iter_content(100):
                pass
    assert isinstance(info.value, requests.RequestException)


def test_loop_stopping_mid_stream_is_a_requests_connection_error(raw: RawServer) -> None:
    raw.routes["/first-then-nothing"] = lambda head: answer(headers=[(b"Transfer-Encoding", b"chunked")],
                                                            body=b"5\r\nfirst\r\n", length=False)
    with bridge.http.Session() as s:
        r = s.get(raw.url("/first-then-nothing"), stream=True)
        chunks = r.iter_content(5)
        assert next(chunks) == b"first"
        default_loop().stop(grace=0.2)
        with pytest.raises(requests.ConnectionError, match="loop stopped") as info:
            next(chunks)
    assert isinstance(info.value, LoopNotRunning)


# -- connections end with their Session --------------------------------------------------------------
class _KeepAlive(OkHandler):
    protocol_version = "HTTP/1.1"


def test_session_close_lets_a_single_threaded_server_shut_down_at_once() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _KeepAlive)  # one connection at a time
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        with bridge.http.Session() as s:
            assert s.get(f"http://127.0.0.1:{server.server_address[1]}/").text == "ok"
        started = time.monotonic()
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        stopper.join(3)
        assert not stopper.is_alive(), "the server still waited on the Session's kept-alive connection"
        assert time.monotonic() - started < 3
    finally:
        server.server_close()


def test_session_close_leaves_other_sessions_requests_alone(raw: RawServer) -> None:
    raw.routes["/slow-chunks"] = lambda head: answer(headers=[(b"Transfer-Encoding", b"chunked")],
                                                     body=b"5\r\nfirst\r\n5\r\nlater\r\n0\r\n\r\n", length=False)
    a, b = bridge.http.Session(), bridge.http.Session()
    try:
        a.get(raw.url("/ok"))  # a's connection, idle in the shared pool
        streaming = b.get(raw.url("/slow-chunks"), stream=True)  # b takes it from the pool: busy
        a.get(raw.url("/ok"))  # a opens another one, idle after
        raw.closed_by_client.clear()
        a.close()
        assert raw.wait_closed_by_client(3), "a's idle connection was not closed"
        assert streaming.content == b"firstlater"  # b's request, on a connection a used, went on
        assert wait_until(lambda: http_client().stats()["requests_in_flight"] == 0, 3)
        assert b.get(raw.url("/ok")).text == "hi"
    finally:
        a.close()
        b.close()


def test_http_calls_count_in_the_flask_call_clock(session: requests.Session, raw: RawServer) -> None:
    from bridge._calls import start_call_clock, stop_call_clock

    token, clock = start_call_clock()
    try:
        session.get(raw.url("/ok"))
        bridge.http.get(raw.url("/ok"))
        bridge.http.map([raw.url("/ok")] * 2)
    finally:
        stop_call_clock(token)
    assert clock[1] == 3 and clock[0] > 0


def test_loop_dying_mid_stream_without_a_read_timeout_is_a_connection_error_not_a_hang(raw: RawServer) -> None:
    raw.routes["/first-then-nothing"] = lambda head: answer(headers=[(b"Transfer-Encoding", b"chunked")],
                                                            body=b"5\r\nfirst\r\n", length=False)
    outcome: list[BaseException] = []

    def boom() -> None:
        raise SystemExit("the loop thread dies")

    with bridge.http.Session() as s:
        r = s.get(raw.url("/first-then-nothing"), stream=True, timeout=None)
        chunks = r.iter_content(5)
        assert next(chunks) == b"first"
        default_loop().call_soon(boom)

        def read_on() -> None:
            try:
                next(chunks)
            except BaseException as exc:  # what the read ended with is the result
                outcome.append(exc)

        reader = threading.Thread(target=read_on, daemon=True)
        reader.start()
        reader.join(5)
        assert not reader.is_alive(), "the read waited on a dead loop"
    assert isinstance(outcome[0], requests.ConnectionError) and isinstance(outcome[0], LoopNotRunning), outcome
