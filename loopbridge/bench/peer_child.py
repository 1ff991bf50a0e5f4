"""One way of the peers section, alone in its interpreter: ``python -m loopbridge.bench.peer_child WAY``.

gevent and eventlet patch the whole process (``socket``, ``threading``, ``time.sleep``, ``ssl``,
``select`` …): a way measured next to them in one process would be measured on their sockets.
So :mod:`loopbridge.bench.peers` starts each way here, in a process of its own, and drives them
round by round, taking turns. The ways:

- ``gevent``: ``monkey.patch_all()`` first, then ``gevent.pool.Pool(concurrency)`` mapping a
  ``requests.Session`` (one pool of ``concurrency`` connections, shared by the greenlets);
- ``eventlet``: ``eventlet.monkey_patch()`` first, then ``GreenPool(concurrency)``, same Session;
- ``bridge``: ``bridge.http.map(urls, concurrency=...)`` on the shared loop;
- ``aiohttp``: bare aiohttp on a loop thread, no loopbridge (the floor of the fanout section);
- ``threads``: ``ThreadPoolExecutor(threads)`` with a ``requests.Session`` per thread;
- ``hop``: the sync → async hop of a trivial coroutine — ``bridge.run``,
  ``run_coroutine_threadsafe``, asgiref (aimed at the loop thread, and new loop per call) and
  awaitlet's greenlet switch (the sync code then runs *on* the loop thread, in a greenlet).

Protocol: the child prepares itself (patching first), warms up, and prints one JSON line:
``{"ready": true, "way", "socket_module", "patched", "versions", "warnings", "missing"}`` —
``patched`` is the child's own check that ``socket`` really is the green library's, ``missing``
the hop variants it could not run (awaitlet not installed) — or
``{"ready": false, "missing": MODULE, "why": TEXT}`` when a library cannot be imported, and
exits. Then one JSON line per line read from stdin: ``batch`` → ``{"wall_s", "cpu_s",
"errors"}`` (CPU: this whole process); ``hop CALLS`` → ``{"us_per_call": {variant: µs}}``;
``quit`` or end of input ends it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["GREEN_WAYS", "HOP_VARIANTS", "WAYS", "main"]

#: the ways that patch the process, and the module whose ``socket`` they install
GREEN_WAYS = {"gevent": "gevent", "eventlet": "eventlet"}
WAYS = ("gevent", "eventlet", "bridge", "aiohttp", "threads", "hop")
#: hop variant -> what it is, for tables
HOP_VARIANTS = {
    "run": "bridge.run (ours), from a worker thread",
    "raw": "run_coroutine_threadsafe().result(), from a worker thread",
    "asgiref_loop_thread": "asgiref AsyncToSync aimed at the loop thread",
    "asgiref_default": "asgiref async_to_sync, new loop per call (Flask)",
    "awaitlet": "awaitlet(coro) in a greenlet on the loop thread",
}
_SLOW_HOPS = {"asgiref_default"}


class _Missing(Exception):
    """A library a way needs cannot be imported (the extra is not installed, or broken here)."""

    def __init__(self, module: str, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.module = module


def _patch(way: str, caught: list[str]) -> bool:
    """Patch the process for a green way; True when ``socket`` now is the green library's."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            if way == "gevent":
                from gevent import monkey

                monkey.patch_all()
            else:
                import eventlet

                eventlet.monkey_patch()
        except ImportError as exc:
            raise _Missing(way, exc) from exc
    # the library's own deprecation notice is worth reporting; other libraries' noise is not
    caught += sorted({" ".join(str(w.message).split()).split(". ")[0] + "." for w in seen
                      if way in w.category.__module__})
    import socket

    if way == "gevent":
        import gevent.monkey
        import gevent.socket

        return bool(gevent.monkey.is_module_patched("socket")) and socket.socket is gevent.socket.socket
    import eventlet.patcher

    return bool(eventlet.patcher.is_monkey_patched("socket")) and socket.socket.__module__.startswith("eventlet")


def _green_batch(way: str, urls: list[str], concurrency: int) -> Callable[[], int]:
    import requests

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=concurrency)
    session.mount("http://", adapter)
    session.mount("https://", adapter)

    def fetch(url: str) -> int:
        try:
            resp = session.get(url, timeout=30)
            resp.content  # noqa: B018 - read the body, as legacy code does
            return int(resp.status_code >= 400)
        except requests.RequestException:
            return 1

    if way == "gevent":
        import gevent.pool

        pool: Any = gevent.pool.Pool(concurrency)
    else:
        import eventlet

        pool = eventlet.GreenPool(concurrency)
    return lambda: sum(pool.imap(fetch, urls))


def _batch(way: str, urls: list[str], concurrency: int, threads: int) -> Callable[[], int]:
    if way in GREEN_WAYS:
        return _green_batch(way, urls, concurrency)
    if way == "bridge":
        from bridge import http

        return lambda: sum(isinstance(r, Exception) or not r.ok
                           for r in http.map(urls, concurrency=concurrency, timeout=30))
    from .fanout import _RawAiohttp, _ThreadPool

    runner = _RawAiohttp(concurrency) if way == "aiohttp" else _ThreadPool(threads)
    return lambda: runner.run(urls)


def _awaitlet_hops(calls: int) -> float:
    """Seconds for ``calls`` awaitlet hops, timed inside the greenlet (the entry is not counted)."""
    from awaitlet import awaitlet

    from .roundtrip import _trivial

    start = time.perf_counter()
    for _ in range(calls):
        awaitlet(_trivial())
    return time.perf_counter() - start


def _hop_round(missing: dict[str, str]) -> Callable[[int, int], dict[str, float]]:
    """The hop child's round: every variant once, from the ``turn``-th on; µs per call.

    Without awaitlet the other variants still run and ``missing`` says why awaitlet did not.
    """
    import asyncio

    from async_core import default_loop

    from .roundtrip import _Handoff, _make_variants, _time_calls

    fns = {name: fn for name, fn in _make_variants(_Handoff()).items() if name in HOP_VARIANTS}
    loop = default_loop().loop
    try:
        from awaitlet import async_def
    except ImportError as exc:
        missing["awaitlet"] = f"{type(exc).__name__}: {exc}"
    else:
        def awaitlet_hop(calls: int) -> float:
            return float(asyncio.run_coroutine_threadsafe(async_def(_awaitlet_hops, calls), loop).result(120))

    def one_round(calls: int, turn: int) -> dict[str, float]:
        names = [name for name in HOP_VARIANTS if name in fns or (name == "awaitlet" and not missing)]
        names = names[turn % len(names):] + names[:turn % len(names)]
        out: dict[str, float] = {}
        for name in names:
            n = max(10, calls // 20) if name in _SLOW_HOPS else calls
            seconds = awaitlet_hop(n) if name == "awaitlet" else _time_calls(fns[name], n, 1)
            out[name] = seconds / n * 1e6
        return out

    one_round(50, 0)  # warm: imports, the loop thread, asgiref's executors
    return one_round


def _versions(way: str) -> dict[str, str]:
    from importlib import metadata

    names = {"gevent": ("gevent", "greenlet", "requests"), "eventlet": ("eventlet", "greenlet", "requests"),
             "hop": ("awaitlet", "greenlet", "asgiref"), "bridge": ("aiohttp",), "aiohttp": ("aiohttp",),
             "threads": ("requests",)}[way]
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "?"
    return out


def _say(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()


def _serve(way: str, batch: Callable[[], int] | None, hop: Callable[[int, int], dict[str, float]] | None) -> None:
    turn = 0
    while True:
        line = sys.stdin.readline()
        command = line.split()
        if not command or command[0] == "quit":
            return
        if command[0] == "batch" and batch is not None:
            cpu, start = time.process_time(), time.perf_counter()
            errors = batch()
            _say({"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu, "errors": errors})
        elif command[0] == "hop" and hop is not None and len(command) == 2 and command[1].isdigit():
            _say({"us_per_call": hop(int(command[1]), turn)})
            turn += 1
        else:
            _say({"error": f"the {way} child cannot do {line.strip()!r}"})


def main(argv: list[str] | None = None) -> None:
    """Prepare one way, say whether it is ready, then answer commands until ``quit``."""
    parser = argparse.ArgumentParser(description="One way of loopbridge bench's peers section.")
    parser.add_argument("way", choices=WAYS)
    parser.add_argument("--upstream", default="", help="the bench upstream's base URL (not for hop)")
    parser.add_argument("--n", type=int, default=400, help="GETs per batch")
    parser.add_argument("--latency-ms", type=float, default=25.0)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args(argv)
    if min(args.concurrency, args.threads, args.n) < 1 or not args.latency_ms >= 0:
        parser.error("--n, --concurrency and --threads must be >= 1, --latency-ms >= 0")
    caught: list[str] = []
    missing: dict[str, str] = {}
    try:
        patched = _patch(args.way, caught) if args.way in GREEN_WAYS else False
        batch = hop = None
        if args.way == "hop":
            hop = _hop_round(missing)
        else:
            if not args.upstream.startswith("http://"):
                parser.error(f"the {args.way} way needs --upstream http://HOST:PORT")
            from .upstream import delay_url

            urls = [delay_url(args.upstream, args.latency_ms, i) for i in range(args.n)]
            batch = _batch(args.way, urls, args.concurrency, args.threads)
            batch()  # warm: connections, pools, the loop thread exist, as in a running app
    except _Missing as exc:
        _say({"ready": False, "missing": exc.module, "why": str(exc)})
        return
    import socket

    _say({"ready": True, "way": args.way, "socket_module": socket.socket.__module__, "patched": patched,
          "versions": _versions(args.way), "warnings": caught, "missing": missing})
    _serve(args.way, batch, hop)


if __name__ == "__main__":
    main()
