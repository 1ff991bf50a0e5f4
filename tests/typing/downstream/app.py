"""A small downstream app written against loopbridge's public API, as a user would write it.

Type-checked by tests/typing/test_downstream_types.py under ``mypy --strict`` and ``pyright``:
each ``assert_type`` states what a user's checker must infer. It is never imported by the suite.
"""

from __future__ import annotations

import asyncio
from typing import assert_type

import requests
from flask import Flask

import bridge
import bridge.http as http
from bridge import BridgeTimeout, LoopBridge, LoopBridgeError, Overloaded, UpstreamError, run, to_async, to_sync
from bridge.http import LoopBridgeAdapter, Response

app = Flask(__name__)
ext = LoopBridge(app)
assert_type(ext, LoopBridge)


async def count_sites(prefix: str) -> int:
    await asyncio.sleep(0)
    return len(prefix)


@to_sync
async def total(n: int) -> float:
    await asyncio.sleep(0)
    return n / 2


@to_sync(timeout=3)
async def label(n: int) -> str:
    return str(n)


@to_async
def read_row(key: str) -> bytes:
    return key.encode()


@to_async(thread_sensitive=False)
def parse(raw: bytes) -> dict[str, int]:
    return {"size": len(raw)}


async def view_body() -> dict[str, int]:
    row = await read_row("k")
    assert_type(row, bytes)
    return await parse(row)


def sync_view() -> str:
    assert_type(run(count_sites("abc")), int)
    assert_type(run(count_sites("abc"), timeout=2.5), int)
    assert_type(total(4), float)
    assert_type(label(4), str)
    assert_type(bridge.run(view_body()), dict[str, int])
    try:
        resp = http.get("http://127.0.0.1:8000/health", timeout=(1, 3))
    except (BridgeTimeout, Overloaded) as exc:
        assert_type(exc, BridgeTimeout | Overloaded)
        return "busy"
    except UpstreamError as exc:
        assert isinstance(exc, requests.RequestException)
        return "down"
    except LoopBridgeError:
        return "bridge error"
    assert_type(resp, Response)
    assert_type(resp.status_code, int)
    results = http.map(["http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b"], concurrency=2,
                       return_exceptions=True)
    for item in results:
        if isinstance(item, Exception):
            continue
        assert_type(item.text, str)
    return resp.text


def session_view() -> int:
    with requests.Session() as session:
        session.mount("http://", LoopBridgeAdapter())
        reply = session.get("http://127.0.0.1:8000/health", timeout=3)
        assert_type(reply, requests.Response)
        status: int = reply.status_code
        return status
