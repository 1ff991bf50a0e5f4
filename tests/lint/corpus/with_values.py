"""What `with ... as x` gives: a @contextmanager's yield, __enter__'s return value."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import requests


@contextlib.contextmanager
def database(path: str) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def http_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    yield None


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def fetch(self, path: str) -> bytes:
        return requests.get(self.base + path, timeout=5).content


class Pool:
    def __enter__(self) -> requests.Session:
        return requests.Session()

    def __exit__(self, *exc: object) -> None:
        return None


async def count_rows(path: str) -> int:
    with database(path) as conn:
        return conn.execute("select count(*) from t").fetchone()[0]


async def ping(url: str) -> int:
    with http_session() as session:
        return session.get(url, timeout=5).status_code


async def fetch_page(base: str) -> bytes:
    with Client(base) as client:
        return client.fetch("/page")


async def head(url: str) -> int:
    with Pool() as session:
        return session.head(url, timeout=5).status_code


# negatives: a context manager that yields nothing blocking, and creating one without entering
async def calm(url: str) -> str:
    with quiet() as nothing:
        print(nothing)
    manager = database(url)
    return str(manager)
