"""Round trip of a trivial coroutine from sync code: ``bridge.run`` against the alternatives.

Variants, measured interleaved in the same process (A B C … A B C …):

- ``run``: ``bridge.run(coro())`` on the process's loop thread (every guarantee on);
- ``raw``: ``asyncio.run_coroutine_threadsafe(coro(), loop).result()`` on the same loop thread;
- ``asgiref_loop_thread``: asgiref's ``AsyncToSync`` aimed at that loop thread through its
  private ``SyncToAsync.threadlocal.main_event_loop`` lever;
- ``asgiref_default``: ``async_to_sync(fn)()`` as Flask does it (a new loop per call);
- ``asyncio_run``: ``asyncio.run(coro())`` per call;
- ``handoff``: a plain thread hand-off with no asyncio (a queue and a lock): the floor for
  any cross-thread call.

Each is measured from 1 caller thread and from 8; figures are microseconds per call (total
wall time over total calls) and calls per second, medians with min–max over the rounds.
"""

from __future__ import annotations

import asyncio
import os
import queue
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import AsyncToSync, SyncToAsync, async_to_sync

from async_core import default_loop

from bridge import run

__all__ = ["VARIANTS", "run_roundtrip_bench"]


async def _trivial() -> int:
    return 1


class _Handoff:
    """A worker thread that runs callables handed to it: a queue in, a lock per call out."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="bench-handoff", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, box, lock = item
            box.append(fn())
            lock.release()

    def call(self, fn: Callable[[], Any]) -> Any:
        lock = threading.Lock()
        lock.acquire()
        box: list[Any] = []
        self._queue.put((fn, box, lock))
        lock.acquire()
        return box[0]

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5)


def _make_variants(handoff: _Handoff) -> dict[str, Callable[[], Any]]:
    loop = default_loop().loop

    def v_run() -> Any:
        return run(_trivial())

    def v_raw() -> Any:
        return asyncio.run_coroutine_threadsafe(_trivial(), loop).result()

    aimed = AsyncToSync(_trivial)

    def v_asgiref_loop_thread() -> Any:
        SyncToAsync.threadlocal.main_event_loop = loop
        SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
        return aimed()

    default = async_to_sync(_trivial)

    def v_asgiref_default() -> Any:
        SyncToAsync.threadlocal.main_event_loop = None
        return default()

    def v_asyncio_run() -> Any:
        return asyncio.run(_trivial())

    def v_handoff() -> Any:
        return handoff.call(int)

    return {
        "run": v_run,
        "raw": v_raw,
        "asgiref_loop_thread": v_asgiref_loop_thread,
        "asgiref_default": v_asgiref_default,
        "asyncio_run": v_asyncio_run,
        "handoff": v_handoff,
    }


#: variant name -> what it is, for tables
VARIANTS = {
    "run": "bridge.run (ours)",
    "raw": "run_coroutine_threadsafe().result()",
    "asgiref_loop_thread": "asgiref AsyncToSync aimed at the loop thread",
    "asgiref_default": "asgiref async_to_sync, new loop per call (Flask)",
    "asyncio_run": "asyncio.run per call",
    "handoff": "plain thread hand-off (queue + lock)",
}

#: slow variants make fewer calls per round so a run stays short
_SLOW = {"asgiref_default", "asyncio_run"}


def _time_calls(fn: Callable[[], Any], calls: int, threads: int) -> float:
    """Wall seconds for ``threads`` callers making ``calls`` calls each."""
    if threads == 1:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        return time.perf_counter() - start
    barrier = threading.Barrier(threads + 1)

    def worker() -> None:
        barrier.wait()
        for _ in range(calls):
            fn()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    return time.perf_counter() - start


def run_roundtrip_bench(
    calls: int = 3000, repeat: int = 5, callers: tuple[int, ...] = (1, 8), variants: list[str] | None = None
) -> dict[str, Any]:
    """Measure every variant; return ``{"callers": {n: {variant: figures}}, ...}``.

    Raises ``ValueError`` for non-positive counts or unknown variant names.
    """
    if calls < 10 or repeat < 1 or not callers or min(callers) < 1:
        raise ValueError("calls must be >= 10, repeat >= 1 and callers a non-empty tuple of positive ints.")
    chosen = list(VARIANTS) if variants is None else variants
    unknown = set(chosen) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variant(s) {sorted(unknown)}; choose from {sorted(VARIANTS)}.")
    handoff = _Handoff()
    try:
        fns = _make_variants(handoff)
        for fn in fns.values():  # warm up every path (imports, first loop start, caches)
            for _ in range(20):
                fn()
        out: dict[str, Any] = {"calls_per_round": calls, "repeat": repeat, "callers": {}}
        for n in callers:
            out["callers"][str(n)] = _measure(fns, chosen, calls, repeat, n)
        return out
    finally:
        handoff.close()


def _measure(fns: dict[str, Callable[[], Any]], chosen: list[str], calls: int, repeat: int, threads: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {name: [] for name in chosen}
    for _ in range(repeat):
        for name in chosen:
            n = max(10, calls // 20) if name in _SLOW else calls
            per_thread = max(1, n // threads) if threads > 1 else n
            elapsed = _time_calls(fns[name], per_thread, threads)
            samples[name].append(elapsed / (per_thread * threads) * 1e6)
    result: dict[str, Any] = {}
    raw = statistics.median(samples["raw"]) if "raw" in samples else None
    for name, values in samples.items():
        med = statistics.median(values)
        result[name] = {
            "us_per_call": med,
            "min": min(values),
            "max": max(values),
            "calls_per_s": 1e6 / med,
            "vs_raw": (med / raw) if raw else None,
        }
    return result
