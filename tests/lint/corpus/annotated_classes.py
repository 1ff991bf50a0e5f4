"""Parameters and attributes annotated with a class whose instances the catalogue knows by
another name: executors (a ThreadPoolExecutor is an Executor) and file objects."""

from __future__ import annotations

import concurrent.futures
import io
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


class Exporter:
    def __init__(self, pool: ThreadPoolExecutor, sink: io.TextIOWrapper) -> None:
        self.pool = pool
        self.sink = sink

    async def export(self, rows: list[str]) -> None:
        self.pool.submit(len, rows).result()
        self.sink.write("\n".join(rows))


async def crunch(pool: concurrent.futures.ThreadPoolExecutor, data: bytes) -> int:
    return pool.submit(len, data).result(timeout=5)


async def crunch_elsewhere(pool: ProcessPoolExecutor | None, data: bytes) -> int:
    if pool is None:
        return 0
    return pool.submit(len, data).result()


async def dump(raw: io.BufferedWriter, blob: bytes) -> None:
    raw.write(blob)
    raw.flush()


async def log_line(out: io.TextIOWrapper, line: str) -> None:
    print(line, file=out)


# not blocking: in-memory streams, and a future that is awaited through asyncio
async def in_memory(buffer: io.StringIO, blob: io.BytesIO) -> str:
    buffer.write("x")
    blob.write(b"x")
    return buffer.getvalue()


async def awaited(pool: ThreadPoolExecutor) -> int:
    import asyncio

    return await asyncio.wrap_future(pool.submit(len, "abc"))
