"""Coroutine functions handed (not called) to something that calls them and drops the result."""

from __future__ import annotations

import asyncio
import atexit
import signal
import threading
from concurrent.futures import ThreadPoolExecutor


async def ping(url: str = "") -> str:
    await asyncio.sleep(0)
    return url


async def on_done(fut: asyncio.Future[str]) -> None:
    await asyncio.sleep(0)


def log_done(fut: asyncio.Future[str]) -> None:
    print("done", fut)


class Ticker:
    async def tick(self) -> None:
        await asyncio.sleep(0)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(1.0, self.tick)
        loop.call_soon_threadsafe(self.tick)


async def schedule(pool: ThreadPoolExecutor, url: str) -> None:
    loop = asyncio.get_running_loop()
    loop.call_soon(ping, url)
    loop.add_signal_handler(signal.SIGTERM, ping)
    signal.signal(signal.SIGINT, ping)
    threading.Thread(target=ping, args=(url,)).start()
    atexit.register(ping)
    pool.submit(ping, url)
    await loop.run_in_executor(None, ping, url)
    await asyncio.to_thread(ping, url)
    fut: asyncio.Future[str] = loop.create_future()
    fut.add_done_callback(on_done)


# not lost: plain functions handed over, coroutines handed to what runs them
async def fine(pool: ThreadPoolExecutor, url: str, registry: object) -> None:
    loop = asyncio.get_running_loop()
    loop.call_soon(print, url)
    threading.Thread(target=asyncio.run, args=(ping(url),)).start()
    pool.submit(asyncio.run, ping(url)).add_done_callback(log_done)
    await loop.run_in_executor(None, print, url)
    task = asyncio.ensure_future(ping(url))
    task.add_done_callback(log_done)
    await task
    registry.register(ping)  # type: ignore[attr-defined]  # an unknown registrar: not judged
