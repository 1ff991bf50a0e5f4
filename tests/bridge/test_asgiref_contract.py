"""The asgiref internals the bridge relies on (``bridge._calls.ASGIREF_INTERNALS``).

asgiref has no public way to aim its thread-sensitive machinery at a loop running in another
thread. These tests fail loudly, with the name of the changed internal, if an asgiref upgrade
moves any of them; the fix then belongs in ``bridge/_calls.py``.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from asgiref import local as asgiref_local
from asgiref.sync import AsyncToSync, SyncToAsync, async_to_sync, sync_to_async

from bridge import run, to_async
from bridge._calls import ASGIREF_INTERNALS

pytestmark = pytest.mark.usefixtures("fresh_loop")


def test_the_internals_are_listed_for_maintainers() -> None:
    assert len(ASGIREF_INTERNALS) == 3
    assert any("executors" in item for item in ASGIREF_INTERNALS)


def test_async_to_sync_executors_is_a_local_backed_by_one_context_var() -> None:
    executors = AsyncToSync.executors
    assert isinstance(executors, asgiref_local.Local), "AsyncToSync.executors is no longer an asgiref Local"
    storage = executors._storage  # type: ignore[attr-defined]
    assert isinstance(storage._data, contextvars.ContextVar), "Local storage is no longer one ContextVar"


def test_local_storage_is_thread_tagged_and_rehomed_by_helpers() -> None:
    stored = asgiref_local._Storage(threading.get_ident(), {"current": "x"})
    assert (stored.thread_id, stored.data) == (threading.get_ident(), {"current": "x"})
    moved = asgiref_local._rehome(asgiref_local._Storage(-1, {"k": 1}))
    assert moved.thread_id == threading.get_ident() and moved.data == {"k": 1}


def test_sync_to_async_submits_thread_sensitive_work_to_executors_current() -> None:
    ran_in: list[str] = []

    class Recorder:
        def submit(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            ran_in.append("recorder")
            from concurrent.futures import Future

            fut: Future[object] = Future()
            fut.set_result(fn(*args, **kwargs))
            return fut

    async def main() -> int:
        AsyncToSync.executors.current = Recorder()
        return await sync_to_async(threading.get_ident)()

    asyncio.run(main())
    assert ran_in == ["recorder"], "SyncToAsync no longer uses AsyncToSync.executors.current"


def test_worker_threads_point_async_to_sync_back_at_the_calling_loop() -> None:
    """A sync function run by to_async that calls asgiref's async_to_sync reaches our loop."""

    async def where() -> str:
        return threading.current_thread().name

    @to_async
    def legacy_sync_code() -> str:
        assert SyncToAsync.threadlocal.main_event_loop is not None
        return async_to_sync(where)()

    async def coro() -> str:
        return await legacy_sync_code()

    assert run(coro()) == "loopbridge-loop"
