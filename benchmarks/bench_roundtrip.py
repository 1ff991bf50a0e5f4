"""Per-call cost of bridge.run next to the alternatives, as ratios (run: python benchmarks/bench_roundtrip.py)."""

from __future__ import annotations

import argparse
import json

from loopbridge.bench.roundtrip import VARIANTS, run_roundtrip_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000, help="calls per variant per round")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    result = run_roundtrip_bench(calls=args.calls, repeat=args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for callers, table in result["callers"].items():
        print(f"\n{callers} caller thread(s), {args.repeat} interleaved rounds (median, min-max):")
        print(f"  {'variant':<50} {'us/call':>9} {'min-max':>15} {'calls/s':>10} {'x raw':>7}")
        for name, fig in table.items():
            span = f"{fig['min']:.1f}-{fig['max']:.1f}"
            print(f"  {VARIANTS[name]:<50} {fig['us_per_call']:9.1f} {span:>15} {fig['calls_per_s']:10.0f} {fig['vs_raw']:7.2f}")


if __name__ == "__main__":
    main()
