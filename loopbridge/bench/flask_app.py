"""The WSGI app ``loopbridge bench`` serves with gunicorn: the same work written four ways.

One upstream call per request (the upstream answers after a fixed delay):

- ``/a``  sync view with requests (a ``requests.Session`` per worker thread, keep-alive);
- ``/stock/b``  stock Flask ``async def`` view, no extension: asgiref makes a loop per request,
  so the aiohttp session is per request too;
- ``/c``  ``async def`` view with LoopBridge: the shared loop and its shared session;
- ``/d``  sync view calling ``bridge.http.get``.

Ten upstream calls per request (a fan-out): ``/fan/seq`` (sequential requests), ``/fan/map``
(``bridge.http.map``), ``/stock/fan/gather`` (stock async view, aiohttp session + gather).

``/socket`` answers the worker's pid and the module of its ``socket.socket``: the peers section
checks with it that a gevent worker really serves on gevent's sockets (and a gthread one on the
standard library's), since it serves this same app file under every worker class.

The upstream base URL comes from ``LOOPBRIDGE_BENCH_UPSTREAM``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading

import aiohttp
import requests
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from bridge import http
from bridge import LoopBridge

UPSTREAM = os.environ.get("LOOPBRIDGE_BENCH_UPSTREAM", "http://127.0.0.1:8001")
DELAY_MS = float(os.environ.get("LOOPBRIDGE_BENCH_DELAY_MS", "25"))
FAN = 10
_local = threading.local()


def _url(i: int = 0) -> str:
    return f"{UPSTREAM}/delay/{DELAY_MS:g}?i={i}"


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session  # type: ignore[no-any-return]


def _bridged_app() -> Flask:
    app = Flask("loopbridge_bench")
    LoopBridge(app)

    @app.get("/a")
    def sync_requests() -> str:
        resp = _session().get(_url(), timeout=10)
        return str(resp.status_code)

    @app.get("/c")
    async def async_shared_loop() -> str:
        resp = await http.async_get(_url(), timeout=10)
        return str(resp.status_code)

    @app.get("/d")
    def sync_bridge_http() -> str:
        return str(http.get(_url(), timeout=10).status_code)

    @app.get("/fan/seq")
    def fan_sequential() -> str:
        session = _session()
        return ",".join(str(session.get(_url(i), timeout=10).status_code) for i in range(FAN))

    @app.get("/socket")
    def socket_module() -> str:
        return f"{os.getpid()} {socket.socket.__module__}"

    @app.get("/fan/map")
    def fan_map() -> str:
        results = http.map([_url(i) for i in range(FAN)], concurrency=FAN, timeout=10)
        return ",".join(str(getattr(r, "status_code", "err")) for r in results)

    return app


def _prometheus_app() -> Flask:
    """Route (d) again, in an app recording the per-route Prometheus figures (their cost)."""
    app = Flask("loopbridge_bench_prometheus")
    app.config["LOOPBRIDGE_PROMETHEUS"] = True
    LoopBridge(app)
    app.add_url_rule("/d", "sync_bridge_http", flask_app.view_functions["sync_bridge_http"])
    return app


def _stock_app() -> Flask:
    app = Flask("loopbridge_bench_stock")

    @app.get("/b")
    async def stock_async() -> str:
        async with aiohttp.ClientSession() as session, session.get(_url()) as resp:
            await resp.read()
            return str(resp.status)

    @app.get("/fan/gather")
    async def stock_gather() -> str:
        async with aiohttp.ClientSession() as session:

            async def one(i: int) -> int:
                async with session.get(_url(i)) as resp:
                    await resp.read()
                    return resp.status

            statuses = await asyncio.gather(*(one(i) for i in range(FAN)))
        return ",".join(map(str, statuses))

    return app


flask_app = _bridged_app()
app = DispatcherMiddleware(flask_app, {"/stock": _stock_app(), "/prom": _prometheus_app()})
