"""Not findings: creating a generator, time.sleep(0), a scheduler that accepts coroutines."""

from __future__ import annotations

import asyncio
import inspect
import os
import pathlib
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests


def pages(url: str) -> Iterator[bytes]:
    while url:
        response = requests.get(url, timeout=5)
        yield response.content
        url = response.headers.get("next", "")


async def start_paging(url: str, sink: Callable[[Iterator[bytes]], None]) -> None:
    generator = pages(url)  # created, not run: its body runs where it is iterated
    sink(generator)
    await asyncio.to_thread(list, pages(url))


async def let_others_run() -> None:
    time.sleep(0)
    time.sleep(0.0)


class Scheduler:
    def __init__(self) -> None:
        self.loop = asyncio.get_event_loop()
        self.tasks: set[asyncio.Future[Any]] = set()

    def call_later(self, delay: float, fn: Callable[..., Any]) -> None:
        self.loop.call_later(delay, self._run, fn)

    def _run(self, fn: Callable[..., Any]) -> None:
        if inspect.iscoroutinefunction(fn):
            task = asyncio.ensure_future(fn())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            fn()

    def call_soon(self, fn: Callable[..., Any]) -> None:
        result = fn()
        if asyncio.iscoroutine(result):
            self.tasks.add(asyncio.ensure_future(result))


async def refresh() -> None:
    await asyncio.sleep(1)


async def plan(scheduler: Scheduler) -> None:
    scheduler.call_later(5, refresh)
    scheduler.call_soon(refresh)


class Config:
    def __init__(self, app: str, reload: bool = False, watch: list[str] | None = None) -> None:
        self.app = app
        self.reload = reload
        self.dirs: list[str] = []
        if self.reload:  # an option the object is built with: off here
            self.dirs = [str(p) for p in pathlib.Path.cwd().glob("*")]
        if watch:
            self.dirs += [p for p in watch if os.path.isdir(p)]


async def serve(app: str) -> Config:
    return Config(app)


async def _find_async(items: list[str]) -> str:
    await asyncio.sleep(0)
    return items[0]


def _find_sync(items: list[str]) -> str:
    return items[0]


def find(items: Any) -> Any:  # a coroutine for async iterables, a value otherwise
    return _find_async(items) if hasattr(items, "__aiter__") else _find_sync(items)


async def lookup(items: list[str]) -> str:
    found = find(items)
    if found is not None:
        return str(found.upper())
    with pytest.raises(TypeError):
        refresh(1)  # type: ignore[call-arg]  # fails before a coroutine exists
    return ""


def from_data_uri(uri: str) -> bytes:
    if not uri.startswith("data:"):
        raise ValueError(uri)
    with urllib.request.urlopen(uri) as response:  # a data: URI is decoded in memory
        return response.read()


def resource(source: str) -> bytes:
    if source.startswith("data:"):
        return from_data_uri(source)
    return source.encode()


async def upload(source: str) -> bytes:
    return resource(source)
