"""bridge.http against the real upstream simulator: statuses, headers, bodies, redirects."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json

import aiohttp
import pytest
import requests

from async_core import UpstreamHTTPError, default_loop
from async_core._errors import InvalidURL, TooManyRedirects, UpstreamJSONError
from async_core.http import http_client
from async_core.http._request import prepare_request
from async_core.http import Headers, Response
from async_core.http._request import next_hop as _next_hop
from bridge import http, run
from legacy_app.simulator import JSON_DOCUMENT, sample_text


@pytest.mark.parametrize("code", [200, 201, 204, 301, 404, 418, 500, 503])
def test_status_codes_come_back_unchanged(base: str, code: int) -> None:
    resp = http.get(f"{base}/status/{code}", allow_redirects=False)
    assert resp.status_code == code
    assert resp.ok is (code < 400)
    assert bool(resp) is resp.ok


def test_raise_for_status_raises_upstream_http_error_with_response(base: str) -> None:
    resp = http.get(f"{base}/status/404")
    with pytest.raises(requests.HTTPError) as info:
        resp.raise_for_status()
    assert isinstance(info.value, UpstreamHTTPError)
    assert info.value.response is resp
    assert "404 Client Error" in str(info.value) and resp.url in str(info.value)
    http.get(f"{base}/status/200").raise_for_status()  # no error below 400


def test_headers_are_case_insensitive_and_immutable(base: str) -> None:
    resp = http.get(f"{base}/headers", headers={"X-Custom": "abc"})
    assert resp.headers["x-simulator"] == resp.headers["X-SIMULATOR"] == "loopbridge"
    assert "content-TYPE" in resp.headers
    assert resp.headers["X-Repeated"] == "one, two"  # joined like requests
    assert resp.headers.getall("x-repeated") == ["one", "two"]
    assert resp.json()["headers"]["X-Custom"] == "abc"
    with pytest.raises(TypeError):
        resp.headers["x-new"] = "1"  # type: ignore[index]


def test_json_document(base: str) -> None:
    resp = http.get(f"{base}/json")
    assert resp.json() == JSON_DOCUMENT
    assert resp.encoding == "utf-8"


def test_json_error_is_both_requests_and_json_decode_error(base: str) -> None:
    resp = http.get(f"{base}/text/utf-8")
    with pytest.raises(UpstreamJSONError) as info:
        resp.json()
    assert isinstance(info.value, requests.exceptions.JSONDecodeError)
    assert isinstance(info.value, json.JSONDecodeError)


@pytest.mark.parametrize("charset", ["utf-8", "latin-1", "cp1252", "utf-16", "utf-32", "iso-8859-15"])
def test_text_honours_the_declared_charset(base: str, charset: str) -> None:
    resp = http.get(f"{base}/text/{charset}")
    assert resp.encoding == charset
    assert resp.text == sample_text(charset)
    assert resp.content == sample_text(charset).encode(charset)


def test_text_without_charset_falls_back_to_utf8(base: str) -> None:
    resp = http.get(f"{base}/text/none")
    assert resp.encoding is None
    assert resp.text == sample_text("none")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_methods_params_and_json_reach_the_server(base: str, method: str) -> None:
    fn = getattr(http, method.lower())
    resp = fn(f"{base}/echo", params={"q": ["a", "b"], "n": 1, "skip": None}, json={"k": [1, 2]})
    body = resp.json()
    assert body["method"] == method
    assert body["query_list"] == [["q", "a"], ["q", "b"], ["n", "1"]]
    assert body["json"] == {"k": [1, 2]}


def test_basic_auth_and_cookies_are_sent(base: str) -> None:
    sent = http.get(f"{base}/echo", auth=("user", "pw"), cookies={"c": "1"}).json()["headers"]
    assert sent["Authorization"] == "Basic dXNlcjpwdw==" and sent["Cookie"] == "c=1"


def test_form_data_and_raw_bytes(base: str) -> None:
    assert http.post(f"{base}/echo", data={"a": "1", "b": "x y"}).json()["form"] == {"a": "1", "b": "x y"}
    assert http.post(f"{base}/echo", data=b"raw-bytes").json()["body"] == "raw-bytes"


def test_head_has_no_body(base: str) -> None:
    resp = http.head(f"{base}/json")
    assert resp.status_code == 200 and resp.content == b""


def test_redirects_are_followed_with_history(base: str) -> None:
    resp = http.get(f"{base}/redirect/3")
    assert resp.status_code == 200 and resp.json() == {"redirected": True}
    assert resp.url == f"{base}/redirect/0"
    assert [r.status_code for r in resp.history] == [302, 302, 302]
    assert resp.history[0].url == f"{base}/redirect/3"


def test_redirect_not_followed_when_disabled(base: str) -> None:
    resp = http.get(f"{base}/redirect/2", allow_redirects=False)
    assert resp.status_code == 302 and resp.is_redirect
    assert resp.headers["location"] == "/redirect/1"


def test_redirect_limit_raises_too_many_redirects(base: str) -> None:
    http.configure(max_redirects=2)
    with pytest.raises(requests.TooManyRedirects) as info:
        http.get(f"{base}/redirect/3")
    assert isinstance(info.value, TooManyRedirects)
    assert "max_redirects=2" in str(info.value)
    assert http.get(f"{base}/redirect/2").status_code == 200


def _redirect(status: int, location: str) -> Response:
    return Response(status, "", Headers([("Location", location)]), b"", "http://a.test/x", datetime.timedelta(0))


@pytest.mark.parametrize(("status", "method", "expected"), [
    (303, "POST", "GET"), (302, "POST", "GET"), (301, "POST", "GET"), (301, "PUT", "PUT"),
    (307, "POST", "POST"), (308, "PUT", "PUT"), (303, "HEAD", "HEAD"),
])
def test_redirect_rewrites_the_method_like_requests(status: int, method: str, expected: str) -> None:
    prep = prepare_request(method, "http://a.test/x", json={"a": 1}, headers={"Content-Type": "application/json"})
    nxt = _next_hop(prep, _redirect(status, "/y"))
    assert (nxt.method, str(nxt.url)) == (expected, "http://a.test/y")
    assert (nxt.json is None) is (expected != method)


def test_redirect_to_another_host_drops_credentials() -> None:
    prep = prepare_request("GET", "http://a.test/x", auth=("u", "p"), headers={"Authorization": "x", "X-Keep": "1"})
    nxt = _next_hop(prep, _redirect(302, "http://b.test/"))
    assert prep.headers is not None and prep.headers["Authorization"] == "Basic dTpw"
    assert nxt.headers == {"X-Keep": "1"}
    with pytest.raises(InvalidURL, match="not an http"):
        _next_hop(prep, _redirect(302, "ftp://b.test/"))


def _walk(value: object, seen: set[int]) -> None:
    if id(value) in seen:
        return
    seen.add(id(value))
    assert not type(value).__module__.startswith(("aiohttp", "multidict", "yarl")), type(value)
    if isinstance(value, Response):
        for field in dataclasses.fields(value):
            _walk(getattr(value, field.name), seen)
    elif isinstance(value, tuple | list):
        for item in value:
            _walk(item, seen)
    elif isinstance(value, Headers):
        for k, v in value.items():
            _walk(k, seen)
            _walk(v, seen)


def test_no_aiohttp_object_crosses_threads(base: str) -> None:
    resp = http.get(f"{base}/redirect/1")
    _walk(resp, set())
    assert isinstance(resp.elapsed, datetime.timedelta) and isinstance(resp.content, bytes)
    with pytest.raises(dataclasses.FrozenInstanceError):
        resp.status_code = 500  # type: ignore[misc]


def test_legacy_except_clause_still_catches(closed_port: int) -> None:
    http.configure(retries=0)
    caught = None
    try:
        http.get(f"http://127.0.0.1:{closed_port}/")
    except requests.RequestException as exc:
        caught = exc
    assert isinstance(caught, requests.ConnectionError)


@pytest.mark.parametrize("url", ["ftp://example.org/x", "example.org/path", "http:///nohost"])
def test_bad_urls_fail_early_with_invalid_url(url: str) -> None:
    with pytest.raises(InvalidURL) as info:
        http.get(url)
    assert isinstance(info.value, ValueError) and isinstance(info.value, requests.RequestException)


@pytest.mark.parametrize("kwarg", ["files", "stream", "proxies", "cert", "hooks", "bogus"])
def test_unsupported_requests_arguments_are_refused_clearly(kwarg: str) -> None:
    with pytest.raises(TypeError, match=kwarg):
        http.get("http://127.0.0.1/", **{kwarg: True})


def test_bad_argument_types() -> None:
    with pytest.raises(TypeError, match="url must be a string"):
        http.get(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="either json= or data="):
        http.post("http://127.0.0.1/", json={}, data="x")
    with pytest.raises(ValueError, match="connect, read"):
        http.get("http://127.0.0.1/", timeout=(1, 2, 3))


def test_async_get_on_the_shared_loop(base: str) -> None:
    async def view() -> int:
        resp = await http.async_get(f"{base}/json")
        return resp.status_code

    assert run(view()) == 200
    assert http_client().stats()["requests"] == 1


def test_async_get_from_a_foreign_loop_hops_to_the_shared_loop(base: str) -> None:
    async def elsewhere() -> int:
        return (await http.async_get(f"{base}/json")).status_code

    assert asyncio.run(elsewhere()) == 200
    assert default_loop().http.stats()["requests"] == 1


def test_client_refuses_use_from_another_loop(base: str) -> None:
    client = http_client()

    async def misuse() -> None:
        await client.request("GET", f"{base}/json")

    with pytest.raises(RuntimeError, match="another event loop"):
        asyncio.run(misuse())


def test_session_is_created_on_the_loop_thread_and_closed_at_stop(base: str) -> None:
    http.get(f"{base}/json")
    client = default_loop().http
    session = client._sessions[client.config].session
    assert isinstance(session, aiohttp.ClientSession) and not session.closed
    default_loop().stop(grace=2)
    assert session.closed
    with pytest.raises(RuntimeError, match="closed"):
        run(client.request("GET", f"{base}/json"))
    assert http.get(f"{base}/json").status_code == 200  # a restarted loop gets a new client
