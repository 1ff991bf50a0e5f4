"""Calls through dispatch tables, decorators, lambdas, staticmethod and overridden methods."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

import requests


def fetch_json(url: str) -> Any:
    return requests.get(url, timeout=5).json()


def fetch_text(url: str) -> str:
    return requests.get(url, timeout=5).text


def describe(url: str) -> str:
    return url.upper()


async def fetch_async(url: str) -> str:
    return url


HANDLERS = {"json": fetch_json, "text": fetch_text}
PURE = {"describe": describe}
ASYNC_HANDLERS = {"a": fetch_async}
STEPS = [describe, fetch_text]


async def dispatch(kind: str, url: str) -> Any:
    handler = HANDLERS[kind]
    first = handler(url)
    second = HANDLERS.get(kind, fetch_json)(url)
    return first, second, PURE["describe"](url), await ASYNC_HANDLERS["a"](url)


async def run_steps(url: str) -> None:
    for step in STEPS:
        step(url)


def retry(times: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for _ in range(times - 1):
                try:
                    return fn(*args, **kwargs)
                except OSError:
                    time.sleep(1)
            return fn(*args, **kwargs)
        return wrapper
    return decorate


def traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        print("calling", fn)
        return fn(*args)
    return wrapper


def registered(fn: Callable[..., Any]) -> Callable[..., Any]:
    PURE[fn.__name__] = fn
    return fn


@retry(3)
def compute(value: int) -> int:
    return value * 2


@traced
def plain(value: int) -> int:
    return value + 1


@registered
def shout(text: str) -> str:
    return text.upper()


@traced
async def traced_ping(url: str) -> str:
    return url


async def decorated(value: int) -> int:
    await traced_ping("x")
    return compute(value) + plain(value) + len(shout("a"))


load = lambda path: json.loads(open(path).read())  # noqa: E731
size = lambda text: len(text.strip())  # noqa: E731


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


class Store:
    read = staticmethod(_read)
    parse = staticmethod(describe)

    def __init__(self) -> None:
        self.load = load
        self.size = size

    async def refresh(self, path: str) -> object:
        self.parse(path)
        self.size(path)
        return self.load(path), self.read(path)


async def use_lambdas(path: str) -> object:
    size(path)
    return load(path)


class Source:
    async def poll(self, url: str) -> str:
        return self.read_one(url)

    def read_one(self, url: str) -> str:
        return url


class HttpSource(Source):
    def read_one(self, url: str) -> str:
        return requests.get(url, timeout=5).text


class MemorySource(Source):
    def read_one(self, url: str) -> str:
        return url * 2


class Quiet:
    async def poll(self, url: str) -> str:
        return self.read_one(url)

    def read_one(self, url: str) -> str:
        return url


class QuietChild(Quiet):
    def read_one(self, url: str) -> str:
        return url.lower()


class Payload:
    async def as_text(self) -> str:
        return self.decode()

    def decode(self) -> str:
        return ""


class FilePayload(Payload):
    def __init__(self, path: str) -> None:
        self.path = path

    async def as_text(self) -> str:  # overrides the caller too: the base's call never runs here
        return self.path

    def decode(self) -> str:
        with open(self.path) as fh:
            return fh.read()
