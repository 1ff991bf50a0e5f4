"""One HTTP call made while sync code blocks the shared loop; run as ``python -m tests.http.blocked_loop_case CASE``.

Prints one JSON line: how long the call took, what it ended with, and whether the loop side was
left clean once the loop ran again (no request in flight, no connection in use). Run by
test_blocked_loop_deadlines.py in a subprocess with a timeout (a regression would hang).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import threading
import time
from typing import Any

import requests

import bridge
import bridge.http
from async_core import default_loop
from async_core.http import http_client

from .raw_server import RawServer, answer, wait_until

BLOCK = 2.5  # seconds the loop is blocked; every limit below is shorter


async def _block(seconds: float) -> None:
    time.sleep(seconds)  # noqa: ASYNC251  (the point: sync code blocking the loop)


def block_loop(after: float = 0.0) -> threading.Thread:
    """Block the loop for BLOCK seconds, from ``after`` seconds on (a coroutine sleeping in sync code)."""
    def go() -> None:
        time.sleep(after)
        bridge.run(_block(BLOCK))

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    if not after:
        time.sleep(0.2)  # the loop is inside time.sleep now
    return thread


def _outcome(value: Any) -> Any:
    if isinstance(value, BaseException):
        return {"error": type(value).__name__, "message": str(value)[:300],
                "requests": sorted(n for n, c in vars(requests.exceptions).items()
                                   if isinstance(c, type) and issubclass(c, BaseException) and isinstance(value, c))}
    if isinstance(value, list):
        return [_outcome(v) for v in value]
    return {"status": getattr(value, "status_code", None)}


def main(case: str) -> None:
    routes = {
        "/ok": lambda head: answer(body=b"ok"),
        "/late": lambda head: (time.sleep(1.5), answer(body=b"late"))[1],
        "/trickle": lambda head: [b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nab", b"cd", b"ef", b"gh"],
        "/first-then-slow": lambda head: (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"),
    }
    with RawServer(routes) as server:
        bridge.run(asyncio.sleep(0))  # the loop is up
        adapter = bridge.http.LoopBridgeAdapter(total_timeout=1.5) if case == "adapter-total" else None
        session = bridge.http.Session(adapter)
        blocker: threading.Thread | None = None
        started = time.monotonic()
        value: Any
        try:
            if case == "adapter":
                blocker = block_loop()
                started = time.monotonic()
                value = session.get(server.url("/ok"), timeout=(1, 1))
            elif case == "adapter-total":
                blocker = block_loop()
                started = time.monotonic()
                value = session.get(server.url("/ok"), timeout=None)
            elif case == "adapter-read":
                session.get(server.url("/ok"))  # a pooled connection: the read deadline starts as the call does
                blocker = block_loop(after=0.3)  # the request is sent, then the loop blocks
                started = time.monotonic()
                value = session.get(server.url("/late"), timeout=(1, 1))
            elif case == "stream":
                r = session.get(server.url("/first-then-slow"), stream=True, timeout=(1, 1))
                chunks = r.iter_content(5)
                assert next(chunks) == b"first"
                blocker = block_loop()
                started = time.monotonic()
                value = next(chunks)
            elif case == "get":
                blocker = block_loop()
                started = time.monotonic()
                value = bridge.http.get(server.url("/ok"), timeout=1)
            elif case == "map":
                blocker = block_loop()
                started = time.monotonic()
                value = bridge.http.map([server.url("/ok")] * 5, timeout=1)
            elif case == "map-raise":
                blocker = block_loop()
                started = time.monotonic()
                value = bridge.http.map([server.url("/ok")] * 5, timeout=1, return_exceptions=False)
            elif case == "map-deadline":
                blocker = block_loop()
                started = time.monotonic()
                value = bridge.http.map([server.url("/ok")] * 5, timeout=None, deadline=1)
            elif case == "map-session":
                blocker = block_loop()
                started = time.monotonic()
                value = bridge.http.map([server.url("/ok")] * 3, session=session, timeout=(1, 1))
            elif case == "healthy":  # a body whose pieces come within the read timeout, 1.2 s in all
                value = [bridge.http.get(server.url("/trickle"), timeout=(1, 1)),
                         session.get(server.url("/trickle"), timeout=(1, 1)),
                         *bridge.http.map([server.url("/trickle")] * 2, timeout=(1, 1))]
                assert all(r.content == b"abcdefgh" for r in value), value
            else:
                raise SystemExit(f"unknown case {case}")
        except Exception as exc:  # what the call ended with is the result
            value = exc
        elapsed = time.monotonic() - started
        if blocker is not None:
            blocker.join(10)
        stats = http_client().stats()
        clean = wait_until(lambda: http_client().stats()["requests_in_flight"] == 0
                           and http_client().stats()["connections_in_use"] == 0, 5)
        works = session.get(server.url("/ok"), timeout=5).text == "ok"
        session.close()
        default_loop().stop(grace=2)
        gc.collect()
    print(json.dumps({"elapsed": elapsed, "outcome": _outcome(value), "clean": clean, "works_after": works,
                      "stats_when_ended": stats}))


if __name__ == "__main__":
    main(sys.argv[1])
