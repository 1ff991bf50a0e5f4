"""``responses`` (which replaces ``HTTPAdapter.send``): its documented examples, unchanged but for
the URL (the counting server's, so a request that escapes the mock is seen), pass with stock
requests, a Session with ``LoopBridgeAdapter`` and the ``bridge.http`` facade."""

from __future__ import annotations

import pytest
import requests
import responses
from responses import matchers, registries
from urllib3.util.retry import Retry

import bridge.http
from bridge.http import LoopBridgeAdapter

from .mock_support import REAL_BODY, Client, CountingServer


def test_basics_activate_decorator(client: Client, server: CountingServer) -> None:
    url = server.url("/api/1/foobar")

    @responses.activate
    def check() -> None:
        responses.add(responses.GET, url, json={"error": "not found"}, status=404)
        resp = client.get(url)
        assert resp.json() == {"error": "not found"}
        assert resp.status_code == 404
        assert len(responses.calls) == 1
        assert responses.calls[0].request.url == url
        assert responses.calls[0].response.text == '{"error": "not found"}'

    check()
    assert server.hits == 0


def test_shortcuts_for_every_method(client: Client, server: CountingServer) -> None:
    url = server.url("/thing")

    @responses.activate
    def check() -> None:
        responses.get(url, body="got")
        responses.post(url, body="posted", status=201)
        responses.put(url, body="put")
        responses.patch(url, body="patched")
        responses.delete(url, status=204)
        responses.head(url, headers={"X-Head": "yes"})
        assert client.get(url).text == "got"
        created = client.post(url, data={"a": "1"})
        assert (created.status_code, created.text) == (201, "posted")
        assert client.put(url, data=b"x").text == "put"
        assert client.patch(url, json={"a": 1}).text == "patched"
        assert client.delete(url).status_code == 204
        assert client.head(url).headers["X-Head"] == "yes"
        assert [c.request.method for c in responses.calls] == ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]

    check()
    assert server.hits == 0


def test_requests_mock_as_context_manager_then_real_traffic_again(client: Client, server: CountingServer) -> None:
    url = server.url("/api/1/foobar")
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, url, body="{}", status=200, content_type="application/json")
        resp = client.get(url)
        assert resp.status_code == 200
        assert resp.json() == {}
    assert server.hits == 0
    # outside the context manager the request reaches the server
    assert client.get(url).json() == {**REAL_BODY, "path": "/api/1/foobar"}
    assert server.hits == 1


def test_unfired_registration_fails_the_context_manager(client: Client, server: CountingServer) -> None:
    with pytest.raises(AssertionError, match="Not all requests have been executed"), \
            responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.GET, server.url("/used"), body="a")
        rsps.add(responses.GET, server.url("/unused"), body="b")
        client.get(server.url("/used"))
    assert server.hits == 0


def test_unregistered_request_is_refused_by_responses_and_never_sent(client: Client, server: CountingServer) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, server.url("/known"), body="a")
        with pytest.raises(requests.ConnectionError, match="Connection refused by Responses") as info:
            client.get(server.url("/unknown"))
        assert type(info.value) is requests.exceptions.ConnectionError  # responses' own, not a dial's
        assert len(rsps.calls) == 1
    assert server.hits == 0


def test_registered_exception_is_raised_as_registered(client: Client, server: CountingServer) -> None:
    error = requests.exceptions.ConnectTimeout("registered by the test")
    plain = Exception("a plain exception")

    @responses.activate
    def check() -> None:
        responses.add(responses.GET, server.url("/timeout"), body=error)
        responses.add(responses.GET, server.url("/plain"), body=plain)
        with pytest.raises(requests.exceptions.ConnectTimeout) as info:
            client.get(server.url("/timeout"))
        assert info.value is error
        with pytest.raises(Exception) as raised:
            client.get(server.url("/plain"))
        assert raised.value is plain
        assert len(responses.calls) == 2

    check()
    assert server.hits == 0


def test_call_counts(client: Client, server: CountingServer) -> None:
    url = server.url("/counted")

    @responses.activate
    def check() -> None:
        rsp = responses.get(url, body="x")
        for _ in range(3):
            client.get(url)
        assert responses.assert_call_count(url, 3) is True
        assert rsp.call_count == 3
        with pytest.raises(AssertionError):
            responses.assert_call_count(url, 2)

    check()
    assert server.hits == 0


def test_status_headers_and_body_as_registered(client: Client, server: CountingServer) -> None:
    url = server.url("/teapot")

    @responses.activate
    def check() -> None:
        responses.add(responses.GET, url, body=b"\xe2\x98\x95 short and stout", status=418,
                      headers={"Set-Cookie": "x=1", "X-Tea": "earl grey"}, content_type="text/plain; charset=utf-8")
        resp = client.get(url)
        assert resp.status_code == 418
        assert resp.reason == "I'm a Teapot"
        assert resp.content == b"\xe2\x98\x95 short and stout"
        assert resp.text == "\u2615 short and stout"
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert resp.headers["x-tea"] == "earl grey"
        assert resp.cookies["x"] == "1"
        assert not resp.ok

    check()
    assert server.hits == 0


def test_callback_reads_the_request_body(client: Client, server: CountingServer) -> None:
    url = server.url("/api/sum")

    def request_callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        import json

        payload = json.loads(request.body)  # type: ignore[arg-type]
        return (200, {"request-id": "728d329e-0e86-11e4-a748-0c84dc037c13"}, json.dumps({"sum": sum(payload["numbers"])}))

    @responses.activate
    def check() -> None:
        responses.add_callback(responses.POST, url, callback=request_callback, content_type="application/json")
        resp = client.post(url, json={"numbers": [1, 2, 3]})
        assert resp.json() == {"sum": 6}
        assert resp.headers["request-id"] == "728d329e-0e86-11e4-a748-0c84dc037c13"
        assert len(responses.calls) == 1
        assert responses.calls[0].response.text == '{"sum": 6}'

    check()
    assert server.hits == 0


def test_matchers_see_the_request_as_sent(client: Client, server: CountingServer) -> None:
    url = server.url("/match")

    @responses.activate
    def check() -> None:
        responses.post(url, body="json matched", match=[matchers.json_params_matcher({"page": {"name": "first"}})])
        responses.post(url, body="form matched", match=[matchers.urlencoded_params_matcher({"a": "1", "b": "x y"})])
        responses.get(url, body="query matched", match=[matchers.query_param_matcher({"q": "cats", "n": "2"})])
        responses.get(url, body="header matched", match=[matchers.header_matcher({"X-Token": "s3cret"})])
        assert client.post(url, json={"page": {"name": "first"}}).text == "json matched"
        assert client.post(url, data={"a": "1", "b": "x y"}).text == "form matched"
        assert client.get(url, params={"q": "cats", "n": 2}).text == "query matched"
        assert client.get(url, headers={"X-Token": "s3cret"}).text == "header matched"

    check()
    assert server.hits == 0


def test_redirects_are_followed_through_the_mock(client: Client, server: CountingServer) -> None:
    start, target = server.url("/old"), server.url("/new")

    @responses.activate
    def check() -> None:
        responses.get(start, status=301, headers={"Location": target})
        responses.get(target, json={"moved": True})
        resp = client.get(start)
        assert resp.json() == {"moved": True}
        assert resp.url == target
        assert [h.status_code for h in resp.history] == [301]
        assert len(responses.calls) == 2
        assert client.get(start, allow_redirects=False).status_code == 301

    check()
    assert server.hits == 0


def test_ordered_registry_answers_in_registration_order(client: Client, server: CountingServer) -> None:
    url = server.url("/ordered")

    @responses.activate(registry=registries.OrderedRegistry)
    def check() -> None:
        responses.get(url, json={"msg": "not found"}, status=404)
        responses.get(url, json={"msg": "OK"}, status=200)
        responses.get(url, json={"msg": "OK"}, status=200)
        assert client.get(url).status_code == 404
        assert client.get(url).json() == {"msg": "OK"}
        assert client.get(url).status_code == 200
        with pytest.raises(requests.ConnectionError):
            client.get(url)  # the registry is used up

    check()
    assert server.hits == 0


def test_passthrough_prefix_reaches_the_real_server(client: Client, server: CountingServer) -> None:
    @responses.activate
    def check() -> None:
        responses.add_passthru(server.url("/live"))
        responses.get(server.url("/mocked"), body="mocked")
        assert client.get(server.url("/mocked")).text == "mocked"
        live = client.get(server.url("/live/1"))
        assert live.json() == {**REAL_BODY, "path": "/live/1"}
        assert live.headers["X-Real"] == "1"
        assert (live.cookies["a"], live.cookies["b"]) == ("1", "2")

    check()
    assert [path for _, path, _ in server.seen] == ["/live/1"]


def test_passthrough_response_is_sent_for_real_and_counted(client: Client, server: CountingServer) -> None:
    url = server.url("/through")

    @responses.activate
    def check() -> None:
        through = responses.add(responses.PassthroughResponse(responses.POST, url))
        resp = client.post(url, data=b"payload")
        assert resp.json() == {**REAL_BODY, "path": "/through"}
        assert through.call_count == 1
        assert len(responses.calls) == 1
        assert responses.calls[0].response.status_code == 200

    check()
    assert server.seen == [("POST", "/through", b"payload")]


def test_passthrough_errors_are_the_clients_own(client: Client, server: CountingServer) -> None:
    closed = CountingServer()
    url = closed.url("/gone")
    closed.stop()  # nothing listens there now

    @responses.activate
    def check() -> None:
        responses.add_passthru(url)
        with pytest.raises(requests.ConnectionError):
            client.get(url, timeout=5)

    check()


def test_passthru_prefixes_argument(client: Client, server: CountingServer) -> None:
    with responses.RequestsMock(passthru_prefixes=(server.url("/"),)):
        assert client.get(server.url("/any")).headers["X-Real"] == "1"
    assert server.hits == 1


def test_map_items_each_through_the_mock(ours: Client, server: CountingServer) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.get(server.url("/a"), body="A")
        rsps.get(server.url("/b"), body="B", status=503)
        results = ours.map([server.url("/a"), server.url("/b"), server.url("/c")])
        assert [r.text for r in results[:2]] == ["A", "B"]
        assert results[1].status_code == 503
        assert isinstance(results[2], requests.ConnectionError)  # unregistered: an error as a value
        assert "Connection refused by Responses" in str(results[2])
        assert len(rsps.calls) == 3
    assert server.hits == 0


def test_retry_policy_of_the_adapter_is_applied_by_responses(server: CountingServer) -> None:
    url = server.url("/flaky")

    @responses.activate(registry=registries.OrderedRegistry)
    def check() -> None:
        rsp1 = responses.get(url, body="Error", status=500)
        rsp2 = responses.get(url, body="Error", status=500)
        rsp3 = responses.get(url, body="OK", status=200)
        session = requests.Session()
        session.mount("http://", LoopBridgeAdapter(max_retries=Retry(total=4, backoff_factor=0.1, status_forcelist=[500],
                                                                     allowed_methods=["GET", "POST", "PATCH"])))
        with session:
            resp = session.get(url)
        assert resp.status_code == 200
        assert (rsp1.call_count, rsp2.call_count, rsp3.call_count) == (1, 1, 1)

    check()
    assert server.hits == 0


def test_streamed_body_through_the_adapter(server: CountingServer) -> None:
    url = server.url("/stream")
    with responses.RequestsMock() as rsps, bridge.http.Session() as session:
        rsps.get(url, body=b"0123456789" * 100)
        resp = session.get(url, stream=True)
        assert b"".join(resp.iter_content(64)) == b"0123456789" * 100
        assert isinstance(resp.connection, LoopBridgeAdapter)
    assert server.hits == 0
