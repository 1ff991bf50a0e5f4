"""The simulator's aiohttp app and :class:`Simulator`, which serves it in a thread or a child process.

See :mod:`legacy_app.simulator` for the endpoints.
"""


from __future__ import annotations

import asyncio
import logging
import random
import threading
from typing import Any

from aiohttp import web

from legacy_app.simulator._process import start_subprocess, stop_subprocess
from legacy_app.simulator._routes import (
    SIM_CONFIG,
    SLOW_FACTOR,
    SimConfig,
    SiteProfile,
    add_routes,
)

__all__ = ["Simulator", "draw_profiles", "make_app"]

logger = logging.getLogger(__name__)

def _validate(sites: int, latency_ms: float, jitter_ms: float, error_rate: float,
              slow_fraction: float, down_fraction: float) -> None:
    """Raise a clear ValueError for settings the simulator cannot honour."""
    if not isinstance(sites, int) or sites < 0 or sites > 1_000_000:
        raise ValueError(f"sites must be an int between 0 and 1000000, got {sites!r}")
    if latency_ms < 0 or jitter_ms < 0:
        raise ValueError(f"latency_ms and jitter_ms must be >= 0, got {latency_ms!r}, {jitter_ms!r}")
    for name, value in (("error_rate", error_rate), ("slow_fraction", slow_fraction),
                        ("down_fraction", down_fraction)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value!r}")


def draw_profiles(sites: int, seed: int, latency_ms: float, jitter_ms: float,
                  error_rate: float, slow_fraction: float, down_fraction: float) -> tuple[SiteProfile, ...]:
    """Draw each site's profile deterministically from ``seed`` (same seed, same sites)."""
    rng = random.Random(seed)
    profiles = []
    for i in range(sites):
        latency = max(0.0, rng.gauss(latency_ms, jitter_ms / 2)) if jitter_ms else latency_ms
        if jitter_ms:
            latency = min(max(latency, latency_ms - jitter_ms), latency_ms + jitter_ms)
        roll = rng.random()
        down = roll < down_fraction
        slow = not down and roll < down_fraction + slow_fraction
        flaky = rng.random() < 0.2 if error_rate else False
        # A fifth of the sites are flaky; their error rate is scaled so that the
        # whole population errs at about ``error_rate``.
        rate = min(1.0, error_rate * 5) if flaky else 0.0
        profiles.append(SiteProfile(i, latency * (SLOW_FACTOR if slow else 1.0), rate, slow, down))
    return tuple(profiles)


def make_app(sites: int = 300, seed: int = 1, latency_ms: float = 25.0, *,
             jitter_ms: float | None = None, error_rate: float = 0.02,
             slow_fraction: float = 0.02, down_fraction: float = 0.01,
             fixed: bool = False) -> web.Application:
    """Build the simulator's aiohttp application.

    Args:
        sites: number of virtual sites under ``/sites/{i}``.
        seed: seed of the per-site profiles and of the per-answer error draws.
        latency_ms: typical latency of a site.
        jitter_ms: spread of site latencies around ``latency_ms`` (default 20 % of it).
        error_rate: share of all site answers that are errors, carried by flaky sites.
        slow_fraction: share of sites answering ``SLOW_FACTOR`` times slower.
        down_fraction: share of sites that always answer 503.
        fixed: every site exactly ``latency_ms``, never an error (for benchmarks).

    Raises:
        ValueError: a setting is out of range; the message names it.
    """
    if jitter_ms is None:
        jitter_ms = latency_ms * 0.2
    if fixed:
        jitter_ms = error_rate = slow_fraction = down_fraction = 0.0
    _validate(sites, latency_ms, jitter_ms, error_rate, slow_fraction, down_fraction)
    profiles = draw_profiles(sites, seed, latency_ms, jitter_ms, error_rate, slow_fraction, down_fraction)
    app = web.Application()
    app[SIM_CONFIG] = SimConfig(sites, seed, latency_ms, jitter_ms, error_rate, profiles)
    add_routes(app, random.Random(seed + 1))
    return app


class Simulator:
    """The simulator in a daemon thread with its own event loop, or in a child process.

    Args:
        port: TCP port on 127.0.0.1; 0 picks a free one (read it back from ``.port``).
        sites, seed, latency_ms, jitter_ms, error_rate, fixed: see :func:`make_app`.
        in_thread: True runs it in this process on a daemon thread; False starts a child
            process (``python -m legacy_app.simulator``) so it does not share the GIL.

    Example::

        with Simulator(sites=10, latency_ms=5) as sim:
            print(sim.site_urls(3))
    """

    def __init__(self, port: int = 0, sites: int = 300, seed: int = 1, latency_ms: float = 25.0,
                 jitter_ms: float | None = None, error_rate: float = 0.02, *,
                 fixed: bool = False, in_thread: bool = True) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in 0..65535, got {port!r}")
        self._kwargs: dict[str, Any] = {"sites": sites, "seed": seed, "latency_ms": latency_ms,
                                        "jitter_ms": jitter_ms, "error_rate": error_rate, "fixed": fixed}
        make_app(**self._kwargs)  # validate now, not inside the thread
        self.sites = sites
        self.in_thread = in_thread
        self._requested_port = port
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._process: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = f"port={self._port}" if self._port else "stopped"
        return f"<Simulator sites={self.sites} {state} in_thread={self.in_thread}>"

    @property
    def port(self) -> int:
        """The bound port; only valid after :meth:`start`."""
        if self._port is None:
            raise RuntimeError("the simulator is not running; call start() or use it as a context manager")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running simulator."""
        return f"http://127.0.0.1:{self.port}"

    def site_url(self, i: int) -> str:
        """URL of virtual site ``i``; raises ValueError outside ``0..sites-1``."""
        if not isinstance(i, int) or not 0 <= i < self.sites:
            raise ValueError(f"site index must be in 0..{self.sites - 1}, got {i!r}")
        return f"{self.base_url}/sites/{i}"

    def site_urls(self, n: int | None = None) -> list[str]:
        """URLs of the first ``n`` sites (all of them by default)."""
        n = self.sites if n is None else n
        if not isinstance(n, int) or not 0 <= n <= self.sites:
            raise ValueError(f"n must be in 0..{self.sites}, got {n!r}; raise `sites` for more")
        return [f"{self.base_url}/sites/{i}" for i in range(n)]

    def start(self, timeout: float = 10.0) -> Simulator:
        """Start serving and return once the port accepts connections."""
        if self._port is not None:
            raise RuntimeError("the simulator is already running; stop() it first")
        if not self.in_thread:
            args = {k: v for k, v in self._kwargs.items() if v is not None}
            self._process, url = start_subprocess(port=self._requested_port, timeout=timeout, **args)
            self._port = int(url.rsplit(":", 1)[1])
            return self
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._serve, name="loopbridge-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"the simulator did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise RuntimeError(f"the simulator could not start: {self._error}") from self._error
        return self

    def _serve(self) -> None:
        """Thread body: own loop, bind, signal readiness, run until stop()."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._runner = loop.run_until_complete(self._bind())
        except BaseException as exc:  # noqa: BLE001 - reported to start(), which raises it
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _bind(self) -> web.AppRunner:
        """Set up the runner and site on the simulator's loop; record the port."""
        runner = web.AppRunner(make_app(**self._kwargs), access_log=None,
                               handler_cancellation=True, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._requested_port, backlog=2048)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = runner.addresses[0][1]
        logger.info("simulator listening on http://127.0.0.1:%s", self._port)
        return runner

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, close every connection and join the thread; idempotent."""
        if self._process is not None:
            stop_subprocess(self._process, timeout)
            self._process = None
        elif self._thread is not None and self._loop is not None and self._runner is not None:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            try:
                fut.result(timeout)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout)
        self._thread = self._loop = self._runner = None
        self._port = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

