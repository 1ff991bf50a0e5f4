"""Iterating a sync cursor, a CSV reader, a file or a streamed body in an async generator."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import AsyncIterator, Iterator

import requests


async def rows(conn: sqlite3.Connection) -> AsyncIterator[tuple]:
    cursor = conn.cursor()
    for row in cursor:
        yield row


async def records(fh: io.TextIOWrapper) -> AsyncIterator[dict]:
    for record in csv.DictReader(fh):
        yield record


async def lines(path: str) -> AsyncIterator[str]:
    with open(path) as fh:
        for line in fh:
            yield line.rstrip()


async def chunks(resp: requests.Response) -> AsyncIterator[bytes]:
    for chunk in resp:
        yield chunk


async def sizes(fh: io.TextIOWrapper) -> list[int]:
    return [len(line) for line in fh]


def numbers(path: str) -> Iterator[int]:
    with open(path) as fh:
        for line in fh:
            yield int(line)


async def total(path: str) -> int:
    count = 0
    for value in numbers(path):
        count += value
    return count


async def consumed(path: str) -> int:
    return sum(numbers(path))


async def listed(path: str) -> str:
    return ",".join(str(n) for n in list(numbers(path)))


# negatives: in-memory text, async iteration, a lazy generator expression, a generator created
# and handed on without being run
async def parse(text: str) -> AsyncIterator[list[str]]:
    for row in csv.reader(io.StringIO(text)):
        yield row
    for line in text.splitlines():
        yield [line]


async def stream(source: AsyncIterator[bytes], fh: io.TextIOWrapper) -> list[bytes]:
    lazy = (line for line in fh)
    print(lazy)
    return [chunk async for chunk in source]


async def later(path: str) -> Iterator[int]:
    return numbers(path)
