"""The bench's own upstream: a small aiohttp server on 127.0.0.1, in a process of its own.

Every route answers after a fixed latency that the route itself names, so a URL says what it
costs and the figures need no other setting::

    GET /delay/{ms}    waits ms milliseconds (0..60000), then 200 with a 2-byte body "ok"

The query string is ignored (``/delay/25?i=7`` lets a benchmark send distinct URLs). The server
runs in a separate process so that it does not share the measured process's GIL; it uses uvloop
when installed (less CPU per request on a machine the bench shares with it)::

    python -m loopbridge.bench.upstream --port 0     # prints "bench upstream listening on URL"

:func:`upstream` starts it for the length of a ``with`` block, or hands back a URL the caller
gives (a server with the same routes, e.g. this one started by hand on another machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["READY_PREFIX", "delay_url", "upstream"]

#: the line the server prints once it accepts connections, followed by its base URL
READY_PREFIX = "bench upstream listening on "
_MAX_DELAY_MS = 60_000


def delay_url(base: str, delay_ms: float, i: int | None = None) -> str:
    """The URL of the route answering after ``delay_ms``; ``i`` makes it distinct."""
    url = f"{base.rstrip('/')}/delay/{delay_ms:g}"
    return url if i is None else f"{url}?i={i}"


async def _delay(request: Any) -> Any:
    from aiohttp import web

    try:
        ms = float(request.match_info["ms"])
    except ValueError:
        raise web.HTTPBadRequest(text="the delay must be a number of milliseconds") from None
    if not 0 <= ms <= _MAX_DELAY_MS:
        raise web.HTTPBadRequest(text=f"the delay must be within 0..{_MAX_DELAY_MS} ms")
    if ms:
        await asyncio.sleep(ms / 1000)
    return web.Response(body=b"ok", content_type="text/plain")


async def _serve(port: int) -> None:
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/delay/{ms}", _delay)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"{READY_PREFIX}http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def upstream(url: str | None = None, timeout: float = 20.0) -> Iterator[str]:
    """Yield the base URL of an upstream with the routes above; start one unless ``url`` is given.

    The server this starts listens on 127.0.0.1 on a free port and is stopped (SIGTERM, then
    kill) when the block ends, also on errors.

    Raises:
        ValueError: ``url`` is not an http(s) URL.
        RuntimeError: the server exited or did not print its URL within ``timeout`` seconds.
    """
    if url is not None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the upstream must be an http:// or https:// base URL, got {url!r}.")
        yield url.rstrip("/")
        return
    cmd = [sys.executable, "-m", "loopbridge.bench.upstream", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert proc.stdout is not None
        line = ""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if sel.select(timeout):
                line = proc.stdout.readline()
        if not line.startswith(READY_PREFIX):
            raise RuntimeError(f"the bench upstream did not start ({' '.join(cmd)!r} printed {line!r}); "
                               "run that command by hand to see why.")
        yield line[len(READY_PREFIX):].strip()
    finally:
        _stop(proc)


def main(argv: list[str] | None = None) -> None:
    """Serve on 127.0.0.1 until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description="The loopbridge bench's upstream (fixed latency per route).")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be within 0..65535")
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        runner.run(_serve(args.port))


if __name__ == "__main__":
    main()
