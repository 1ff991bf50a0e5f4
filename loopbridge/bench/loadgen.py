"""A small HTTP load generator (used when ``wrk`` is not installed).

Run as ``python -m loopbridge.bench.loadgen URL --concurrency 32 --duration 5``; prints one JSON
object: requests, errors, requests/s, p50/p99 latency in ms. Every request uses a new
connection (``Connection: close``), as a reverse proxy in front of gunicorn does: with
keep-alive the kernel tends to give nearly all connections to one worker and the figures
become noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aiohttp

__all__ = ["generate_load", "percentile"]


def percentile(sorted_values: list[float], pct: float) -> float:
    """The ``pct`` percentile (0–100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return float("nan")
    if not 0 <= pct <= 100:
        raise ValueError(f"pct must be within 0..100, got {pct}.")
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


async def _worker(session: aiohttp.ClientSession, url: str, until: float, lat: list[float], errors: list[str]) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            async with session.get(url, headers={"Connection": "close"}) as resp:
                await resp.read()
                if resp.status != 200:
                    errors.append(f"HTTP {resp.status}")
                    continue
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            errors.append(type(exc).__name__)
            await asyncio.sleep(0.01)
            continue
        lat.append(time.monotonic() - started)


async def generate_load(url: str, concurrency: int, duration: float, timeout: float = 30.0) -> dict[str, Any]:
    """Keep ``concurrency`` requests in flight against ``url`` for ``duration`` seconds."""
    if concurrency < 1 or duration <= 0:
        raise ValueError("concurrency must be >= 1 and duration > 0.")
    latencies: list[float] = []
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        started = time.monotonic()
        until = started + duration
        await asyncio.gather(*(_worker(session, url, until, latencies, errors) for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "elapsed_s": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def main() -> None:
    """Command-line entry: print the figures of one load run as JSON."""
    parser = argparse.ArgumentParser(description="HTTP load with one new connection per request.")
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(generate_load(args.url, args.concurrency, args.duration))))


if __name__ == "__main__":
    main()
