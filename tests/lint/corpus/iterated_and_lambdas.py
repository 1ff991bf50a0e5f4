"""Coroutines and blocking objects reached by iterating a typed container; lambdas bound to names."""

from __future__ import annotations

import asyncio

import aiohttp
import requests

FETCH = lambda url: requests.get(url, timeout=5)  # noqa: E731


class SessionPool:
    def __init__(self) -> None:
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.clients: list[requests.Session] = []

    async def close(self) -> None:
        for session in self.sessions.values():
            session.close()

    async def close_named(self) -> None:
        for name, session in self.sessions.items():
            print("closing", name)
            session.close()

    async def warm(self, url: str) -> None:
        for client in self.clients:
            client.head(url)

    async def close_properly(self) -> None:
        for session in self.sessions.values():
            await session.close()
        await asyncio.gather(*(s.close() for s in self.sessions.values()))
        for host in self.sessions:
            await self.sessions[host].close()


async def poll(url: str, clients: dict[str, requests.Session],
               backups: list[requests.Session]) -> list[int]:
    for client in clients.values():
        client.get(url)
    for index, backup in enumerate(backups):
        backup.post(url, data={"n": index})
    return [c.get(url).status_code for c in backups]


async def shut(sessions: list[aiohttp.ClientSession]) -> None:
    for session in sessions:
        session.close()


def shut_from_sync_code(clients: list[requests.Session]) -> None:
    for client in clients:
        client.close()  # a plain function may block


async def lambdas(url: str) -> object:
    fetch = lambda: requests.get(url, timeout=5)  # noqa: E731
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, fetch)  # runs in a worker thread: fine
    fetch()
    head = lambda target: requests.head(target, timeout=2)  # noqa: E731
    response = head(url)
    await asyncio.to_thread(head, url)  # fine
    FETCH(url)
    return response


async def check(url: str) -> int:
    await asyncio.sleep(0)
    return len(url)


async def report_started(urls: list[str]) -> None:
    jobs = [check(url) for url in urls]
    for job in jobs:
        print("started", job)


async def report_by_site(urls: list[str]) -> None:
    jobs = {url: check(url) for url in urls}
    for url, job in jobs.items():
        print(f"{url}: {job}")


async def report_numbered(urls: list[str]) -> None:
    jobs = []
    for url in urls:
        jobs.append(check(url))
    for number, job in enumerate(jobs):
        if job:
            print(number)


async def report_sites_only(urls: list[str]) -> None:
    jobs = {url: check(url) for url in urls}
    for url in jobs:
        print(url)


async def run_each(urls: list[str]) -> list[int]:
    jobs = [check(url) for url in urls]
    results = []
    for job in jobs:
        results.append(await job)
    by_site = {url: check(url) for url in urls}
    for url in by_site:
        results.append(await by_site[url])
    started = {url: check(url) for url in urls}
    async with asyncio.TaskGroup() as group:
        for job in started.values():
            group.create_task(job)
    return results


class Probe:
    def __init__(self, base: str) -> None:
        self.fetch = lambda path: requests.get(base + path, timeout=5)  # noqa: E731

    async def probe(self, path: str) -> None:
        self.fetch(path)
        await asyncio.to_thread(self.fetch, path)  # fine: in a worker thread


async def aliased(url: str) -> None:
    get = lambda: requests.get(url, timeout=5)  # noqa: E731
    again = get
    again()
    wrapped = lambda: get()  # noqa: E731
    wrapped()
    await asyncio.get_running_loop().run_in_executor(None, wrapped)  # fine
