"""bridge.http.map with a requests.Session: the Session's auth, headers and cookies on every item."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

import bridge.http
from bridge.http import LoopBridgeAdapter

from .test_adapter import Upstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


def test_map_with_session_keeps_auth_headers_and_cookies(upstream: Upstream) -> None:
    with requests.Session() as s:
        s.auth = ("user", "secret")
        s.headers["X-Base"] = "kept"
        s.cookies.set("sid", "42")
        upstream.most_active = 0
        results = bridge.http.map([f"{upstream.base}/concurrent"] * 12, session=s, concurrency=4, timeout=5)
    assert all(isinstance(r, requests.Response) and r.status_code == 200 for r in results)
    bodies = [r.json() for r in results if isinstance(r, requests.Response)]
    assert all(b["auth"].startswith("Basic ") and b["x_base"] == "kept" and b["cookie"] == "sid=42" for b in bodies)
    assert 2 <= upstream.most_active <= 4  # at once, and never more than asked


def test_map_with_session_stores_cookies_and_follows_redirects(upstream: Upstream) -> None:
    with requests.Session() as s:
        s.mount("http://", LoopBridgeAdapter())
        first, second = bridge.http.map([f"{upstream.base}/hello", f"{upstream.base}/redirect"], session=s)
        assert isinstance(first, requests.Response) and isinstance(second, requests.Response)
        assert s.cookies.get_dict() == {"a": "1", "b": "2"}
        assert first.text == "héllo" and first.request.url == f"{upstream.base}/hello"
        assert second.url == f"{upstream.base}/hello" and [h.status_code for h in second.history] == [302]


def test_map_takes_requests_request_objects_and_keeps_errors_per_item(upstream: Upstream, closed_port: int) -> None:
    items = [
        requests.Request("GET", f"{upstream.base}/headers", headers={"X-One": "1"}),
        requests.Request("POST", f"{upstream.base}/echo", data={"k": "v"}).prepare(),
        requests.Request("GET", f"http://127.0.0.1:{closed_port}/"),
        requests.Request("GET", "no-scheme.example/x"),
    ]
    got = bridge.http.map(items, timeout=3)
    assert isinstance(got[0], requests.Response) and got[0].json()["X-One"] == "1"
    assert isinstance(got[1], requests.Response) and got[1].json()["body"] == "k=v"
    assert isinstance(got[2], requests.ConnectionError) and got[2].request is not None
    assert isinstance(got[3], requests.exceptions.MissingSchema)


def test_map_with_session_misuse_fails_before_sending(upstream: Upstream) -> None:
    with requests.Session() as s:
        with pytest.raises(TypeError, match="requests.Request"):
            bridge.http.map([object()], session=s)
        with pytest.raises(TypeError):
            bridge.http.map([f"{upstream.base}/hello"], session="not a session")  # type: ignore[call-overload]
        with pytest.raises(requests.exceptions.MissingSchema):
            bridge.http.map(["no-scheme.example/x"], session=s, return_exceptions=False)


def test_map_with_session_reports_progress(upstream: Upstream) -> None:
    seen: list[tuple[int, int]] = []
    with requests.Session() as s:
        bridge.http.map([f"{upstream.base}/hello"] * 5, session=s, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (5, 5)


def test_map_with_session_takes_each_hosts_proxy_from_the_environment(upstream: Upstream,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment's proxy settings are merged per scheme and host, as Session.request merges them."""
    monkeypatch.setenv("HTTP_PROXY", upstream.base)  # the upstream plays the proxy
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    merged: list[str] = []

    class Counting(requests.Session):
        def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
            merged.append(url)
            return super().merge_environment_settings(url, proxies, stream, verify, cert)

    items = [f"{upstream.base}/headers?i={i}" if i % 2 else f"http://origin.invalid/headers?i={i}" for i in range(8)]
    with Counting() as s:
        results = bridge.http.map(items, session=s, timeout=5)
    assert all(isinstance(r, requests.Response) and r.status_code == 200 for r in results)
    hosts = [r.json()["Host"] for r in results if isinstance(r, requests.Response)]
    port = upstream.base.rsplit(":", 1)[1]
    assert hosts == [f"127.0.0.1:{port}" if i % 2 else "origin.invalid" for i in range(8)]
    # the proxied ones named their absolute URL in the request line; the direct ones did not
    assert sum(seen.startswith("http://origin.invalid/") for seen in upstream.seen[-8:]) == 4
    assert len(merged) == 2  # once per scheme and host in the batch, not once per item
