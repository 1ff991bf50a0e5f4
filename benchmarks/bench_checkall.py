"""Check-all benchmark: the legacy serial checker vs the bridged one vs the physical limit.

The simulator runs in its own process with a fixed latency per site, so what is timed is
the checkers alone. Repeats are interleaved (legacy, bridge, legacy, bridge, ...) so drift
hits both alike; the figures are medians with their min–max. The physical limit is what
no client can beat with ``concurrency`` requests in flight: ``ceil(N / concurrency) ×
latency``.

    python benchmarks/bench_checkall.py                 # 300 sites, 25 ms, concurrency 100
    python benchmarks/bench_checkall.py --repeat 5 --json

Targets: the bridged checker within 1.3× of the limit, and at least 20× faster than the
legacy one.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

#: Target: bridged duration / physical limit at most this.
LIMIT_TARGET = 1.3
#: Target: legacy duration / bridged duration at least this.
SPEEDUP_TARGET = 20.0


def _summary(samples: list[float]) -> dict[str, Any]:
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples),
            "samples_s": samples}


def _timed(check: Callable[..., None], sites: list[Any], concurrency: int) -> tuple[float, int]:
    """Run one checker over ``sites``; return (seconds, number of failed checks)."""
    results: list[Any] = []
    started = time.perf_counter()
    check(sites, results.append, timeout=30.0, concurrency=concurrency)
    elapsed = time.perf_counter() - started
    if len(results) != len(sites):
        raise RuntimeError(f"the checker returned {len(results)} results for {len(sites)} sites")
    return elapsed, sum(1 for r in results if not r.ok)


def run_checkall_bench(n: int = 300, latency_ms: float = 25, concurrency: int = 100,
                       repeat: int = 3) -> dict[str, Any]:
    """Time both checkers over ``n`` simulated sites; return the figures and the ratios.

    Raises:
        ValueError: an argument is out of range.
        RuntimeError: a check failed (every simulated site should answer 200).
    """
    if not isinstance(n, int) or not 1 <= n <= 10_000:
        raise ValueError(f"n must be an int in 1..10000, got {n!r}")
    if not 0 < latency_ms <= 10_000:
        raise ValueError(f"latency_ms must be in (0, 10000], got {latency_ms!r}")
    if not isinstance(concurrency, int) or not 1 <= concurrency <= 1000:
        raise ValueError(f"concurrency must be an int in 1..1000, got {concurrency!r}")
    if not isinstance(repeat, int) or not 1 <= repeat <= 100:
        raise ValueError(f"repeat must be an int in 1..100, got {repeat!r}")

    from legacy_app.checkers import check_sites_bridge, check_sites_legacy
    from legacy_app.simulator import Simulator
    from legacy_app.storage import Site

    limit_s = math.ceil(n / concurrency) * latency_ms / 1000
    times: dict[str, list[float]] = {"legacy": [], "bridge": []}
    with Simulator(sites=n, latency_ms=latency_ms, fixed=True, in_thread=False) as sim:
        sites = [Site(i + 1, url, f"site {i}", "") for i, url in enumerate(sim.site_urls())]
        _timed(check_sites_bridge, sites, concurrency)  # warm: loop thread, session, pool
        for _ in range(repeat):
            for name, check in (("legacy", check_sites_legacy), ("bridge", check_sites_bridge)):
                elapsed, failed = _timed(check, sites, concurrency)
                if failed:
                    raise RuntimeError(f"{failed} of {n} checks failed with the {name} checker; "
                                       "the benchmark needs every simulated site to answer")
                times[name].append(elapsed)
    legacy, bridge = _summary(times["legacy"]), _summary(times["bridge"])
    return {
        "n": n, "latency_ms": latency_ms, "concurrency": concurrency, "repeat": repeat,
        "limit_s": limit_s, "legacy": legacy, "bridge": bridge,
        "bridge_vs_limit": bridge["median_s"] / limit_s,
        "legacy_vs_bridge": legacy["median_s"] / bridge["median_s"],
        "targets": {"bridge_within_1_3x_of_limit": bridge["median_s"] / limit_s <= LIMIT_TARGET,
                    "bridge_20x_faster_than_legacy":
                        legacy["median_s"] / bridge["median_s"] >= SPEEDUP_TARGET},
    }


def format_report(result: dict[str, Any]) -> str:
    """The figures as a small table with the ratios and whether the targets are met."""
    def row(label: str, s: dict[str, Any]) -> str:
        return (f"  {label:<22} {s['median_s'] * 1000:9.1f} ms   "
                f"(min {s['min_s'] * 1000:.1f} – max {s['max_s'] * 1000:.1f})")

    t = result["targets"]
    return "\n".join([
        (f"check-all of {result['n']} sites at {result['latency_ms']} ms, "
         f"concurrency {result['concurrency']}, {result['repeat']} interleaved repeats (medians)"),
        row("legacy (serial)", result["legacy"]),
        row("bridged (http.map)", result["bridge"]),
        (f"  {'physical limit':<22} {result['limit_s'] * 1000:9.1f} ms   "
         f"(ceil({result['n']}/{result['concurrency']}) x {result['latency_ms']} ms)"),
        (f"  bridged / limit        {result['bridge_vs_limit']:9.2f}x   "
         f"target <= {LIMIT_TARGET}x: {'met' if t['bridge_within_1_3x_of_limit'] else 'MISSED'}"),
        (f"  legacy / bridged       {result['legacy_vs_bridge']:9.1f}x   "
         f"target >= {SPEEDUP_TARGET:.0f}x: {'met' if t['bridge_20x_faster_than_legacy'] else 'MISSED'}"),
    ])


def main(argv: list[str] | None = None) -> int:
    """Command line: print the report (or JSON); exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="sites (default 300)")
    parser.add_argument("--latency-ms", type=float, default=25.0, help="latency per site (default 25)")
    parser.add_argument("--concurrency", type=int, default=100, help="bridged checks in flight (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved repeats (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = run_checkall_bench(args.n, args.latency_ms, args.concurrency, args.repeat)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0 if all(result["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
