"""Coroutines that call blocking project helpers directly and through chains."""
import asyncio

from . import net
from .net import fetch, fetch_with_retry, ping_a, pure
from .store import Lazy, Store


async def check_site(url):
    return fetch(url)


async def check_with_retry(url):
    return fetch_with_retry(url)


async def via_module(url):
    return net.fetch(url)


async def through_cycle():
    ping_a(3)


async def through_class(path):
    store = Store(path)
    return store.sites()


class Checker:
    def __init__(self, store: Store):
        self.store = store

    def _load(self):
        return self.store.sites()

    async def run(self):
        return self._load()


async def not_blocking(url):
    pure(2)
    Lazy().label()
    await asyncio.to_thread(fetch, url)
    await asyncio.get_running_loop().run_in_executor(None, lambda: fetch(url))
    return await asyncio.to_thread(Store, "db")
