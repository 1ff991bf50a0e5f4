"""A small SOCKS4/4a/5 server on 127.0.0.1 for the adapter's tests (CONNECT only, loopback only).

It speaks the protocols as RFC 1928 / 1929 and the SOCKS4(a) notes define them, records what each
client asked for (the destination as sent: a name or an address) and relays bytes both ways.
It refuses any destination that is not loopback, so nothing can leave the machine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@dataclasses.dataclass
class SocksServer:
    """What the server saw; ``url(scheme)`` is the proxy URL to give a client."""

    port: int = 0
    credentials: tuple[str, str] | None = None
    connections: int = 0
    #: (protocol version, destination as sent, port) per CONNECT
    requests: list[tuple[int, str, int]] = dataclasses.field(default_factory=list)

    def url(self, scheme: str, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user is not None else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def _loopback(host: str) -> str:
    """The loopback address ``host`` stands for, or raise (nothing leaves the machine)."""
    if host == "localhost":
        return "127.0.0.1"
    if not ipaddress.ip_address(host).is_loopback:
        raise PermissionError(f"the test SOCKS server only connects to loopback, not {host}")
    return host


async def _socks5(state: SocksServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, int] | None:
    count = (await reader.readexactly(1))[0]
    methods = await reader.readexactly(count)
    if state.credentials is not None:
        if 2 not in methods:
            writer.write(b"\x05\xff")
            return None
        writer.write(b"\x05\x02")
        await reader.readexactly(1)
        user = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        password = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        ok = (user, password) == state.credentials
        writer.write(b"\x01\x00" if ok else b"\x01\x01")
        if not ok:
            return None
    else:
        writer.write(b"\x05\x00")
    _, command, _, kind = await reader.readexactly(4)
    if kind == 1:
        host = socket.inet_ntoa(await reader.readexactly(4))
    elif kind == 3:
        host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
    else:
        host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
    port = struct.unpack("!H", await reader.readexactly(2))[0]
    state.requests.append((5, host, port))
    if command != 1:
        writer.write(b"\x05\x07\x00\x01" + bytes(6))
        return None
    return host, port


async def _socks4(state: SocksServer, reader: asyncio.StreamReader) -> tuple[str, int] | None:
    command = (await reader.readexactly(1))[0]
    port = struct.unpack("!H", await reader.readexactly(2))[0]
    address = await reader.readexactly(4)
    await reader.readuntil(b"\x00")  # user id
    host = socket.inet_ntoa(address)
    if address[:3] == b"\x00\x00\x00" and address[3]:  # SOCKS4a: the name follows
        host = (await reader.readuntil(b"\x00"))[:-1].decode()
    state.requests.append((4, host, port))
    return (host, port) if command == 1 else None


async def _client(state: SocksServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    state.connections += 1
    upstream: asyncio.StreamWriter | None = None
    try:
        version = (await reader.readexactly(1))[0]
        target = await (_socks5(state, reader, writer) if version == 5 else _socks4(state, reader))
        if target is None:
            await writer.drain()
            return
        try:
            up_reader, upstream = await asyncio.open_connection(_loopback(target[0]), target[1])
        except (OSError, ValueError):
            writer.write(b"\x05\x05\x00\x01" + bytes(6) if version == 5 else b"\x00\x5b" + bytes(6))
            await writer.drain()
            return
        writer.write(b"\x05\x00\x00\x01" + bytes(6) if version == 5 else b"\x00\x5a" + bytes(6))
        await writer.drain()
        await asyncio.gather(_relay(reader, upstream), _relay(up_reader, writer))
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finally:
        if upstream is not None:
            upstream.close()
        writer.close()


@contextmanager
def socks_server(credentials: tuple[str, str] | None = None) -> Iterator[SocksServer]:
    """Run a SOCKS server on 127.0.0.1 in a thread of its own for the ``with`` block."""
    state = SocksServer(credentials=credentials)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, asyncio.base_events.Server] = {}

    async def start() -> None:
        server = await asyncio.start_server(lambda r, w: _client(state, r, w), "127.0.0.1", 0)
        state.port = server.sockets[0].getsockname()[1]
        box["server"] = server

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()
        box["server"].close()
        loop.run_until_complete(box["server"].wait_closed())
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    thread = threading.Thread(target=serve, name="test-socks-server", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the test SOCKS server did not start within 10 s")
    try:
        yield state
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
