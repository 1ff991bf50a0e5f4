"""Print the fan-out benchmark table: serial requests vs a thread pool vs ``bridge.http.map``.

Usage: ``python benchmarks/bench_fanout.py [--n 400] [--latency-ms 25] [--concurrency 100]
[--repeat 3] [--threads 32]``. Needs no network: the simulator runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import pathlib
import sys

logger = logging.getLogger(__name__)


def _load_bench():  # type: ignore[no-untyped-def]
    """Import ``bridge/bench/fanout.py`` (also while ``bridge/bench`` has no ``__init__``)."""
    try:
        from loopbridge.bench import fanout

        return fanout
    except ImportError:
        path = pathlib.Path(__file__).resolve().parent.parent / "bridge" / "bench" / "fanout.py"
        spec = importlib.util.spec_from_file_location("bridge_bench_fanout", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the benchmark, print the table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=25.0)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args(argv)
    bench = _load_bench()
    result = bench.run_fanout_bench(n=args.n, latency_ms=args.latency_ms, concurrency=args.concurrency,
                                    repeat=args.repeat, pool_threads=args.threads)
    print(bench.format_fanout_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
