"""A small app using the bridge, served by real gunicorn / waitress processes in the tests."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import aiohttp
from flask import Flask

from async_core import default_loop
from bridge import LoopBridge, run

app = Flask(__name__)
LoopBridge(app)
UPSTREAM = os.environ.get("TEST_UPSTREAM_URL", "")


async def _session() -> aiohttp.ClientSession:
    lt = default_loop()
    session = lt.resources.get("test.session")
    if session is None:
        session = aiohttp.ClientSession()
        lt.resources["test.session"] = session
        lt.add_closer(session.close)
    return session  # type: ignore[no-any-return]


async def _identity() -> dict[str, Any]:
    await asyncio.sleep(0.005)
    return {
        "pid": os.getpid(),
        "loop_thread": threading.get_ident(),
        "loop_thread_name": threading.current_thread().name,
        "loop": id(asyncio.get_running_loop()),
    }


# Bridged work at import time: under gunicorn --preload this starts a loop thread in the master,
# which then forks; each worker must notice and start a fresh loop of its own.
STARTUP = run(_identity(), timeout=10) if not os.environ.get("TEST_NO_IMPORT_CALL") else {"pid": os.getpid()}


@app.get("/whoami")
async def whoami() -> dict[str, Any]:
    return {**await _identity(), "imported_in": STARTUP["pid"]}


@app.get("/sync-whoami")
def sync_whoami() -> dict[str, Any]:
    data = run(_identity(), timeout=5)
    data["request_thread"] = threading.get_ident()
    return data


@app.get("/slow")
async def slow() -> dict[str, Any]:
    session = await _session()
    async with session.get(f"{UPSTREAM}/delay/800") as resp:
        body = await resp.json()
    return {"pid": os.getpid(), "upstream_ok": body["ok"]}


@app.get("/sleep/<int:ms>")
def sleep_ms(ms: int) -> dict[str, Any]:
    """A bridged call that takes ``ms`` milliseconds (uWSGI's harakiri test)."""
    return {"pid": os.getpid(), "slept": run(asyncio.sleep(ms / 1000, ms), timeout=ms / 1000 + 5)}
