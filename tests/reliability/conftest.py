"""The fault suite's shared parts: a hostile upstream on 127.0.0.1, and the figures table.

Each test may record figures with the ``figures`` fixture; they are printed in one table at the
end of the run (``pytest tests/reliability`` shows them without ``-s``).
"""

from __future__ import annotations

import asyncio
import collections
import socket
import struct
import threading
from collections.abc import Iterator

import pytest


_FIGURES: list[tuple[str, str]] = []


class Figures:
    """Collects ``name: value`` lines for the end-of-run table."""

    def add(self, name: str, value: object) -> None:
        _FIGURES.append((name, str(value)))


@pytest.fixture
def figures() -> Figures:
    return Figures()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("loopbridge fault suite: figures")
    width = max(len(name) for name, _ in _FIGURES)
    for name, value in _FIGURES:
        terminalreporter.write_line(f"{name.ljust(width)}  {value}")


class HostileUpstream:
    """A raw HTTP/1.1 server that misbehaves on purpose, one behaviour per path.

    ``/ok`` 200 · ``/reset`` reset before any answer · ``/reset-mid-body`` reset halfway through
    the body · ``/drip`` one byte per 0.2 s for ever · ``/huge`` an endless chunked body ·
    ``/huge-declared`` a 1 GiB Content-Length · ``/badchunk`` a chunk size of ``zz`` ·
    ``/silence`` reads the request and never answers. ``hits[path]`` counts requests.
    """

    def __init__(self) -> None:
        self.hits: collections.Counter[str] = collections.Counter()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostile-upstream", daemon=True)
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def start(self) -> HostileUpstream:
        self._thread.start()
        self._ready.wait(10)
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._server = server
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @staticmethod
    def _reset(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:  # SO_LINGER 0: close() sends RST, not FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode().split("?")[0]
                self.hits[path] += 1
                if not await self._answer(path, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            if not writer.transport.is_closing():
                writer.transport.abort()

    async def _answer(self, path: str, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is done with."""
        if path == "/ok":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            return True
        if path == "/reset":
            self._reset(writer)
            return False
        if path == "/reset-mid-body":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)
            await writer.drain()
            await asyncio.sleep(0.05)
            self._reset(writer)
            return False
        if path == "/drip":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while True:
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.2)
        if path in ("/huge", "/huge-declared"):
            if path == "/huge":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                chunk = b"%x\r\n%s\r\n" % (65536, b"y" * 65536)
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
                chunk = b"y" * 65536
            for _ in range(20_000):  # bounded: about 1.3 GB at most, stops when the client goes
                writer.write(chunk)
                await writer.drain()
            return False
        if path == "/badchunk":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
            await writer.drain()
            return False
        if path == "/silence":
            await asyncio.sleep(3600)
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        return True


@pytest.fixture(scope="session")
def hostile() -> Iterator[HostileUpstream]:
    server = HostileUpstream().start()
    yield server
    server.stop()
