"""bridge.http's Response where requests users reach for more: cookies, iter_content,
iter_lines work on the body already read; what it cannot offer names the supported way."""

from __future__ import annotations

import asyncio
import datetime
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from aiohttp import web

from async_core.http import Headers, Response
from bridge import http


def _response(content: bytes = b"", headers: tuple[tuple[str, str], ...] = (), encoding: str | None = None) -> Response:
    return Response(200, "OK", Headers(headers), content, "http://example.test/a/b",
                    datetime.timedelta(milliseconds=1), encoding)


@contextmanager
def _serving(handler: Any, **runner_options: Any) -> Iterator[str]:
    """``handler`` on GET / of an aiohttp server on 127.0.0.1, in a thread, for the block."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app, **runner_options)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        box["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10), "the test server did not start"
    try:
        yield f"http://127.0.0.1:{box['port']}/"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture(scope="module")
def cookie_server() -> Iterator[str]:
    async def handler(request: web.Request) -> web.Response:
        resp = web.Response(text="line one\nline two\nline three")
        resp.set_cookie("session", "abc123", path="/", httponly=True)
        resp.set_cookie("theme", "dark", path="/prefs")
        return resp

    with _serving(handler) as url:
        yield url


def test_cookies_of_a_real_response_are_a_requests_jar(cookie_server: str) -> None:
    resp = http.get(cookie_server, timeout=5)
    jar = resp.cookies
    assert isinstance(jar, requests.cookies.RequestsCookieJar)
    assert jar.get("session") == "abc123"
    assert jar.get("theme", path="/prefs") == "dark"
    assert {c.domain for c in jar} == {"127.0.0.1"}


def test_iter_content_and_iter_lines_over_a_real_body(cookie_server: str) -> None:
    resp = http.get(cookie_server, timeout=5)
    assert b"".join(resp.iter_content(4)) == resp.content
    assert all(len(piece) <= 4 for piece in resp.iter_content(4))
    assert list(resp.iter_content(None)) == [resp.content]
    assert list(resp.iter_lines()) == [b"line one", b"line two", b"line three"]
    assert list(resp.iter_lines(decode_unicode=True)) == ["line one", "line two", "line three"]


def test_iter_content_decodes_across_piece_boundaries() -> None:
    resp = _response("héllo wörld".encode(), encoding="utf-8")
    assert "".join(resp.iter_content(1, decode_unicode=True)) == "héllo wörld"
    with pytest.raises(TypeError, match="chunk_size"):
        list(resp.iter_content(0))


@pytest.mark.parametrize("name", ["request", "raw", "connection", "next"])
def test_what_is_not_offered_names_the_adapter(name: str) -> None:
    with pytest.raises(AttributeError, match="LoopBridgeAdapter") as caught:
        getattr(_response(b"x"), name)
    assert name in str(caught.value)


def test_an_unknown_attribute_is_a_plain_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'$"):
        _response().nope  # noqa: B018
    assert not hasattr(_response(), "nope")


def test_the_requests_names_a_switching_module_needs_are_there() -> None:
    assert http.exceptions is requests.exceptions and http.codes is requests.codes
    session = http.Session()
    assert isinstance(session, requests.Session)
    assert isinstance(session.get_adapter("http://x"), http.LoopBridgeAdapter)
    session.close()


def test_code_written_for_requests_closes_and_uses_with(cookie_server: str) -> None:
    with http.get(cookie_server, timeout=5) as resp:
        body = resp.content
    resp.close()  # again: nothing to release, as for a requests response read whole
    assert body.startswith(b"line one") and resp.content == body


def test_links_as_requests_parses_them() -> None:
    header = '<https://api.test/items?page=2>; rel="next", <https://api.test/items?page=9>; rel="last", <https://api.test/x>'
    resp = _response(headers=(("Link", header),))
    stock = requests.Response()
    stock.headers["link"] = header
    assert resp.links == stock.links
    assert resp.links["next"]["url"] == "https://api.test/items?page=2"
    assert _response().links == {}


def test_apparent_encoding_and_permanent_redirects_as_in_requests() -> None:
    text = "Grüße aus Köln, schöne Tage für alle Bürger und Bäcker".encode("latin-1")
    stock = requests.Response()
    stock._content = text
    assert _response(text).apparent_encoding == stock.apparent_encoding
    for status, permanent in ((301, True), (308, True), (302, False), (307, False), (200, False)):
        resp = Response(status, "", Headers((("Location", "/next"),)), b"", "http://example.test/",
                        datetime.timedelta(0))
        assert resp.is_permanent_redirect is permanent
    assert not Response(301, "", Headers(), b"", "http://example.test/", datetime.timedelta(0)).is_permanent_redirect


@pytest.mark.parametrize("kwargs", [{"stream": True}, {"files": {"f": b"x"}}, {"proxies": {"http": "http://127.0.0.1:9"}},
                                    {"cert": "client.pem"}, {"hooks": {"response": []}}, {"verify": "/etc/ssl/ca.pem"}])
def test_an_argument_only_the_adapter_takes_names_the_adapter(cookie_server: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError, match="LoopBridgeAdapter on a requests.Session") as caught:
        http.get(cookie_server, timeout=5, **kwargs)  # type: ignore[arg-type]
    assert next(iter(kwargs)) in str(caught.value)


def test_the_adapter_takes_what_bridge_http_refuses(cookie_server: str) -> None:
    with http.Session() as session:
        with session.get(cookie_server, stream=True, timeout=5, hooks={"response": []}) as resp:
            assert b"".join(resp.iter_content(4)).startswith(b"line one")
        assert session.post(cookie_server, files={"f": b"x"}, timeout=5).status_code == 405  # GET-only route


@pytest.mark.parametrize(("call", "named", "twin"), [
    (lambda: http.get("http://127.0.0.1:9/", timeout=1), "bridge.http.get()", "async_get(url, ...)"),
    (lambda: http.post("http://127.0.0.1:9/", json={}), "bridge.http.post()", "async_request('POST', url, ...)"),
    (lambda: http.map(["http://127.0.0.1:9/"]), "bridge.http.map()", "async_map(items, ...)"),
])
def test_a_sync_call_made_inside_a_coroutine_names_its_async_twin(call: object, named: str, twin: str) -> None:
    import bridge
    from async_core import DeadlockRisk

    async def view() -> object:
        return call()  # type: ignore[operator]

    with pytest.raises(DeadlockRisk) as caught:
        bridge.run(view(), timeout=10)
    assert named in str(caught.value) and f"await bridge.http.{twin}" in str(caught.value)


def test_header_lines_as_long_as_requests_accepts() -> None:
    """A 20 KB header (a big cookie, a CSP) is read as requests reads it; past 64 KB both refuse."""
    async def big(request: web.Request) -> web.Response:
        size = int(request.query["size"])
        return web.Response(text="ok", headers={"X-Big": "a" * size, "Set-Cookie": "jwt=" + "b" * 12000})

    with _serving(big, max_field_size=200_000, max_line_size=200_000) as url:
        assert len(http.get(url, params={"size": 20000}, timeout=5).headers["X-Big"]) == 20000
        with pytest.raises(requests.exceptions.ConnectionError, match="not valid HTTP"):
            http.get(url, params={"size": 100_000}, timeout=5)
        with http.Session() as session:
            resp = session.get(url, params={"size": 20000}, timeout=5)
            assert len(resp.headers["X-Big"]) == 20000 and len(session.cookies["jwt"]) == 12000
            with pytest.raises(requests.exceptions.ConnectionError):  # as stock requests: too long
                session.get(url, params={"size": 100_000}, timeout=5)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url, params={"size": 100_000}, timeout=5)
