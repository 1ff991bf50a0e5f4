"""LB1xx: blocking objects reached through properties, containers, streams and bound lambdas."""
import asyncio
import functools
import sys

import requests


class Client:
    def __init__(self) -> None:
        self.sessions: dict[str, requests.Session] = {}
        self.pool: list[requests.Session] = []

    @functools.cached_property
    def http(self):
        return requests.Session()

    @property
    def admin(self) -> requests.Session:
        return requests.Session()

    @property
    def name(self) -> str:
        return "client"

    async def through_properties(self, url):
        self.http.get(url)
        self.admin.post(url, data={})
        return self.name.upper()

    async def through_containers(self, url, by_host: dict[str, requests.Session]):
        self.sessions["api"].get(url)
        self.pool[0].head(url)
        by_host["example.org"].get(url)
        return len(self.sessions)


async def streams(path, rows):
    line = sys.stdin.readline()
    data = sys.stdin.buffer.read()
    with open(path, "a") as fh:
        print(line, data, file=fh)
    print(rows, file=sys.stderr)
    print(rows)
    return None


async def bound_lambdas(url):
    fetch = lambda u: requests.get(u, timeout=3)  # noqa: E731
    fetch(url)
    offloaded = await asyncio.to_thread(lambda: requests.get(url))
    return offloaded
