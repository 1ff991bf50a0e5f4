"""What the stall watchdog costs: round trip and fan-out, watchdog off vs on (run: python benchmarks/bench_watchdog.py)."""

from __future__ import annotations

import argparse
import json

from loopbridge.bench.watchdog import run_watchdog_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (off/on, on/off, ...)")
    parser.add_argument("--calls", type=int, default=3000, help="round trips per batch")
    parser.add_argument(
        "--threshold-ms", type=float, action="append", default=None,
        help="watchdog threshold(s) to measure (default: 500, the shipped default, and 100)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    results = {
        threshold: run_watchdog_bench(repeat=args.repeat, calls=args.calls, threshold_ms=threshold)
        for threshold in (args.threshold_ms or [500.0, 100.0])
    }
    if args.json:
        print(json.dumps({f"{k:g}ms": v for k, v in results.items()}, indent=2))
        return
    print(f"watchdog overhead, medians of batches taking turns, {args.repeat} rounds (ratio = on / off; target <= 1.03)")
    print(f"  {'threshold':>10} {'round trip off':>15} {'on':>10} {'ratio':>7} {'fan-out off':>12} {'on':>10} {'ratio':>7}")
    for threshold, r in results.items():
        rt, fo = r["roundtrip"], r["fanout"]
        print(
            f"  {threshold:>8g}ms {rt['off_us']:>12.1f} us {rt['on_us']:>7.1f} us {rt['ratio']:>7.3f}"
            f" {fo['off_ms']:>9.1f} ms {fo['on_ms']:>7.1f} ms {fo['ratio']:>7.3f}"
        )
    for threshold, r in results.items():
        rt = r["roundtrip"]
        print(
            f"  {threshold:>8g}ms round trip, fastest batches: off {rt['off_min_us']:.1f} us, "
            f"on {rt['on_min_us']:.1f} us, ratio {rt['ratio_of_minimums']:.3f}"
        )
    print(f"  fan-out: {r['fanout']['coroutines']} x asyncio.sleep({r['fanout']['sleep_s']}) awaited by one bridge.run")


if __name__ == "__main__":
    main()
