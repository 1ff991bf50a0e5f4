"""Fixtures for the watchdog tests: the real default loop with a low threshold, slow servers."""

from __future__ import annotations

import dataclasses
import http.server
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from async_core import LoopThread, default_loop
from async_core._watchdog import StallReport, Watchdog

#: low, so the tests are quick; the stalls they provoke last 300 ms or more
THRESHOLD_MS = 100


@dataclasses.dataclass
class Watched:
    """The default loop under a watchdog, and the reports it has published so far."""

    lt: LoopThread
    watchdog: Watchdog
    reports: list[StallReport]

    def settle(self) -> list[StallReport]:
        """Wait until a stall that just ended is reported; return every report so far."""
        assert self.watchdog.sync(timeout=3.0), "the watchdog did not catch up within 3 s"
        return list(self.reports)


@pytest.fixture
def watched() -> Iterator[Watched]:
    """The process's default loop, fresh, with the watchdog at THRESHOLD_MS and strict off."""
    lt = default_loop()
    config = lt.config
    lt.stop()
    lt.configure(config.replace(watchdog_ms=THRESHOLD_MS, strict=False))
    lt.start()
    watchdog = lt.watchdog
    reports: list[StallReport] = []
    watchdog.add_callback(reports.append)
    try:
        yield Watched(lt, watchdog, reports)
    finally:
        lt.stop()
        lt.configure(config)


def line_of(func: Callable[..., Any], marker: str) -> int:
    """The line number of the line of ``func`` holding ``marker`` (a comment)."""
    lines, first = inspect.getsourcelines(func)
    for offset, text in enumerate(lines):
        if marker in text:
            return first + offset
    raise AssertionError(f"{marker!r} not found in {func.__qualname__}")


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    delay = 0.3

    def do_GET(self) -> None:
        time.sleep(self.delay)
        body = b"slow ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    """A local HTTP server answering every GET after 0.3 s; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="slow-http-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
