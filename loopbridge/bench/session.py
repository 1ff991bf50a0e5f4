"""Unchanged ``requests.Session`` code, 32 threads: stock ``HTTPAdapter`` vs ``LoopBridgeAdapter``.

The legacy shape this measures: worker threads each holding a ``requests.Session`` and looping
over ``session.get(url)``. Two variants, taking turns round by round (stock, adapter, adapter,
stock, …) against the bench upstream (its own process, every URL answering after exactly
``latency_ms``):

- ``stock``: each Session as requests makes it (urllib3 pools, one connection per thread);
- ``adapter``: the same Sessions with ``bridge.http.LoopBridgeAdapter()`` mounted on
  ``http://`` and ``https://``: every request rides the shared aiohttp pool on the loop thread.

Figures per variant: requests per second and this process's CPU time per request (every thread
of the worker process, the loop thread included: what a gunicorn worker would pay), medians
with min–max. The ceiling is ``threads ÷ latency``.

A third figure bounds what any transport adapter can save: requests' own work per call
(``Session.get`` preparing, merging settings, reading cookies, building the ``Response``),
measured in one thread with an adapter that answers from memory, no socket. Both variants pay
it; only the rest of a request's CPU is the transport's.

A second part measures what the adapter is for: a request of the app that makes ``calls`` (10)
upstream calls. ``seq``: the legacy code, ``session.get`` for each URL in turn on a stock
Session; ``map``: the same Session with ``LoopBridgeAdapter`` mounted and one
``bridge.http.map(urls, session=session)``. It is measured at a few thread counts (4, waitress's
default, and the 32 above), because the answer depends on it: with few threads the fan-out turns
10 waits into one; with many, one process's interpreter runs out first, since each of the 10
items still pays requests' own work (preparing it, building its ``Response``) in the caller.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from .upstream import delay_url, upstream

__all__ = ["FAN_VARIANTS", "VARIANTS", "adapter_available", "format_session_table", "requests_own_cpu",
           "run_session_bench"]


#: variant -> what it is, for tables and the chart
VARIANTS = {
    "stock": "requests.Session, stock HTTPAdapter",
    "adapter": "requests.Session + LoopBridgeAdapter",
}


#: fan-out variant -> what it is (each unit of work: ``calls`` upstream calls for one app request)
FAN_VARIANTS = {
    "seq": "session.get for each URL in turn, stock HTTPAdapter",
    "map": "bridge.http.map(urls, session=) + LoopBridgeAdapter",
}


def adapter_available() -> bool:
    """True when this version of ``bridge.http`` has ``LoopBridgeAdapter``."""
    from bridge import http

    return hasattr(http, "LoopBridgeAdapter")


def _make_session(variant: str) -> Any:
    import requests

    session = requests.Session()
    if variant == "adapter":
        from bridge.http import LoopBridgeAdapter  # type: ignore[attr-defined,unused-ignore]

        session.mount("http://", LoopBridgeAdapter())
        session.mount("https://", LoopBridgeAdapter())
    return session


def requests_own_cpu(url: str, calls: int = 2000) -> float:
    """CPU seconds per ``session.get(url).content`` spent in requests itself (one thread, no socket).

    The Session's ``http://`` and ``https://`` adapters answer every request from memory with the
    response the bench upstream gives (status, headers, a 2-byte body), built as
    ``HTTPAdapter`` builds its responses; everything else is the stock Session.
    """
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
        raise ValueError(f"calls must be an int >= 1, got {calls!r}.")
    import io

    import requests
    from urllib3 import HTTPResponse

    class _MemoryAdapter(requests.adapters.HTTPAdapter):
        def send(self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True,
                 cert: Any = None, proxies: Any = None) -> Any:
            raw = HTTPResponse(body=io.BytesIO(b"ok"), headers=_UPSTREAM_HEADERS, status=200, reason="OK",
                               preload_content=False, decode_content=False, request_method=request.method,
                               request_url=request.url)
            return self.build_response(request, raw)

    session = requests.Session()
    session.mount("http://", _MemoryAdapter())
    session.mount("https://", _MemoryAdapter())
    with session:
        for _ in range(min(200, calls)):  # warm: imports, caches
            session.get(url, timeout=30).content  # noqa: B018
        start = time.thread_time()
        for _ in range(calls):
            session.get(url, timeout=30).content  # noqa: B018
        return (time.thread_time() - start) / calls


#: the headers the bench upstream answers with (aiohttp's own, for a 2-byte text body)
_UPSTREAM_HEADERS = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": "2",
                     "Date": "Mon, 30 Nov 2026 09:00:00 GMT", "Server": "Python/3.11 aiohttp"}


async def _loop_thread_time() -> float:
    return time.thread_time()


def _loop_cpu(on_loop: bool) -> float:
    """CPU seconds the shared loop's thread has used so far (0.0 when the variant does not use it)."""
    if not on_loop:
        return 0.0
    from bridge import run

    return run(_loop_thread_time())


def _get_one(url: str) -> Any:
    """One unit of work: ``session.get(url)`` with its body read, as legacy code does; returns failures."""
    def work(session: Any) -> int:
        resp = session.get(url, timeout=30)
        resp.content  # noqa: B018 - read the body, as legacy code does
        return int(resp.status_code != 200)

    return work


def _get_each(urls: list[str]) -> Any:
    """One app request making its calls one after the other (the legacy code)."""
    def work(session: Any) -> int:
        failed = 0
        for url in urls:
            resp = session.get(url, timeout=30)
            resp.content  # noqa: B018
            failed += resp.status_code != 200
        return failed

    return work


def _map_all(urls: list[str]) -> Any:
    """The same app request with its calls sent together through the Session's adapter."""
    from bridge import http

    def work(session: Any) -> int:
        failed = 0
        for resp in http.map(urls, session=session, timeout=30):
            failed += isinstance(resp, Exception) or resp.status_code != 200
        return failed

    return work


def _load(sessions: list[Any], work: Any, duration: float, on_loop: bool = False) -> tuple[int, int, float, float, float]:
    """Every session runs ``work(session)`` in a loop in its own thread for ``duration`` seconds.

    Returns (units of work done, units that failed, wall seconds, process CPU seconds, loop thread
    CPU seconds).
    """
    import requests

    counts = [0] * len(sessions)
    errors = [0] * len(sessions)
    barrier = threading.Barrier(len(sessions) + 1)
    stop = threading.Event()

    def worker(k: int) -> None:
        session = sessions[k]
        barrier.wait()
        n = e = 0
        while not stop.is_set():
            try:
                e += work(session) > 0
            except requests.RequestException:
                e += 1
            n += 1
        counts[k], errors[k] = n, e

    threads = [threading.Thread(target=worker, args=(k,), name=f"bench-session-{k}") for k in range(len(sessions))]
    for t in threads:
        t.start()
    loop_cpu = _loop_cpu(on_loop)
    barrier.wait()
    cpu, start = time.process_time(), time.perf_counter()
    time.sleep(duration)
    stop.set()
    for t in threads:
        t.join(60)
    wall, spent = time.perf_counter() - start, time.process_time() - cpu
    return sum(counts), sum(errors), wall, spent, _loop_cpu(on_loop) - loop_cpu


def _figures(runs: list[tuple[int, int, float, float, float]]) -> dict[str, Any]:
    rps = [n / wall for n, _, wall, _, _ in runs]
    cpu = [spent * 1000 / max(1, n) for n, _, _, spent, _ in runs]
    loop = [on_loop * 1000 / max(1, n) for n, _, _, _, on_loop in runs]
    return {"rps": statistics.median(rps), "rps_min": min(rps), "rps_max": max(rps),
            "cpu_ms_per_req": statistics.median(cpu), "cpu_ms_per_req_min": min(cpu),
            "cpu_ms_per_req_max": max(cpu), "loop_cpu_ms_per_req": statistics.median(loop),
            "requests": sum(r[0] for r in runs), "errors": sum(r[1] for r in runs)}


def run_session_bench(threads: int = 32, latency_ms: float = 25.0, duration: float = 3.0, repeat: int = 3,
                      upstream_url: str | None = None, fan_threads: tuple[int, ...] = (4, 32),
                      fan_calls: int = 10) -> dict[str, Any]:
    """Measure both variants; return per-variant figures and the adapter ÷ stock ratios.

    ``fan_threads`` are the thread counts of the fan-out part (``()`` skips it), each app request
    making ``fan_calls`` upstream calls; its ratios are under ``"fanout"``, and the first thread
    count's map ÷ sequential req/s is also ``ratios["map_session_vs_seq_rps"]``.

    Raises:
        ValueError: a parameter out of range.
        RuntimeError: ``bridge.http.LoopBridgeAdapter`` does not exist in this version, or
            the upstream did not start.
    """
    if threads < 1 or repeat < 1 or not duration > 0 or not latency_ms >= 0:
        raise ValueError("threads and repeat must be >= 1, duration > 0 and latency_ms >= 0.")
    if not isinstance(fan_threads, tuple) or any(isinstance(t, bool) or not isinstance(t, int) or t < 1
                                                 for t in fan_threads):
        raise ValueError(f"fan_threads must be a tuple of thread counts >= 1, got {fan_threads!r}.")
    if isinstance(fan_calls, bool) or not isinstance(fan_calls, int) or fan_calls < 2:
        raise ValueError(f"fan_calls must be an int >= 2, got {fan_calls!r}.")
    if not adapter_available():
        raise RuntimeError("bridge.http.LoopBridgeAdapter is not in this version of loopbridge.")
    from async_core import default_loop

    sessions = {variant: [_make_session(variant) for _ in range(threads)] for variant in VARIANTS}
    runs: dict[str, list[tuple[int, int, float, float, float]]] = {variant: [] for variant in VARIANTS}
    fan: list[dict[str, Any]] = []
    try:
        with upstream(upstream_url) as base:
            url = delay_url(base, latency_ms)
            for variant in VARIANTS:  # warm: connections, the loop thread and its pool exist
                _load(sessions[variant], _get_one(url), min(0.5, duration / 2))
            for index in range(repeat):
                order: list[str] = list(VARIANTS) if index % 2 == 0 else list(reversed(VARIANTS))
                for variant in order:
                    runs[variant].append(_load(sessions[variant], _get_one(url), duration, on_loop=variant == "adapter"))
            own_ms = requests_own_cpu(url) * 1000
            urls = [delay_url(base, latency_ms, i) for i in range(fan_calls)]
            fan = [_fan_out(count, urls, latency_ms, duration, repeat) for count in fan_threads]
    finally:
        for group in sessions.values():
            for session in group:
                session.close()
        default_loop().stop()
    out: dict[str, Any] = {"params": {"threads": threads, "latency_ms": latency_ms, "duration": duration,
                                      "repeat": repeat},
                           "ceiling_rps": threads / (latency_ms / 1000) if latency_ms else float("inf"),
                           "variants": {variant: {"label": VARIANTS[variant], **_figures(r)} for variant, r in runs.items()}}
    stock, adapter = out["variants"]["stock"], out["variants"]["adapter"]
    out["ratios"] = {key: adapter[fig] / stock[fig] if stock[fig] else float("nan")
                     for key, fig in (("adapter_vs_stock_rps", "rps"), ("adapter_vs_stock_cpu", "cpu_ms_per_req"))}
    out["requests_own_cpu_ms_per_req"] = own_ms
    out["ratios"]["requests_own_vs_stock_cpu"] = own_ms / stock["cpu_ms_per_req"] if stock["cpu_ms_per_req"] else float("nan")
    if fan:
        out["fanout"] = {"calls": fan_calls, "latency_ms": latency_ms, "by_threads": fan}
        out["ratios"]["map_session_vs_seq_rps"] = fan[0]["map_vs_seq_rps"]
    return out


def _fan_out(threads: int, urls: list[str], latency_ms: float, duration: float, repeat: int) -> dict[str, Any]:
    """The fan-out part at one thread count: app requests of ``len(urls)`` calls, ``seq`` vs ``map``."""
    sessions = {"seq": [_make_session("stock") for _ in range(threads)],
                "map": [_make_session("adapter") for _ in range(threads)]}
    work = {"seq": _get_each(urls), "map": _map_all(urls)}
    runs: dict[str, list[tuple[int, int, float, float, float]]] = {variant: [] for variant in FAN_VARIANTS}
    try:
        for variant in FAN_VARIANTS:
            _load(sessions[variant], work[variant], min(0.5, duration / 2))
        for index in range(repeat):
            order: list[str] = list(FAN_VARIANTS) if index % 2 == 0 else list(reversed(FAN_VARIANTS))
            for variant in order:
                runs[variant].append(_load(sessions[variant], work[variant], duration, on_loop=variant == "map"))
    finally:
        for group in sessions.values():
            for session in group:
                session.close()
    variants = {variant: {"label": FAN_VARIANTS[variant], **_figures(r)} for variant, r in runs.items()}
    seq, mapped = variants["seq"], variants["map"]
    wait = latency_ms / 1000
    return {"threads": threads, "variants": variants,
            "ceiling_seq_rps": threads / (wait * len(urls)) if wait else float("inf"),
            "ceiling_map_rps": threads / wait if wait else float("inf"),
            "map_vs_seq_rps": mapped["rps"] / seq["rps"] if seq["rps"] else float("nan"),
            "map_vs_seq_cpu": mapped["cpu_ms_per_req"] / seq["cpu_ms_per_req"] if seq["cpu_ms_per_req"] else float("nan")}


def format_session_table(result: dict[str, Any]) -> str:
    """Render :func:`run_session_bench`'s result as a plain-text table."""
    p = result["params"]
    lines = [f"\nrequests.Session from {p['threads']} threads, upstream {p['latency_ms']:g} ms, {p['repeat']} rounds "
             f"of {p['duration']:g} s (ceiling {result['ceiling_rps']:.0f} req/s; CPU: the whole process)",
             f"  {'variant':<40}{'req/s':>8}{'min–max':>14}{'CPU ms/req':>12}{'errors':>8}"]
    for fig in result["variants"].values():
        span = f"{fig['rps_min']:.0f}–{fig['rps_max']:.0f}"
        lines.append(f"  {fig['label']:<40}{fig['rps']:>8.0f}{span:>14}{fig['cpu_ms_per_req']:>12.3f}{fig['errors']:>8}")
    r = result["ratios"]
    lines.append(f"  adapter ÷ stock: req/s {r['adapter_vs_stock_rps']:.2f}×, CPU per request {r['adapter_vs_stock_cpu']:.2f}×")
    loop_ms = result["variants"]["adapter"].get("loop_cpu_ms_per_req")
    if loop_ms is not None:
        lines.append(f"  of the adapter's CPU per request, the loop thread (aiohttp and the loop side): {loop_ms:.3f} ms")
    own = result.get("requests_own_cpu_ms_per_req")
    if own is not None:
        lines.append(f"  requests' own work per call (1 thread, no socket): {own:.3f} ms = {r['requests_own_vs_stock_cpu']:.2f}× "
                     "stock's CPU per request, paid by both: no transport can go below it")
    fan = result.get("fanout")
    if fan:
        lines.append(f"\nan app request making {fan['calls']} calls, upstream {fan['latency_ms']:g} ms "
                     "(units: app requests; CPU: the whole process, per app request)")
        lines.append(f"  {'threads':<8}{'variant':<54}{'req/s':>8}{'min–max':>12}{'CPU ms':>9}{'ceiling':>9}")
        for part in fan["by_threads"]:
            for key, fig in part["variants"].items():
                ceiling = part["ceiling_seq_rps"] if key == "seq" else part["ceiling_map_rps"]
                span = f"{fig['rps_min']:.0f}–{fig['rps_max']:.0f}"
                lines.append(f"  {part['threads']:<8}{fig['label']:<54}{fig['rps']:>8.0f}{span:>12}"
                             f"{fig['cpu_ms_per_req']:>9.2f}{ceiling:>9.0f}")
            lines.append(f"  {part['threads']:<8}map ÷ sequential: req/s {part['map_vs_seq_rps']:.2f}×, "
                         f"CPU per app request {part['map_vs_seq_cpu']:.2f}×")
    return "\n".join(lines)
