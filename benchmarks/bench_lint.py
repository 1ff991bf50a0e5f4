"""Benchmark ``loopbridge lint`` against flake8 + flake8-async, ruff and ast.parse.

Usage: python benchmarks/bench_lint.py [--repeat N] [--json] [PATH ...]
(default tree: the installed sources of aiohttp, flask, requests, asgiref and dependencies).
"""

from __future__ import annotations

import argparse
import json
import logging

from loopbridge.lint._bench import format_report, run_lint_bench

logger = logging.getLogger(__name__)


def main() -> None:
    """Parse arguments, run the benchmark and print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="directories to lint (default: site-packages)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--json", action="store_true", help="print the raw report as JSON")
    args = parser.parse_args()
    report = run_lint_bench(args.paths or None, repeat=args.repeat)
    print(json.dumps(report, indent=2) if args.json else format_report(report), end="")


if __name__ == "__main__":
    main()
