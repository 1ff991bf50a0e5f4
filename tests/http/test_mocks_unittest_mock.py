"""Tests that patch requests with ``unittest.mock`` at the places the mock libraries use: the
replaced attribute gets the call of the adapter and the facade, and what it returns comes back
as requests would hand it back."""

from __future__ import annotations

from unittest import mock

import requests

import bridge.http

from .mock_support import Client, CountingServer


def test_session_request_patched_with_a_mock_object(client: Client, server: CountingServer) -> None:
    fake = mock.Mock(status_code=200)
    fake.json.return_value = {"id": 7}
    with mock.patch("requests.Session.request", return_value=fake) as patched:
        resp = client.get(server.url("/users/7"))
        assert resp is fake and resp.json() == {"id": 7}
        sent = patched.call_args.kwargs | dict(zip(("method", "url"), patched.call_args.args, strict=False))
        assert (sent["method"], sent["url"]) == ("GET", server.url("/users/7"))
    assert server.hits == 0


def test_session_send_patched_with_a_mock_object(client: Client, server: CountingServer) -> None:
    fake = mock.Mock(status_code=204)
    with mock.patch.object(requests.Session, "send", return_value=fake) as patched:
        assert client.delete(server.url("/users/7")) is fake
        (prepared,) = patched.call_args.args
        assert (prepared.method, prepared.url) == ("DELETE", server.url("/users/7"))
    assert server.hits == 0


def test_adapter_send_patched_with_autospec_builds_on_the_adapter(ours: Client, server: CountingServer) -> None:
    def answer(adapter: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        resp = requests.Response()
        resp.status_code, resp._content, resp.url, resp.request = 201, b'{"made": true}', request.url, request
        resp.headers["Content-Type"] = "application/json"
        return resp

    with mock.patch("requests.adapters.HTTPAdapter.send", autospec=True, side_effect=answer) as patched:
        resp = ours.post(server.url("/things"), json={"a": 1})
        assert (resp.status_code, resp.json()) == (201, {"made": True})
        assert patched.call_count == 1
        assert patched.call_args.args[1].body == b'{"a": 1}'
    assert server.hits == 0
    assert bridge.http.get(server.url("/after")).status_code == 200  # unpatched: sent for real
    assert server.hits == 1
