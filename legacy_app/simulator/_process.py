"""Running the upstream simulator as its own process: the CLI command and a Popen helper.

A simulator in a separate process does not share the GIL with the code it measures,
which is what the benchmarks want. ``python -m legacy_app.simulator`` and the
``loopbridge simulator`` command both go through :func:`serve`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import click
from aiohttp import web

logger = logging.getLogger(__name__)

#: The line the simulator prints once it accepts connections.
READY_PREFIX = "simulator listening on "


async def serve(port: int, **app_kwargs: Any) -> None:
    """Serve the simulator on 127.0.0.1 until SIGINT or SIGTERM, then close cleanly."""
    from legacy_app.simulator._server import make_app

    runner = web.AppRunner(make_app(**app_kwargs), access_log=None,
                           handler_cancellation=True, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=2048)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"{READY_PREFIX}http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


@click.command(name="simulator")
@click.option("--port", type=click.IntRange(0, 65535), default=8081, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--sites", type=click.IntRange(0, 1_000_000), default=300, show_default=True,
              help="Number of virtual sites under /sites/{i}.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the site profiles.")
@click.option("--latency-ms", type=click.FloatRange(0), default=25.0, show_default=True,
              help="Typical latency of a site.")
@click.option("--jitter-ms", type=click.FloatRange(0), default=None,
              help="Spread of latencies around --latency-ms (default 20% of it).")
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0.02, show_default=True,
              help="Share of site answers that are errors.")
@click.option("--fixed", is_flag=True,
              help="Every site exactly --latency-ms and never an error (for benchmarks).")
def simulator_command(port: int, sites: int, seed: int, latency_ms: float,
                      jitter_ms: float | None, error_rate: float, fixed: bool) -> None:
    """Run the upstream simulator: many fake web sites on 127.0.0.1, until Ctrl-C."""
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve(port, sites=sites, seed=seed, latency_ms=latency_ms,
                             jitter_ms=jitter_ms, error_rate=error_rate, fixed=fixed))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc}; "
                                   "pick another --port or 0 for a free one") from exc


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when it is installed (less CPU per request), else asyncio's default."""
    if os.environ.get("LOOPBRIDGE_SIMULATOR_UVLOOP", "1") == "0":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _options(kwargs: dict[str, Any]) -> list[str]:
    """Turn keyword settings into the command's ``--option value`` list."""
    args: list[str] = []
    for key, value in kwargs.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        args.extend([flag] if value is True else [flag, str(value)])
    return args


def start_subprocess(port: int = 0, sites: int = 300, latency_ms: float = 25.0, *,
                     timeout: float = 15.0, **kwargs: Any) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m legacy_app.simulator`` and wait until it listens.

    Args:
        port: port on 127.0.0.1, 0 for a free one.
        sites, latency_ms: as for :func:`legacy_app.simulator.make_app`.
        timeout: seconds to wait for the "listening" line.
        **kwargs: further options: ``seed``, ``jitter_ms``, ``error_rate``, ``fixed``.

    Returns:
        The process and its base URL, e.g. ``"http://127.0.0.1:54321"``. Stop it with
        :func:`stop_subprocess` (SIGTERM, then wait).

    Raises:
        RuntimeError: the process exited or did not print its URL in time.
    """
    unknown = set(kwargs) - {"seed", "jitter_ms", "error_rate", "fixed"}
    if unknown:
        raise TypeError(f"unknown simulator options {sorted(unknown)}; "
                        "use seed, jitter_ms, error_rate or fixed")
    cmd = [sys.executable, "-m", "legacy_app.simulator",
           *_options({"port": port, "sites": sites, "latency_ms": latency_ms, **kwargs})]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = _read_line(proc, timeout)
    if not line.startswith(READY_PREFIX):
        stop_subprocess(proc, 5.0)
        raise RuntimeError(f"the simulator did not start (command {' '.join(cmd)!r}, "
                           f"output {line!r}); see its stderr above")
    return proc, line[len(READY_PREFIX):].strip()


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """Read one stdout line of ``proc`` within ``timeout`` seconds ('' on timeout or exit)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if sel.select(max(0.0, deadline - time.monotonic())):
                return proc.stdout.readline()
    return ""


def stop_subprocess(proc: subprocess.Popen[str], timeout: float = 10.0) -> int:
    """SIGTERM a simulator process, wait for it (kill after ``timeout``), return its code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("simulator pid %s ignored SIGTERM; killing it", proc.pid)
            proc.kill()
            proc.wait(timeout)
    if proc.stdout is not None:
        proc.stdout.close()
    return proc.returncode
