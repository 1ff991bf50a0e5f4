"""The fan-out benchmark: N GETs against the upstream simulator, three ways.

1. ``serial``  — the legacy loop: ``requests.get`` one URL after the other;
2. ``threads`` — ``ThreadPoolExecutor(pool_threads)`` with a ``requests.Session`` per thread;
3. ``bridge``  — ``bridge.http.map(urls, concurrency=...)`` on the shared loop;
4. ``aiohttp_floor`` — bare aiohttp with worker tasks on its own loop, no loopbridge: what the
   client library and this machine allow, so loopbridge's own cost shows as a ratio.

The simulator runs in its own process (``python -m legacy_app.simulator --fixed``: every site
answers after exactly ``latency_ms``), so it does not compete for this process's GIL. Runs are
interleaved (serial, threads, bridge, serial, …) so a slow moment of the machine hits all three.
The serial loop is measured on a subset when its runs together would take longer than
``serial_budget_s`` (10 s) and extrapolated linearly (it is linear: one request at a time); the output
says so. The physical limit is ``ceil(n / concurrency) * latency``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import os
import selectors
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

__all__ = ["format_fanout_table", "run_fanout_bench", "start_simulator"]

logger = logging.getLogger(__name__)

_READY = "simulator listening on "


def start_simulator(sites: int, latency_ms: float, timeout: float = 20.0) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m legacy_app.simulator`` on a free port; return the process and base URL.

    Raises:
        RuntimeError: it exited or did not print its URL within ``timeout`` seconds.
    """
    cmd = [sys.executable, "-m", "legacy_app.simulator", "--port", "0", "--sites", str(sites),
           "--latency-ms", str(latency_ms), "--fixed"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stdout is not None
    line = ""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if sel.select(timeout):
            line = proc.stdout.readline()
    if not line.startswith(_READY):
        stop_simulator(proc)
        raise RuntimeError(f"the simulator did not start ({' '.join(cmd)!r} printed {line!r}); see its stderr.")
    return proc, line[len(_READY):].strip()


def stop_simulator(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the simulator and wait for it (kill after 10 s)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


def _check(n: int, latency_ms: float, concurrency: int, repeat: int, pool_threads: int) -> None:
    for name, value in (("n", n), ("concurrency", concurrency), ("repeat", repeat), ("pool_threads", pool_threads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if isinstance(latency_ms, bool) or not isinstance(latency_ms, int | float) or not latency_ms >= 0:
        raise ValueError(f"latency_ms must be a number >= 0, got {latency_ms!r}.")


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    errors = fn()
    return time.perf_counter() - start, errors


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

    def __init__(self, concurrency: int) -> None:
        import asyncio

        self._asyncio = asyncio
        self.loop: asyncio.AbstractEventLoop
        try:
            import uvloop

            self.loop = uvloop.new_event_loop()
        except ImportError:
            self.loop = asyncio.new_event_loop()
        self.concurrency = concurrency
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-raw-aiohttp", daemon=True)
        self.thread.start()
        self.session: Any = self._call(self._open())

    def _call(self, coro: Any) -> Any:
        return self._asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    async def _open(self) -> Any:
        import aiohttp

        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.concurrency))

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


def _summary(times: list[float], scale: float = 1.0) -> dict[str, float]:
    return {"median_s": statistics.median(times) * scale, "min_s": min(times) * scale, "max_s": max(times) * scale}


def run_fanout_bench(n: int = 400, latency_ms: float = 25.0, concurrency: int = 100, repeat: int = 3,
                     pool_threads: int = 32, serial_budget_s: float = 10.0) -> dict[str, Any]:
    """Measure the three ways of fetching ``n`` URLs and return figures and ratios.

    Returns:
        ``{"params": …, "limit_s": …, "serial": {median_s, min_s, max_s, measured_on,
        extrapolated}, "threads": {…}, "bridge": {…}, "errors": {…}, "ratios": {…}}``.

    Raises:
        ValueError: a parameter out of range. RuntimeError: the simulator did not start.
    """
    _check(n, latency_ms, concurrency, repeat, pool_threads)
    from async_core import default_loop

    proc, base = start_simulator(n, latency_ms)
    pool = _ThreadPool(pool_threads)
    raw = _RawAiohttp(concurrency)
    try:
        urls = [f"{base}/sites/{i}" for i in range(n)]
        per_request = latency_ms / 1000 + 0.002  # the serial loop's cost per URL, roughly
        per_run = serial_budget_s / repeat  # the budget covers all the serial runs together
        subset = n if n * per_request <= per_run else max(10, int(per_run / per_request))
        subset = min(subset, n)
        pool.run(urls[:pool_threads * 2])  # warm: threads and sessions exist, as in a running app
        _bridge(urls[:concurrency], concurrency)  # warm: the loop and its pool exist
        raw.run(urls[:concurrency])
        times: dict[str, list[float]] = {"serial": [], "threads": [], "bridge": [], "aiohttp_floor": []}
        errors = {"serial": 0, "threads": 0, "bridge": 0, "aiohttp_floor": 0}
        for _ in range(repeat):
            for name, fn in (("serial", lambda: _serial(urls[:subset])), ("threads", lambda: pool.run(urls)),
                             ("bridge", lambda: _bridge(urls, concurrency)),
                             ("aiohttp_floor", lambda: raw.run(urls))):
                elapsed, errs = _timed(fn)
                times[name].append(elapsed)
                errors[name] += errs
    finally:
        pool.close()
        raw.close()
        default_loop().stop()
        stop_simulator(proc)
    return _result(n, latency_ms, concurrency, repeat, pool_threads, subset, times, errors)


def _result(n: int, latency_ms: float, concurrency: int, repeat: int, pool_threads: int, subset: int,
            times: dict[str, list[float]], errors: dict[str, int]) -> dict[str, Any]:
    limit = math.ceil(n / concurrency) * latency_ms / 1000
    serial = _summary(times["serial"], n / subset)
    serial.update(measured_on=subset, extrapolated=subset < n)
    threads, bridged, floor = _summary(times["threads"]), _summary(times["bridge"]), _summary(times["aiohttp_floor"])
    b = bridged["median_s"]
    result: dict[str, Any] = {
        "params": {"n": n, "latency_ms": latency_ms, "concurrency": concurrency, "repeat": repeat,
                   "pool_threads": pool_threads},
        "limit_s": limit, "serial": serial, "threads": threads, "bridge": bridged, "aiohttp_floor": floor,
        "errors": errors,
        "ratios": {
            "bridge_vs_limit": b / limit if limit else math.inf,
            "aiohttp_floor_vs_limit": floor["median_s"] / limit if limit else math.inf,
            "bridge_vs_aiohttp_floor": b / floor["median_s"],
            "threads_vs_bridge": threads["median_s"] / b,
            "serial_vs_bridge": serial["median_s"] / b,
            "serial_vs_threads": serial["median_s"] / threads["median_s"],
        },
    }
    # the names ``loopbridge bench``'s report reads (bridge/bench/_report.py)
    result["ratios"].update(map_vs_limit=result["ratios"]["bridge_vs_limit"],
                            threadpool_vs_map=result["ratios"]["threads_vs_bridge"])
    return result


def format_fanout_table(result: dict[str, Any]) -> str:
    """Render :func:`run_fanout_bench`'s result as a plain-text table."""
    p, r = result["params"], result["ratios"]
    lines = [
        (f"fan-out: {p['n']} GETs at {p['latency_ms']:g} ms, concurrency {p['concurrency']}, "
         f"{p['repeat']} interleaved runs (median, min-max)"),
        f"{'way':<34}{'median':>10}{'min':>10}{'max':>10}",
    ]
    rows = (("serial requests loop", result["serial"]),
            (f"ThreadPoolExecutor({p['pool_threads']}) + requests", result["threads"]),
            ("bridge.http.map", result["bridge"]),
            ("bare aiohttp, no loopbridge", result["aiohttp_floor"]))
    for label, s in rows:
        lines.append(f"{label:<34}{s['median_s']:>9.3f}s{s['min_s']:>9.3f}s{s['max_s']:>9.3f}s")
    lines.append(f"{'physical limit ceil(n/c) x latency':<34}{result['limit_s']:>9.3f}s")
    serial = result["serial"]
    if serial["extrapolated"]:
        lines.append(f"(serial measured on {serial['measured_on']} of {p['n']} URLs and extrapolated linearly)")
    lines += [
        f"bridge / limit      {r['bridge_vs_limit']:6.2f}x   (target <= 1.3x)",
        f"threads / bridge    {r['threads_vs_bridge']:6.2f}x   (target >= 3.5x)",
        f"bare aiohttp / limit {r['aiohttp_floor_vs_limit']:5.2f}x   (what this machine allows)",
        f"bridge / bare aiohttp {r['bridge_vs_aiohttp_floor']:4.2f}x   (loopbridge's own cost)",
        f"serial / bridge     {r['serial_vs_bridge']:6.2f}x",
        f"errors: {result['errors']}",
    ]
    return "\n".join(lines)
