"""Benchmark: ``loopbridge lint`` against flake8 + flake8-async, ruff, and the parse floor.

:func:`run_lint_bench` lints one large real tree (by default the installed sources of aiohttp,
flask, requests, asgiref and their dependencies) with each tool, interleaving the variants
round by round so that drift in machine load hits all of them alike, and reports the median,
min and max wall time, lines per second, and the ratios the targets are stated in:
lines/s versus flake8 + flake8-async, and time versus plain ``ast.parse`` of the same files.
"""

from __future__ import annotations

import ast
import gc
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from loopbridge.lint import LintConfig, lint_paths
from loopbridge.lint._engine import discover

__all__ = ["DEFAULT_PACKAGES", "format_report", "run_lint_bench"]


DEFAULT_PACKAGES = ("aiohttp", "flask", "requests", "asgiref", "werkzeug", "jinja2", "click",
                    "urllib3", "multidict", "yarl", "idna", "charset_normalizer", "itsdangerous",
                    "markupsafe", "blinker", "frozenlist", "aiosignal", "propcache")


def default_paths() -> list[str]:
    """The source directories of the installed default packages (found, never imported)."""
    found = []
    for name in DEFAULT_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            found.extend(spec.submodule_search_locations)
    return found


def _parse_floor(files: list[str], pause_gc: bool) -> None:
    enabled = gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        for path in files:
            with open(path, "rb") as handle:
                data = handle.read()
            try:
                ast.parse(data)
            except (SyntaxError, ValueError, RecursionError):
                pass
    finally:
        if enabled:
            gc.enable()


def _discard(_: object) -> None:
    return None


def _command(argv: list[str]) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                       timeout=1800)
    return run


def _variants(paths: list[str], files: list[str]) -> dict[str, Callable[[], None] | str]:
    root = os.path.commonpath([os.path.abspath(p) for p in paths])
    config = LintConfig(root=root)
    variants: dict[str, Callable[[], None] | str] = {
        "loopbridge lint (engine)": lambda: _discard(lint_paths(paths, config)),
        "loopbridge lint (CLI)": _command([sys.executable, "-m", "loopbridge.lint", "--isolated",
                                           "--exit-zero", "-q", *paths]),
    }
    if importlib.util.find_spec("flake8") and importlib.util.find_spec("flake8_async"):
        variants["flake8 + flake8-async"] = _command(
            [sys.executable, "-m", "flake8", "--isolated", "--select", "ASYNC", "--exit-zero",
             *paths])
    else:
        variants["flake8 + flake8-async"] = "not installed (pip install flake8 flake8-async)"
    ruff = shutil.which("ruff") or shutil.which("ruff", path=os.path.dirname(sys.executable))
    if ruff:
        variants["ruff --select ASYNC"] = _command(
            [ruff, "check", "--isolated", "--no-cache", "--select", "ASYNC", "--exit-zero",
             "-q", *paths])
    else:
        variants["ruff --select ASYNC"] = "not installed (pip install ruff)"
    variants["ast.parse floor"] = lambda: _parse_floor(files, pause_gc=False)
    variants["ast.parse floor (gc paused)"] = lambda: _parse_floor(files, pause_gc=True)
    return variants


def _summary(times: list[float], lines: int) -> dict[str, float]:
    median = statistics.median(times)
    return {"median_s": median, "min_s": min(times), "max_s": max(times),
            "lines_per_s": lines / median if median else float("inf"), "runs": len(times)}


def run_lint_bench(paths: list[str] | None = None, repeat: int = 3) -> dict[str, Any]:
    """Lint one tree with every tool ``repeat`` times (interleaved) and return the figures.

    Returns a dict with ``files``, ``lines``, ``variants`` (name -> median/min/max seconds,
    lines per second, or an ``error``), ``ratios`` and ``targets``.

    Raises:
        ValueError: ``repeat`` < 1, or no Python files under ``paths``.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    paths = list(paths) if paths else default_paths()
    files = discover(paths, LintConfig(root=os.path.commonpath(
        [os.path.abspath(p) for p in paths])))
    if not files:
        raise ValueError(f"no Python files under {paths}")
    lines = 0
    for path in files:
        with open(path, "rb") as handle:
            lines += handle.read().count(b"\n")
    variants = _variants(paths, files)
    times: dict[str, list[float]] = {name: [] for name, run in variants.items() if callable(run)}
    for _ in range(repeat):
        for name, run in variants.items():
            if not callable(run):
                continue
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    report: dict[str, Any] = {
        "paths": paths, "files": len(files), "lines": lines, "repeat": repeat,
        "variants": {name: (_summary(times[name], lines) if callable(run) else {"error": run})
                     for name, run in variants.items()},
    }
    report["ratios"], report["targets"] = _ratios(report["variants"])
    return report


def _ratios(variants: dict[str, dict[str, Any]]) -> tuple[dict[str, float], dict[str, bool]]:
    ours = variants["loopbridge lint (engine)"]
    cli = variants["loopbridge lint (CLI)"]
    ratios: dict[str, float] = {}
    flake8 = variants.get("flake8 + flake8-async", {})
    if "lines_per_s" in flake8:
        ratios["engine_vs_flake8_async_lines_per_s"] = ours["lines_per_s"] / flake8["lines_per_s"]
        ratios["cli_vs_flake8_async_lines_per_s"] = cli["lines_per_s"] / flake8["lines_per_s"]
    ruff = variants.get("ruff --select ASYNC", {})
    if "lines_per_s" in ruff:
        ratios["engine_vs_ruff_lines_per_s"] = ours["lines_per_s"] / ruff["lines_per_s"]
    floor = variants["ast.parse floor"]["median_s"]
    strict = variants["ast.parse floor (gc paused)"]["median_s"]
    ratios["engine_time_vs_parse_floor"] = ours["median_s"] / floor
    ratios["engine_time_vs_parse_floor_gc_paused"] = ours["median_s"] / strict
    ratios["cli_time_vs_parse_floor"] = cli["median_s"] / floor
    targets = {
        "at_least_5x_flake8_async": ratios.get("engine_vs_flake8_async_lines_per_s", 0) >= 5,
        "within_2x_parse_floor": ratios["engine_time_vs_parse_floor"] <= 2,
    }
    return ratios, targets


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of a :func:`run_lint_bench` report."""
    title = (f"{report['files']} files, {report['lines']} lines, {report['repeat']} "
             "interleaved runs each")
    head = (f"{'variant':<30} {'median s':>9} {'min s':>8} {'max s':>8} "
            f"{'lines/s':>10}")
    out = [title, "", head]
    for name, row in report["variants"].items():
        if "error" in row:
            out.append(f"{name:<30} {row['error']}")
            continue
        out.append(f"{name:<30} {row['median_s']:>9.3f} {row['min_s']:>8.3f} "
                   f"{row['max_s']:>8.3f} {row['lines_per_s']:>10.0f}")
    out.append("")
    out.extend(f"{name:<42} {value:>8.2f}" for name, value in report["ratios"].items())
    out.extend(f"target {name:<35} {'met' if ok else 'NOT met'}"
               for name, ok in report["targets"].items())
    return "\n".join(out) + "\n"
