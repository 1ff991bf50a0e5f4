"""Benchmark: what reading installed libraries costs the lint, cold and warm (prints figures).

Run on a real project with its dependencies installed in a virtual environment::

    python tests/lint/bench_lint_libraries.py PROJECT_DIR --python VENV [--rounds 3]

Each round runs, interleaved and in fresh processes: the lint without libraries (what the lint
cost before it read them), a cold run (an empty cache directory) and a warm run (the cache the
cold run left). It prints the wall time and the peak RSS of each run, the medians and the
ratios cold/base and warm/base, and the findings the libraries added (LB203, LB312).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def _run(args: list[str], cwd: str) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS (MiB) and standard output of one lint process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "loopbridge.lint", "--isolated", "-q",
                             "--exit-zero", *args, "."], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"lint failed ({proc.returncode}) with {args}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project")
    parser.add_argument("--python", required=True, help="the project's virtual environment")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")
    lines = 0
    for root, dirs, files in os.walk(options.project):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("venv", "node_modules")]
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(root, name), "rb") as fh:
                    lines += fh.read().count(b"\n")
    figures: dict[str, list[tuple[float, float, float]]] = {"base": [], "cold": [], "warm": []}
    added: list[str] = []
    for round_no in range(options.rounds):
        cache = tempfile.mkdtemp(prefix="lb-bench-cache-")
        try:
            lib = ["--python", options.python, "--cache-dir", cache]
            runs = {"base": ["--no-libraries"], "cold": lib, "warm": lib}
            for kind, args in runs.items():
                wall, cpu, rss, out = _run(args, options.project)
                figures[kind].append((wall, cpu, rss))
                print(f"round {round_no + 1} {kind}: {wall:.2f} s wall, {cpu:.2f} s CPU, "
                      f"{rss:.0f} MiB", flush=True)
                if kind == "warm":
                    added = [line for line in out.splitlines() if " LB203 " in line
                             or " LB312 " in line]
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    median = {kind: statistics.median(w for w, _, _ in runs) for kind, runs in figures.items()}
    cpu = {kind: statistics.median(c for _, c, _ in runs) for kind, runs in figures.items()}
    peak = {kind: max(r for _, _, r in runs) for kind, runs in figures.items()}
    print(f"project: {options.project} ({lines} lines of Python)")
    for kind in figures:
        print(f"{kind}: median {median[kind]:.2f} s wall, {cpu[kind]:.2f} s CPU, "
              f"peak RSS {peak[kind]:.0f} MiB")
    print(f"wall cold/base {median['cold'] / median['base']:.2f}x, "
          f"warm/base {median['warm'] / median['base']:.2f}x; "
          f"CPU cold/base {cpu['cold'] / cpu['base']:.2f}x, warm/base "
          f"{cpu['warm'] / cpu['base']:.2f}x; peak RSS {peak['cold']:.0f} MiB "
          f"(+{peak['cold'] - peak['base']:.0f} MiB over the run without libraries)")
    print(f"findings added by libraries: {len(added)}")
    for line in added:
        print("  " + line)


if __name__ == "__main__":
    main()
