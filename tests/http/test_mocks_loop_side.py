"""The loop side (``async_get``/``async_map``, ``await`` in async views) is not seen by mocks of
requests; docs/http.md ("Testing") shows how to fake it: a real aiohttp server on 127.0.0.1,
started on the shared loop (this test), or a vcrpy cassette (test_mocks_vcr.py)."""

from __future__ import annotations

from typing import Any

import responses
from aiohttp import web
from aiohttp.test_utils import TestServer

import bridge
import bridge.http

from .mock_support import REAL_BODY, CountingServer


async def _users(request: web.Request) -> web.Response:
    return web.json_response({"id": int(request.match_info["id"])})


async def _start_fake_api() -> TestServer:
    app = web.Application()
    app.router.add_get("/users/{id}", _users)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


def test_a_fake_api_served_on_the_shared_loop_answers_every_way_of_calling() -> None:
    server = bridge.run(_start_fake_api())  # the documented recipe
    try:
        url = str(server.make_url("/users/1"))

        async def on_the_loop() -> list[Any]:
            one = await bridge.http.async_get(url)
            many = await bridge.http.async_map([str(server.make_url("/users/2")), str(server.make_url("/users/3"))])
            return [one, *many]

        assert [r.json()["id"] for r in bridge.run(on_the_loop())] == [1, 2, 3]
        assert bridge.http.get(url).json() == {"id": 1}
        with bridge.http.Session() as session:
            assert session.get(url).json() == {"id": 1}
    finally:
        bridge.run(server.close())


def test_requests_mocks_do_not_see_the_loop_side(server: CountingServer) -> None:
    url = server.url("/async")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(url, body="mocked")
        assert bridge.http.get(url).text == "mocked"  # the sync facade: seen
        real = bridge.run(bridge.http.async_get(url))  # awaited on the loop: not seen
    assert real.json() == {**REAL_BODY, "path": "/async"}
    assert server.hits == 1
