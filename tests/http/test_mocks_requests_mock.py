"""``requests-mock`` (which replaces ``requests.Session.send`` and, during it, ``get_adapter``): its
documented examples, with the URLs pointed at the counting server, pass with stock requests, a
Session with ``LoopBridgeAdapter`` and the ``bridge.http`` facade."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import requests_mock
from requests_mock.exceptions import NoMockAddress

import bridge.http

from .mock_support import REAL_BODY, Client, CountingServer


def test_mocker_as_context_manager(client: Client, server: CountingServer) -> None:
    with requests_mock.Mocker() as m:
        m.get(server.url("/"), text="resp")
        assert client.get(server.url("/")).text == "resp"
    assert server.hits == 0


def test_mocker_as_decorator(client: Client, server: CountingServer) -> None:
    @requests_mock.Mocker()
    def check(m: requests_mock.Mocker) -> None:
        m.get(server.url("/"), text="resp")
        assert client.get(server.url("/")).text == "resp"

    @requests_mock.Mocker(kw="mock")
    def check_kw(**kwargs: Any) -> None:
        kwargs["mock"].get(server.url("/kw"), text="resp by keyword")
        assert client.get(server.url("/kw")).text == "resp by keyword"

    check()
    check_kw()
    assert server.hits == 0


def test_pytest_fixture(client: Client, server: CountingServer, requests_mock: requests_mock.Mocker) -> None:
    requests_mock.get(server.url("/"), text="data")
    assert client.get(server.url("/")).text == "data"
    assert requests_mock.called and requests_mock.call_count == 1
    assert server.hits == 0


def test_unregistered_url_raises_no_mock_address_and_nothing_is_sent(client: Client, server: CountingServer) -> None:
    with requests_mock.Mocker() as m:
        m.get(server.url("/known"), text="a")
        with pytest.raises(NoMockAddress) as info:
            client.get(server.url("/unknown"))
        assert "/unknown" in str(info.value)
    assert server.hits == 0


def test_real_http_sends_what_is_not_registered(client: Client, server: CountingServer) -> None:
    with requests_mock.Mocker(real_http=True) as m:
        m.register_uri("GET", server.url("/mocked"), text="resp")
        assert client.get(server.url("/mocked")).text == "resp"
        real = client.get(server.url("/real"))
        assert real.status_code == 200
        assert real.json() == {**REAL_BODY, "path": "/real"}
    assert [path for _, path, _ in server.seen] == ["/real"]


def test_response_as_registered(client: Client, server: CountingServer) -> None:
    url = server.url("/answer")
    with requests_mock.Mocker() as m:
        m.get(url, status_code=418, reason="Tea", headers={"X-Tea": "earl grey", "Set-Cookie": "x=1"},
              content=b"\x00\x01binary")
        m.post(url, json={"created": True}, status_code=201)
        m.put(url, exc=requests.exceptions.ConnectTimeout)
        resp = client.get(url)
        assert (resp.status_code, resp.reason, resp.content) == (418, "Tea", b"\x00\x01binary")
        assert resp.headers["x-tea"] == "earl grey"
        assert resp.cookies["x"] == "1"
        created = client.post(url, json={"name": "x"})
        assert created.status_code == 201 and created.json() == {"created": True}
        with pytest.raises(requests.exceptions.ConnectTimeout):
            client.put(url, data="x")
    assert server.hits == 0


def test_request_history(client: Client, server: CountingServer) -> None:
    url = server.url("/path")
    with requests_mock.Mocker() as m:
        m.post(url, text="resp")
        client.post(url + "?a=1&b=2", json={"key": "value"}, headers={"X-Test": "yes"})
        assert m.called and m.call_count == 1 and m.called_once
        last = m.last_request
        assert last.method == "POST"
        assert last.json() == {"key": "value"}
        assert last.qs == {"a": ["1"], "b": ["2"]}
        assert last.headers["X-Test"] == "yes"
        assert m.request_history[0].url == url + "?a=1&b=2"
    assert server.hits == 0


def test_response_lists_answer_in_order(client: Client, server: CountingServer) -> None:
    url = server.url("/list")
    with requests_mock.Mocker() as m:
        m.get(url, [{"text": "resp1", "status_code": 300}, {"text": "resp2", "status_code": 200}])
        first, second, third = (client.get(url, allow_redirects=False) for _ in range(3))
        assert (first.status_code, first.text) == (300, "resp1")
        assert (second.status_code, second.text) == (200, "resp2")
        assert (third.status_code, third.text) == (200, "resp2")  # the last one repeats
    assert server.hits == 0


def test_dynamic_response(client: Client, server: CountingServer) -> None:
    url = server.url("/dynamic")

    def text_callback(request: Any, context: Any) -> str:
        context.status_code = 200
        context.headers["Test1"] = "value1"
        return "response: " + request.json()["name"]

    with requests_mock.Mocker() as m:
        m.post(url, text=text_callback)
        resp = client.post(url, json={"name": "cats"})
        assert resp.text == "response: cats"
        assert resp.headers["Test1"] == "value1"
    assert server.hits == 0


def test_request_matching(client: Client, server: CountingServer) -> None:
    with requests_mock.Mocker() as m:
        m.get(server.url("/search?q=cats"), text="by query")
        m.get(server.url("/headers"), request_headers={"X-Token": "s3cret"}, text="by header")
        m.post(server.url("/body"), additional_matcher=lambda req: "wanted" in (req.text or ""), text="by body")
        assert client.get(server.url("/search"), params={"q": "cats"}).text == "by query"
        assert client.get(server.url("/headers"), headers={"X-Token": "s3cret"}).text == "by header"
        assert client.post(server.url("/body"), data="the wanted thing").text == "by body"
        with pytest.raises(NoMockAddress):
            client.get(server.url("/headers"), headers={"X-Token": "wrong"})
    assert server.hits == 0


def test_map_items_each_through_the_mock(ours: Client, server: CountingServer) -> None:
    with requests_mock.Mocker() as m:
        m.get(server.url("/a"), text="A")
        m.get(server.url("/b"), text="B", status_code=503)
        results = ours.map([server.url("/a"), server.url("/b"), server.url("/c")])
        assert [r.text for r in results[:2]] == ["A", "B"]
        assert results[1].status_code == 503
        assert isinstance(results[2], NoMockAddress)  # unregistered: an error as a value
        assert m.call_count == 3
    assert server.hits == 0


def test_mocking_one_session_only(server: CountingServer) -> None:
    with bridge.http.Session() as session, requests_mock.Mocker(session=session) as m:
        m.get(server.url("/one"), text="mocked for this session")
        assert session.get(server.url("/one")).text == "mocked for this session"
        assert bridge.http.map([server.url("/one")], session=session)[0].text == "mocked for this session"
        assert bridge.http.get(server.url("/one")).json() == {**REAL_BODY, "path": "/one"}  # not this session
    assert server.hits == 1


def test_transport_adapter_mounted_on_a_session(server: CountingServer) -> None:
    adapter = requests_mock.Adapter()
    adapter.register_uri("GET", "mock://test.com/path", text="resp")
    adapter.register_uri("GET", "mock://test.com/other", status_code=404)
    with bridge.http.Session() as session:
        session.mount("mock://", adapter)
        assert session.get("mock://test.com/path").text == "resp"
        results = bridge.http.map(["mock://test.com/path", "mock://test.com/other", server.url("/real")], session=session)
        assert [r.status_code for r in results] == [200, 404, 200]
        assert results[2].json() == {**REAL_BODY, "path": "/real"}  # http:// still goes through LoopBridgeAdapter
    assert adapter.call_count == 3
    assert server.hits == 1
