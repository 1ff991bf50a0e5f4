"""LB4xx: the bridge's sync entry points used inside coroutines (and LB202 through a helper)."""
import asyncio

import bridge
from asgiref.sync import async_to_sync
from bridge import run, to_sync


async def load(url):
    return url


@to_sync
async def load_sync(url):
    return url


load_blocking = bridge.to_sync(load)


def report(url):
    return bridge.run(load(url))


async def misuse(url):
    bridge.run(load(url))
    run(load(url))
    asyncio.run(load(url))
    asyncio.get_event_loop().run_until_complete(load(url))
    load_sync(url)
    load_blocking(url)
    async_to_sync(load)(url)
    report(url)


async def correct(url):
    await load(url)
    await bridge.to_async(print)(url)


def sync_caller(url):
    load_sync(url)
    return bridge.run(load(url))
