"""Coroutines created and lost: in attributes, in literals only measured or printed, beside
an await, mapped into sync consumers, handed to gather as a list, used as values."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


async def ping(url: str) -> bool:
    await asyncio.sleep(0)
    return bool(url)


async def connect() -> dict:
    await asyncio.sleep(0)
    return {"id": 1}


def make_ping(url: str):  # a plain helper that hands back the coroutine
    return ping(url)


class Monitor:
    def __init__(self, url: str) -> None:
        self.url = url
        self.ready = connect()
        self.checked = ping(url)

    async def refresh(self) -> None:
        self.last = ping(self.url)
        self.current = ping(self.url)
        await self.current
        if self.checked:
            log.info("checked %s", self.checked)


async def report(urls: list[str]) -> int:
    print([ping(url) for url in urls])
    log.info("%d checks", len([ping(url) for url in urls]))
    [ping(url) for url in urls]
    return len({url: ping(url) for url in urls})


async def pair(a: str, b: str) -> tuple:
    first, second = await ping(a), ping(b)
    return first, second


async def pair_statement(a: str, b: str) -> None:
    await ping(a), ping(b)


async def mapped(urls: list[str]) -> bool:
    if any(map(ping, urls)):
        return all(map(ping, urls))
    print(", ".join(map(str, urls)))
    return bool(list(filter(ping, urls)))


async def gathered(urls: list[str]) -> list:
    jobs = [ping(url) for url in urls]
    await asyncio.gather(jobs)
    return await asyncio.gather([ping(url) for url in urls])


async def as_values(url: str) -> object:
    data = connect()
    helped = make_ping(url)
    if helped:
        print(data["id"])
    return data.get("id")


# negatives: awaited, gathered unpacked, attributes awaited elsewhere, closed on purpose
class Poller:
    def __init__(self, url: str) -> None:
        self.pending = ping(url)

    async def wait(self) -> bool:
        return await self.pending


async def fine(urls: list[str]) -> list:
    jobs = [ping(url) for url in urls]
    first, second = await ping("a"), await ping("b")
    results = await asyncio.gather(*jobs, *map(ping, urls))
    done = await asyncio.gather(*[ping(url) for url in urls])
    unused = ping("x")
    unused.close()
    helped = make_ping("y")
    await helped
    data = await connect()
    return [first, second, results, done, data["id"]]
