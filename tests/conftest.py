"""Shared fixtures: a real aiohttp upstream on 127.0.0.1, and a fresh core loop per test."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

from async_core import default_loop


class Upstream:
    """A small aiohttp server on 127.0.0.1 running on its own thread and loop."""

    def __init__(self) -> None:
        self.hits = 0
        self.peers: set[int] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-upstream", daemon=True)
        self.port = 0

    async def _delay(self, request: web.Request) -> web.Response:
        self.hits += 1
        transport = request.transport
        if transport is not None:
            self.peers.add(transport.get_extra_info("peername")[1])
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.json_response({"ok": True, "hits": self.hits})

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/delay/{ms}", self._delay)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def start(self) -> Upstream:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    server = Upstream().start()
    yield server
    server.stop()


@pytest.fixture
def fresh_loop() -> Iterator[None]:
    """Stop the process's core loop before and after the test (it restarts on first use)."""
    lt = default_loop()
    saved = lt.config
    lt.stop(grace=2)
    yield
    lt.stop(grace=2)
    lt.configure(saved)
