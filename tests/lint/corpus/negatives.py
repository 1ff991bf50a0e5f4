"""Nothing here may be flagged: the precision cases."""
import asyncio
import functools
import os
import os.path
import threading
import time
from typing import TYPE_CHECKING

import aiohttp
import requests
from asgiref.sync import sync_to_async
from flask import request

import bridge

if TYPE_CHECKING:
    requests.get("type checking only")

    async def declared_for_type_checkers_only(url):
        return requests.get(url)


def blocking_helper(url):
    return requests.get(url)


def never_reached_from_a_coroutine():
    time.sleep(1)
    return blocking_helper("u")


@bridge.to_async
def offloaded(url):
    return requests.get(url)


@sync_to_async
def offloaded_asgiref(path):
    with open(path) as fh:
        return fh.read()


async def off_the_loop(url, path):
    await asyncio.to_thread(requests.get, url)
    await asyncio.to_thread(lambda: time.sleep(1))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, functools.partial(requests.get, url))
    await loop.run_in_executor(None, blocking_helper, url)
    await bridge.to_async(blocking_helper)(url)
    await sync_to_async(blocking_helper)(url)
    await offloaded(url)
    await offloaded_asgiref(path)

    def nested():
        return requests.get(url)

    await asyncio.to_thread(nested)
    threading.Thread(target=blocking_helper, args=(url,)).start()
    threading.Thread(target=lambda: time.sleep(1)).start()


async def async_apis(url):
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            await resp.text()
    await asyncio.sleep(1)
    queue: asyncio.Queue = asyncio.Queue()
    await queue.get()
    lock = asyncio.Lock()
    async with lock:
        pass
    event = asyncio.Event()
    await event.wait()


async def look_alikes(session, client):
    requests = {"get": 1}
    requests.get("x")
    session.get("not known to be blocking")
    client.execute("unknown object")
    os.path.join("a", "b")
    os.path.basename("a/b")
    time.monotonic()
    time.time()


async def flask_async_view():
    user = request.session.get("user")
    args = request.args.get("page")
    return user, args


class Handler:
    def __init__(self, session):
        self.session = session

    async def handle(self):
        return await self.session.get("u")
