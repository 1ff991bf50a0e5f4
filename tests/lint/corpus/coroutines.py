"""LB3xx: coroutines created and then dropped or misused."""
import asyncio
import logging

import aiohttp

logger = logging.getLogger(__name__)


async def ping(url: str) -> bool:
    return True


async def fetch_all(urls):
    return [url for url in urls]


class Monitor:
    async def refresh(self):
        return None

    async def tick(self):
        self.refresh()
        await self.refresh()


async def dropped(url):
    ping(url)
    asyncio.sleep(1)
    pending = ping(url)
    if not ping(url):
        return None
    while ping(url):
        break
    ok = ping(url)
    if ok:
        pass
    logger.info("result %s", ping(url))
    print(f"got {ping(url)}")
    message = "state: %s" % ping(url)
    return message


async def aiohttp_response(session: aiohttp.ClientSession, url):
    async with session.get(url) as resp:
        resp.text()
        return await resp.json()


async def handled(url, urls):
    await ping(url)
    task = asyncio.create_task(ping(url))
    results = await asyncio.gather(ping(url), fetch_all(urls))
    later = ping(url)
    value = await later
    coros = [ping(u) for u in urls]
    await asyncio.gather(*coros)
    done = await asyncio.wait_for(ping(url), timeout=3)
    asyncio.ensure_future(ping(url))
    return task, results, value, done


def handed_back(url):
    return ping(url)


def sync_view(url):
    ping(url)
    result = fetch_all([url])
    return "ok"


def sync_view_with_runner(url):
    import bridge

    value = bridge.run(ping(url))
    other = asyncio.run(fetch_all([url]))
    return value, other


async def agen():
    yield 1


async def uses_agen():
    async for item in agen():
        print(item)
    agen()
