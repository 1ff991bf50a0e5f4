"""The 400-call batch: N GETs against the bench upstream, four ways, measured interleaved.

1. ``serial``  — the legacy loop: ``requests.get`` one URL after the other;
2. ``threads`` — ``ThreadPoolExecutor(pool_threads)`` with a ``requests.Session`` per thread;
3. ``bridge``  — ``bridge.http.map(urls, concurrency=...)`` on the shared loop;
4. ``aiohttp_floor`` — bare aiohttp with worker tasks on a loop thread of its own, no loopbridge:
   what the client library and this machine allow, so loopbridge's own cost shows as a ratio;
5. ``aiohttp_timeouts`` — the same with the timeouts loopbridge arms for each request (connect,
   including the wait for a pooled connection, read and total), set once on the session: what
   is left between it and the bridge is loopbridge's code, not the timeouts a requests user
   expects.

The upstream (:mod:`loopbridge.bench.upstream`) runs in its own process, every URL answering
after exactly ``latency_ms``, so it does not compete for this process's GIL. Each round runs
serial, threads, then ``pairs`` rotating runs of the bridge and the two floors: those three are
close, so they get more samples, taken back to back. Besides wall
time each run records this process's CPU time per request (all its threads, the loop thread
included). The serial loop is measured on a subset when its runs together would take longer
than ``serial_budget_s`` and extrapolated linearly (it is linear: one request at a time); the
output says so. The physical limit is ``ceil(n / concurrency) * latency``.
"""

from __future__ import annotations

import concurrent.futures
import math
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from .upstream import delay_url, upstream

__all__ = ["format_fanout_table", "run_fanout_bench"]


_WAYS = ("serial", "threads", "bridge", "aiohttp_floor", "aiohttp_timeouts")
#: (connect, read, total) seconds of the ``aiohttp_timeouts`` floor: the bridge's, for ``timeout=30``
_TIMEOUTS = (30.0, 30.0, 60.0)


def _check(n: int, latency_ms: float, concurrency: int, repeat: int, pool_threads: int) -> None:
    for name, value in (("n", n), ("concurrency", concurrency), ("repeat", repeat), ("pool_threads", pool_threads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if isinstance(latency_ms, bool) or not isinstance(latency_ms, int | float) or not latency_ms >= 0:
        raise ValueError(f"latency_ms must be a number >= 0, got {latency_ms!r}.")


def _timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """Run ``fn``; return (wall seconds, this process's CPU seconds, errors)."""
    cpu, start = time.process_time(), time.perf_counter()
    errors = fn()
    return time.perf_counter() - start, time.process_time() - cpu, errors


def _serial(urls: list[str]) -> int:
    errors = 0
    for url in urls:
        try:
            requests.get(url, timeout=30).raise_for_status()
        except requests.RequestException:
            errors += 1
    return errors


class _ThreadPool:
    """A thread pool whose threads each keep one ``requests.Session`` (the usual legacy speed-up)."""

    def __init__(self, threads: int) -> None:
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="bench-requests")

    def _get(self, url: str) -> bool:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._lock:
                self._sessions.append(session)
        try:
            session.get(url, timeout=30).raise_for_status()
        except requests.RequestException:
            return False
        return True

    def run(self, urls: list[str]) -> int:
        return sum(not ok for ok in self.pool.map(self._get, urls))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for session in self._sessions:
            session.close()


class _RawAiohttp:
    """The floor: bare aiohttp (one warm session, worker tasks) on its own loop thread, no loopbridge."""

    def __init__(self, concurrency: int, timeouts: tuple[float, float, float] | None = None) -> None:
        import asyncio

        self._asyncio = asyncio
        self.loop: asyncio.AbstractEventLoop
        try:
            import uvloop

            self.loop = uvloop.new_event_loop()
        except ImportError:
            self.loop = asyncio.new_event_loop()
        self.concurrency = concurrency
        self.timeouts = timeouts
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-raw-aiohttp", daemon=True)
        self.thread.start()
        self.session: Any = self._call(self._open())

    def _call(self, coro: Any) -> Any:
        return self._asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    async def _open(self) -> Any:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=self.concurrency)
        if self.timeouts is None:
            return aiohttp.ClientSession(connector=connector)
        connect, read, total = self.timeouts
        timeout = aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect, sock_read=read)
        return aiohttp.ClientSession(connector=connector, timeout=timeout)

    async def _fetch_all(self, urls: list[str]) -> int:
        todo = iter(urls)
        errors = 0

        async def worker() -> None:
            nonlocal errors
            for url in todo:
                async with self.session.get(url) as resp:
                    await resp.read()
                    errors += resp.status >= 400

        await self._asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(urls)))))
        return errors

    def run(self, urls: list[str]) -> int:
        return int(self._call(self._fetch_all(urls)))

    def close(self) -> None:
        self._call(self.session.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _bridge(urls: list[str], concurrency: int) -> int:
    from bridge import http

    return sum(isinstance(r, Exception) or not r.ok for r in http.map(urls, concurrency=concurrency, timeout=30))


def _summary(times: list[float], cpu: list[float], requests_per_run: int, scale: float = 1.0) -> dict[str, float]:
    return {"median_s": statistics.median(times) * scale, "min_s": min(times) * scale, "max_s": max(times) * scale,
            "cpu_ms_per_req": statistics.median(cpu) * 1000 / requests_per_run}


def run_fanout_bench(n: int = 400, latency_ms: float = 25.0, concurrency: int = 100, repeat: int = 3,
                     pool_threads: int = 32, serial_budget_s: float = 10.0, pairs: int = 3,
                     upstream_url: str | None = None) -> dict[str, Any]:
    """Measure the four ways of fetching ``n`` URLs and return figures and ratios.

    ``repeat`` rounds, each with ``pairs`` back-to-back runs of the bridge and of both bare aiohttp floors.
    ``upstream_url``: a server with :mod:`loopbridge.bench.upstream`'s routes (default: start one).

    Returns:
        ``{"params": …, "limit_s": …, "serial": {median_s, min_s, max_s, cpu_ms_per_req,
        measured_on, extrapolated}, "threads": {…}, "bridge": {…}, "aiohttp_floor": {…},
        "errors": {…}, "ratios": {…}}``.

    Raises:
        ValueError: a parameter out of range. RuntimeError: the upstream did not start.
    """
    _check(n, latency_ms, concurrency, repeat, pool_threads)
    _check(1, 0, 1, pairs, 1)
    from async_core import default_loop

    with upstream(upstream_url) as base:
        pool = _ThreadPool(pool_threads)
        raw = _RawAiohttp(concurrency)
        timed = _RawAiohttp(concurrency, _TIMEOUTS)
        try:
            urls = [delay_url(base, latency_ms, i) for i in range(n)]
            per_request = latency_ms / 1000 + 0.002  # the serial loop's cost per URL, roughly
            per_run = serial_budget_s / repeat  # the budget covers all the serial runs together
            subset = min(n, n if n * per_request <= per_run else max(10, int(per_run / per_request)))
            pool.run(urls[:pool_threads * 2])  # warm: threads and sessions exist, as in a running app
            _bridge(urls[:concurrency], concurrency)  # warm: the loop and its pool exist
            raw.run(urls[:concurrency])
            timed.run(urls[:concurrency])
            times: dict[str, list[float]] = {name: [] for name in _WAYS}
            cpu: dict[str, list[float]] = {name: [] for name in _WAYS}
            errors = dict.fromkeys(_WAYS, 0)
            runs: dict[str, Callable[[], int]] = {
                "serial": lambda: _serial(urls[:subset]), "threads": lambda: pool.run(urls),
                "bridge": lambda: _bridge(urls, concurrency), "aiohttp_floor": lambda: raw.run(urls),
                "aiohttp_timeouts": lambda: timed.run(urls)}
            close = ["bridge", "aiohttp_floor", "aiohttp_timeouts"]
            for _ in range(repeat):
                order = ["serial", "threads"]
                for j in range(pairs):
                    order += close[j % 3:] + close[:j % 3]
                for name in order:
                    elapsed, spent, errs = _timed(runs[name])
                    times[name].append(elapsed)
                    cpu[name].append(spent)
                    errors[name] += errs
        finally:
            pool.close()
            raw.close()
            timed.close()
            default_loop().stop()
    return _result(n, latency_ms, concurrency, repeat, pool_threads, subset, times, cpu, errors, pairs)


def _result(n: int, latency_ms: float, concurrency: int, repeat: int, pool_threads: int, subset: int,
            times: dict[str, list[float]], cpu: dict[str, list[float]], errors: dict[str, int],
            pairs: int) -> dict[str, Any]:
    limit = math.ceil(n / concurrency) * latency_ms / 1000
    serial = _summary(times["serial"], cpu["serial"], subset, n / subset)
    serial.update(measured_on=subset, extrapolated=subset < n)
    threads = _summary(times["threads"], cpu["threads"], n)
    bridged = _summary(times["bridge"], cpu["bridge"], n)
    floor = _summary(times["aiohttp_floor"], cpu["aiohttp_floor"], n)
    floor_t = _summary(times["aiohttp_timeouts"], cpu["aiohttp_timeouts"], n)
    b = bridged["median_s"]
    result: dict[str, Any] = {
        "params": {"n": n, "latency_ms": latency_ms, "concurrency": concurrency, "repeat": repeat,
                   "pool_threads": pool_threads, "pairs": pairs},
        "limit_s": limit, "serial": serial, "threads": threads, "bridge": bridged, "aiohttp_floor": floor,
        "aiohttp_timeouts": floor_t, "aiohttp_timeouts_s": dict(zip(("connect", "read", "total"), _TIMEOUTS)),
        "errors": errors,
        "ratios": {
            "bridge_vs_limit": b / limit if limit else math.inf,
            "aiohttp_floor_vs_limit": floor["median_s"] / limit if limit else math.inf,
            "bridge_vs_aiohttp_floor": b / floor["median_s"],
            "bridge_vs_aiohttp_floor_cpu": bridged["cpu_ms_per_req"] / floor["cpu_ms_per_req"],
            "bridge_vs_aiohttp_same_timeouts": b / floor_t["median_s"],
            "bridge_vs_aiohttp_same_timeouts_cpu": bridged["cpu_ms_per_req"] / floor_t["cpu_ms_per_req"],
            "threads_vs_bridge": threads["median_s"] / b,
            "serial_vs_bridge": serial["median_s"] / b,
            "serial_vs_threads": serial["median_s"] / threads["median_s"],
        },
    }
    # the names ``loopbridge bench``'s report reads (loopbridge/bench/_report.py)
    result["ratios"].update(map_vs_limit=result["ratios"]["bridge_vs_limit"],
                            threadpool_vs_map=result["ratios"]["threads_vs_bridge"])
    return result


def format_fanout_table(result: dict[str, Any]) -> str:
    """Render :func:`run_fanout_bench`'s result as a plain-text table."""
    p, r = result["params"], result["ratios"]
    lines = [
        (f"\nThe {p['n']}-call batch: {p['n']} GETs at {p['latency_ms']:g} ms, concurrency {p['concurrency']}, "
         f"{p['repeat']} interleaved rounds (median, min–max; CPU: this process, all threads)"),
        f"  {'way':<34}{'median':>10}{'min':>10}{'max':>10}{'CPU ms/req':>12}",
    ]
    rows = (("serial requests loop", result["serial"]),
            (f"ThreadPoolExecutor({p['pool_threads']}) + requests", result["threads"]),
            ("bridge.http.map", result["bridge"]),
            ("bare aiohttp, no loopbridge", result["aiohttp_floor"]),
            ("bare aiohttp, the bridge's timeouts", result["aiohttp_timeouts"]))
    for label, s in rows:
        lines.append(f"  {label:<34}{s['median_s']:>9.3f}s{s['min_s']:>9.3f}s{s['max_s']:>9.3f}s"
                     f"{s['cpu_ms_per_req']:>12.3f}")
    lines.append(f"  {'physical limit ceil(n/c) × latency':<34}{result['limit_s']:>9.3f}s")
    serial = result["serial"]
    if serial["extrapolated"]:
        lines.append(f"  (serial measured on {serial['measured_on']} of {p['n']} URLs and extrapolated linearly)")
    lines += [
        f"  bridge ÷ limit          {r['bridge_vs_limit']:6.2f}×",
        f"  bare aiohttp ÷ limit    {r['aiohttp_floor_vs_limit']:6.2f}×   (what this machine allows)",
        f"  bridge ÷ bare aiohttp   {r['bridge_vs_aiohttp_floor']:6.2f}×   (CPU "
        f"{r['bridge_vs_aiohttp_floor_cpu']:.2f}×)",
        f"  bridge ÷ aiohttp with the same timeouts {r['bridge_vs_aiohttp_same_timeouts']:.2f}× (CPU "
        f"{r['bridge_vs_aiohttp_same_timeouts_cpu']:.2f}×): loopbridge's code alone",
        f"  threads ÷ bridge        {r['threads_vs_bridge']:6.2f}×",
        f"  serial ÷ bridge         {r['serial_vs_bridge']:6.2f}×",
        f"  errors: {result['errors']}",
    ]
    return "\n".join(lines)
