"""LoopBridgeAdapter on a requests.Session, against a real aiohttp upstream on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import gzip
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import urllib3.exceptions
from aiohttp import web
from urllib3.util.retry import Retry

import bridge.http
from async_core import BlockedAddress, BodyTooLarge, DeadlockRisk, default_loop
from async_core.http import HttpConfig, http_client
from bridge._adapter import retry_overrides
from bridge.http import LoopBridgeAdapter


class Upstream:
    """An aiohttp app on its own loop thread, with counters the tests read."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.release = threading.Event()
        self.seen: list[str] = []
        self.active = self.most_active = 0
        self.loop = asyncio.new_event_loop()
        self.base = ""
        self._runner: web.AppRunner | None = None

    def _count(self, request: web.Request) -> None:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1

    def app(self) -> web.Application:
        app = web.Application()
        routes = [
            ("GET", "/hello", self.hello), ("GET", "/redirect", self.redirect), ("GET", "/gzip", self.gzip),
            ("GET", "/bad-gzip", self.bad_gzip), ("GET", "/slow-body", self.slow_body), ("GET", "/big", self.big),
            ("GET", "/truncated", self.truncated), ("GET", "/sleep", self.sleep), ("POST", "/echo", self.echo),
            ("GET", "/status/{code}", self.status), ("GET", "/headers", self.headers),
            ("GET", "/concurrent", self.concurrent),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        return app

    async def hello(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        resp = web.Response(text="héllo", charset="utf-8", headers={"X-Thing": "1"})
        resp.set_cookie("a", "1")
        resp.set_cookie("b", "2")
        return resp

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        raise web.HTTPFound("/hello")

    async def gzip(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=gzip.compress(b"z" * 5000), headers={"Content-Encoding": "gzip"})

    async def bad_gzip(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"this is not gzip", headers={"Content-Encoding": "gzip"})

    async def slow_body(self, request: web.Request) -> web.StreamResponse:
        """The first chunk, then nothing until the test sets ``release``."""
        resp = web.StreamResponse()
        await resp.prepare(request)
        await resp.write(b"first-")
        for _ in range(100):
            if self.release.is_set():
                break
            await asyncio.sleep(0.05)
        await resp.write(b"rest")
        return resp

    async def big(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 64 * 65536
        await resp.prepare(request)
        for _ in range(64):
            await resp.write(b"b" * 65536)
        return resp

    async def truncated(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": "100"})
        await resp.prepare(request)
        await resp.write(b"only ten b")
        assert request.transport is not None
        request.transport.close()
        return resp

    async def sleep(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(float(request.query.get("s", "1")))
        return web.Response(text="late")

    async def echo(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        return web.json_response({"body": body.decode(), "te": request.headers.get("Transfer-Encoding"),
                                  "url": str(request.url)})

    async def status(self, request: web.Request) -> web.StreamResponse:
        self._count(request)
        return web.Response(status=int(request.match_info["code"]))

    async def headers(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(str(request.url))
        return web.json_response(dict(request.headers))

    async def concurrent(self, request: web.Request) -> web.StreamResponse:
        """Counts requests in progress at once (``most_active``)."""
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            await asyncio.sleep(0.05)
        finally:
            self.active -= 1
        return web.json_response({"cookie": request.headers.get("Cookie"), "auth": request.headers.get("Authorization"),
                                  "x_base": request.headers.get("X-Base")})

    def __enter__(self) -> Upstream:
        self._runner = web.AppRunner(self.app())
        self.loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self.loop.run_forever, name="adapter-upstream", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        adapter = LoopBridgeAdapter()
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        yield s


def _in_use() -> int:
    return int(http_client().stats()["connections_in_use"])


def _wait_for(predicate: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


# -- the Response requests builds ------------------------------------------------------------------
def test_response_is_a_real_requests_response(session: requests.Session, upstream: Upstream) -> None:
    r = session.get(f"{upstream.base}/hello")
    assert isinstance(r, requests.Response)
    assert (r.status_code, r.reason, r.text, r.encoding) == (200, "OK", "héllo", "utf-8")
    assert r.headers["x-thing"] == r.headers["X-THING"] == "1"
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert session.cookies.get_dict() == {"a": "1", "b": "2"}
    assert r.url == f"{upstream.base}/hello" and r.request.url == r.url
    assert r.elapsed.total_seconds() > 0
    assert isinstance(r.connection, LoopBridgeAdapter)  # type: ignore[attr-defined]
    r.raise_for_status()


def test_requests_follows_redirects_one_send_per_hop(session: requests.Session, upstream: Upstream) -> None:
    before = dict(upstream.hits)
    r = session.get(f"{upstream.base}/redirect")
    assert r.status_code == 200 and [h.status_code for h in r.history] == [302]
    assert r.history[0].url.endswith("/redirect") and r.url.endswith("/hello")
    assert upstream.hits.get("/redirect", 0) - before.get("/redirect", 0) == 1
    assert upstream.hits["/hello"] - before.get("/hello", 0) == 1
    r = session.get(f"{upstream.base}/redirect", allow_redirects=False)
    assert r.status_code == 302 and r.is_redirect and r.next is not None


def test_session_auth_headers_and_cookies_reach_the_upstream(session: requests.Session, upstream: Upstream) -> None:
    session.auth = ("user", "secret")
    session.headers["X-Base"] = "kept"
    session.cookies.set("sid", "42")
    sent = session.get(f"{upstream.base}/headers", params={"q": "a b"}).json()
    assert sent["Authorization"].startswith("Basic ")
    assert sent["X-Base"] == "kept" and "sid=42" in sent["Cookie"]
    assert upstream.seen[-1].endswith("/headers?q=a+b")


def test_gzip_is_decoded_by_requests_and_raw_keeps_the_wire_bytes(session: requests.Session, upstream: Upstream) -> None:
    assert session.get(f"{upstream.base}/gzip").content == b"z" * 5000
    r = session.get(f"{upstream.base}/gzip", stream=True)
    wire = r.raw.read()
    assert wire != b"z" * 5000 and gzip.decompress(wire) == b"z" * 5000


def test_the_download_recipe_copies_raw_decoded(session: requests.Session, upstream: Upstream, tmp_path: object) -> None:
    """``r.raw.decode_content = True; shutil.copyfileobj(r.raw, f)``: the common streaming download."""
    import shutil

    target = f"{tmp_path}/out.bin"
    with session.get(f"{upstream.base}/gzip", stream=True) as r, open(target, "wb") as f:
        r.raw.decode_content = True
        shutil.copyfileobj(r.raw, f, 1024)
    with open(target, "rb") as f:
        assert f.read() == b"z" * 5000
    r = session.get(f"{upstream.base}/gzip", stream=True)
    assert r.raw.read(decode_content=True) == b"z" * 5000


def test_bad_gzip_is_a_content_decoding_error(session: requests.Session, upstream: Upstream) -> None:
    with pytest.raises(requests.exceptions.ContentDecodingError):
        session.get(f"{upstream.base}/bad-gzip")


def test_truncated_body_is_a_chunked_encoding_error(session: requests.Session, upstream: Upstream) -> None:
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(f"{upstream.base}/truncated")
    r = session.get(f"{upstream.base}/truncated", stream=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        b"".join(r.iter_content(16))


def test_upload_bodies(session: requests.Session, upstream: Upstream) -> None:
    assert session.post(f"{upstream.base}/echo", data={"k": "v"}).json()["body"] == "k=v"
    assert session.post(f"{upstream.base}/echo", json={"k": 1}).json()["body"] == '{"k": 1}'
    chunked = session.post(f"{upstream.base}/echo", data=(part for part in (b"a", b"b", b"c"))).json()
    assert chunked == {"body": "abc", "te": "chunked", "url": f"{upstream.base}/echo"}


# -- streaming ------------------------------------------------------------------------------------
def test_stream_true_hands_chunks_over_before_the_body_ends(session: requests.Session, upstream: Upstream) -> None:
    upstream.release.clear()
    r = session.get(f"{upstream.base}/slow-body", stream=True, timeout=10)
    chunks = r.iter_content(chunk_size=6)
    assert next(chunks) == b"first-"  # the server is still holding the rest
    assert not upstream.release.is_set()
    upstream.release.set()
    assert b"".join(chunks) == b"rest"
    assert r.raw.closed
    assert _wait_for(lambda: _in_use() == 0)


def test_iter_lines_and_full_read_of_a_large_streamed_body(session: requests.Session, upstream: Upstream) -> None:
    r = session.get(f"{upstream.base}/big", stream=True)
    assert sum(len(c) for c in r.iter_content(65536)) == 64 * 65536
    r = session.get(f"{upstream.base}/hello", stream=True)
    assert list(r.iter_lines(decode_unicode=True)) == ["héllo"]


def test_closed_half_read_stream_releases_its_connection(session: requests.Session, upstream: Upstream) -> None:
    r = session.get(f"{upstream.base}/big", stream=True)
    assert len(r.raw.read(10)) == 10
    assert _in_use() == 1
    r.close()
    assert _wait_for(lambda: _in_use() == 0)


def test_abandoned_half_read_stream_releases_its_connection(session: requests.Session, upstream: Upstream) -> None:
    r = session.get(f"{upstream.base}/big", stream=True)
    next(r.iter_content(100))
    assert _in_use() == 1
    del r
    gc.collect()
    assert _wait_for(lambda: _in_use() == 0)


# -- what requests passes to send() ---------------------------------------------------------------
def test_read_timeout_is_requests_read_timeout(session: requests.Session, upstream: Upstream) -> None:
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout) as info:
        session.get(f"{upstream.base}/sleep?s=2", timeout=(5, 0.2))
    assert time.monotonic() - started < 1.5  # no retry by default, as HTTPAdapter
    assert info.value.request is not None and info.value.request.url.endswith("/sleep?s=2")
    # shaped as HTTPAdapter's: urllib3's error inside, urllib3's words outside, the advice as a note
    inner = info.value.args[0]
    assert isinstance(inner, urllib3.exceptions.ReadTimeoutError) and "Read timed out. (read timeout=0.2)" in inner.args[0]
    assert "Read timed out" in str(info.value) and "LoopBridgeAdapter(host='127.0.0.1'" in str(info.value)
    assert any("timeout=(connect, read)" in note for note in info.value.__notes__)


def test_refused_connection_is_requests_connection_error(session: requests.Session, closed_port: int) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(f"http://127.0.0.1:{closed_port}/", timeout=2)


@pytest.mark.parametrize("timeout", [(1, 2, 3), "soon", -1])
def test_bad_timeouts_fail_in_the_callers_thread(session: requests.Session, upstream: Upstream, timeout: object) -> None:
    with pytest.raises(ValueError):
        session.get(f"{upstream.base}/hello", timeout=timeout)


def test_a_proxy_scheme_it_cannot_speak_is_refused_with_a_message_naming_the_limit(session: requests.Session, upstream: Upstream) -> None:
    with pytest.raises(requests.exceptions.InvalidProxyURL) as info:
        session.get(f"{upstream.base}/hello", proxies={"http": "https://127.0.0.1:1080"})
    assert "socks5h" in str(info.value) and "HTTPAdapter" in str(info.value)
    with pytest.raises(requests.exceptions.InvalidProxyURL):
        session.get(f"{upstream.base}/hello", proxies={"http": "http://:8080"})


def test_http_proxy_carries_the_request(session: requests.Session, upstream: Upstream) -> None:
    """The upstream plays the proxy: a proxied request names the absolute URL in its request line."""
    target = "http://origin.invalid/headers"
    sent = session.get(target, proxies={"http": upstream.base}).json()
    assert upstream.seen[-1] == target and sent["Host"] == "origin.invalid"
    assert "Proxy-Authorization" not in sent
    with_credentials = upstream.base.replace("http://", "http://user:pw@")
    sent = session.get(target, proxies={"http": with_credentials}).json()
    assert sent["Proxy-Authorization"] == "Basic dXNlcjpwdw=="  # user:pw


def test_the_hooks_subclasses_of_httpadapter_override_are_called(upstream: Upstream) -> None:
    class Signing(LoopBridgeAdapter):
        def add_headers(self, request: requests.PreparedRequest, **kwargs: object) -> None:
            request.headers["X-Signed"] = f"{request.method} {request.path_url} stream={kwargs['stream']}"

        def proxy_headers(self, proxy: str) -> dict[str, str]:
            return {**super().proxy_headers(proxy), "X-Proxy-Token": "t0k"}

    with requests.Session() as session:
        session.mount("http://", Signing())
        assert session.get(f"{upstream.base}/headers").json()["X-Signed"] == "GET /headers stream=False"
        via = upstream.base.replace("http://", "http://user:pw@")
        sent = session.get("http://origin.invalid/headers", proxies={"http": via}).json()
        assert sent["X-Proxy-Token"] == "t0k" and sent["Proxy-Authorization"] == "Basic dXNlcjpwdw=="
        batch = bridge.http.map([f"{upstream.base}/headers"], session=session)
        assert batch[0].json()["X-Signed"] == "GET /headers stream=False"


def test_the_guard_judges_destinations_not_the_proxy_the_application_chose(upstream: Upstream) -> None:
    port = upstream.base.rsplit(":", 1)[1]
    with requests.Session() as session:
        session.mount("http://", LoopBridgeAdapter(block_private=True))
        for proxy in (f"http://localhost:{port}", f"http://127.0.0.1:{port}"):  # a name and an IP alike
            sent = session.get("http://origin.invalid/headers", proxies={"http": proxy}, timeout=5).json()
            assert sent["Host"] == "origin.invalid" and upstream.seen[-1] == "http://origin.invalid/headers"
        with pytest.raises(requests.exceptions.ConnectionError, match="loopback"):  # a private destination still is
            session.get("http://127.0.0.1:9/headers", proxies={"http": f"http://localhost:{port}"}, timeout=5)


def test_a_session_called_from_a_coroutine_on_the_loop_says_what_to_do_instead(upstream: Upstream) -> None:
    with bridge.http.Session() as session:
        async def view() -> int:
            return session.get(f"{upstream.base}/hello", timeout=5).status_code

        with pytest.raises(DeadlockRisk, match=r"async_get\(...\).*asyncio.to_thread\(session.get, url\)"):
            bridge.run(view(), timeout=10)

        async def off_the_loop() -> int:  # the way the message gives works
            resp = await asyncio.to_thread(session.get, f"{upstream.base}/hello", timeout=5)
            return resp.status_code

        assert bridge.run(off_the_loop(), timeout=10) == 200


def test_unreachable_proxy_is_proxy_error(session: requests.Session, closed_port: int) -> None:
    with pytest.raises(requests.exceptions.ProxyError):
        session.get("http://origin.invalid/", proxies={"http": f"http://127.0.0.1:{closed_port}"}, timeout=2)


def test_missing_ca_bundle_is_the_oserror_httpadapter_raises(session: requests.Session) -> None:
    with pytest.raises(OSError, match="Could not find a suitable TLS CA certificate bundle"):
        session.get("https://127.0.0.1:9/", verify="/nonexistent/ca.pem")


# -- per-adapter policy ---------------------------------------------------------------------------
def test_ssrf_guard_and_size_cap_are_per_adapter(upstream: Upstream) -> None:
    guarded, capped, plain = requests.Session(), requests.Session(), requests.Session()
    guarded.mount("http://", LoopBridgeAdapter(block_private=True))
    capped.mount("http://", LoopBridgeAdapter(max_body=1000))
    plain.mount("http://", LoopBridgeAdapter())
    with guarded, capped, plain:
        with pytest.raises(BlockedAddress) as info:
            guarded.get(f"{upstream.base}/hello")
        assert isinstance(info.value, requests.exceptions.ConnectionError)
        with pytest.raises(BodyTooLarge):
            capped.get(f"{upstream.base}/big")
        with pytest.raises(BodyTooLarge):
            capped.get(f"{upstream.base}/big", stream=True)
        assert plain.get(f"{upstream.base}/hello").status_code == 200


def test_max_retries_retry_maps_status_retries_and_raise_on_status(upstream: Upstream) -> None:
    code = 503
    with requests.Session() as s:
        s.mount("http://", LoopBridgeAdapter(max_retries=Retry(total=2, status_forcelist=[code], backoff_factor=0)))
        before = upstream.hits.get(f"/status/{code}", 0)
        with pytest.raises(requests.exceptions.RetryError):
            s.get(f"{upstream.base}/status/{code}")
        assert upstream.hits[f"/status/{code}"] - before == 3
        s.mount("http://", LoopBridgeAdapter(max_retries=Retry(total=1, status_forcelist=[code], backoff_factor=0,
                                                               raise_on_status=False)))
        assert s.get(f"{upstream.base}/status/{code}").status_code == code
        assert upstream.hits[f"/status/{code}"] - before == 5


def test_retry_overrides_mapping() -> None:
    fields, raise_on_status = retry_overrides(3)
    assert fields == {"retries": 3, "retry_on_timeouts": False, "retry_statuses": frozenset()} and not raise_on_status
    fields, raise_on_status = retry_overrides(Retry(connect=2, read=0, backoff_factor=0.5, allowed_methods=["GET"]))
    assert fields["retries"] == 2 and fields["retry_on_timeouts"] is False and fields["backoff"] == 0.5
    assert fields["retry_methods"] == frozenset({"GET"}) and raise_on_status
    HttpConfig().replace(**fields)  # every mapped field is a valid HttpConfig field
    with pytest.raises(TypeError):
        retry_overrides("3")
    with pytest.raises(ValueError):
        retry_overrides(-1)


def test_adapter_pickles_with_its_configuration() -> None:
    adapter = LoopBridgeAdapter(block_private=True, max_retries=1)
    copy = pickle.loads(pickle.dumps(adapter))
    assert repr(copy) == repr(adapter) and "block_private=True" in repr(copy)


# -- the bridge.http names ------------------------------------------------------------------------
def test_bridge_http_session_exceptions_and_codes(upstream: Upstream) -> None:
    with bridge.http.Session() as s:
        assert isinstance(s.get_adapter("https://x/"), LoopBridgeAdapter)
        assert s.get(f"{upstream.base}/hello").status_code == bridge.http.codes.ok
    assert bridge.http.exceptions.ReadTimeout is requests.exceptions.ReadTimeout
    with pytest.raises(TypeError):
        bridge.http.Session(adapter=requests.adapters.HTTPAdapter())  # type: ignore[arg-type]


# -- lifecycle ------------------------------------------------------------------------------------
_LIFECYCLE = """
import gc, logging, sys, requests, warnings
warnings.simplefilter("error")
from async_core import default_loop
from bridge.http import LoopBridgeAdapter
base = sys.argv[1]
for config in ({}, {"block_private": False, "limit": 7}):
    with requests.Session() as s:
        s.mount("http://", LoopBridgeAdapter(**config))
        assert s.get(base + "/hello").status_code == 200
        r = s.get(base + "/big", stream=True)
        r.raw.read(10)          # left half-read and never closed
    del r
gc.collect()
default_loop().stop(grace=5)
print("clean exit")
"""


def test_closing_sessions_and_stopping_the_loop_leaks_nothing(upstream: Upstream) -> None:
    proc = subprocess.run([sys.executable, "-X", "dev", "-c", _LIFECYCLE, upstream.base],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "clean exit" in proc.stdout
    for leak in ("Unclosed", "unclosed", "Task was destroyed", "never awaited"):
        assert leak not in proc.stderr, proc.stderr


def test_adapter_own_pool_closes_with_the_adapter(upstream: Upstream) -> None:
    adapter = LoopBridgeAdapter(limit=3)
    with requests.Session() as s:
        s.mount("http://", adapter)
        assert s.get(f"{upstream.base}/hello").status_code == 200
        client = http_client()
        assert adapter._transport.config in client._sessions
    assert adapter._transport.config not in client._sessions  # Session.close() closed it
    with requests.Session() as s:  # and it can be used again, as HTTPAdapter after close()
        s.mount("http://", adapter)
        assert s.get(f"{upstream.base}/hello").status_code == 200
    default_loop().stop(grace=2)
