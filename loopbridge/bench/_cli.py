"""``loopbridge bench``: every section in one run, as a table, a JSON file and a PNG chart."""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ._report import QUICK_BUDGET_S, evaluate_targets, render_tables

__all__ = ["bench_command", "run_bench"]

logger = logging.getLogger(__name__)

SECTIONS = ("roundtrip", "watchdog", "fanout", "session", "flask", "sampler", "peers", "lint")


def _roundtrip(quick: bool, upstream_url: str | None) -> dict[str, Any]:
    from .roundtrip import run_roundtrip_bench

    return run_roundtrip_bench(calls=600 if quick else 4000, repeat=3 if quick else 7)


def _watchdog(quick: bool, upstream_url: str | None) -> dict[str, Any]:
    from .watchdog import run_watchdog_bench

    return run_watchdog_bench(repeat=3 if quick else 7)


def _fanout(quick: bool, upstream_url: str | None) -> dict[str, Any]:
    from .fanout import run_fanout_bench

    return run_fanout_bench(n=400, latency_ms=25.0, concurrency=100, repeat=2 if quick else 5,
                            pairs=3 if quick else 4, serial_budget_s=1.5 if quick else 10.0,
                            upstream_url=upstream_url)


def _session(quick: bool, upstream_url: str | None) -> dict[str, Any]:
    from .session import adapter_available, run_session_bench

    if not adapter_available():
        return {"skipped": "bridge.http.LoopBridgeAdapter is not in this version"}
    return run_session_bench(threads=32, latency_ms=25.0, duration=0.6 if quick else 3.0,
                             repeat=2 if quick else 5, upstream_url=upstream_url,
                             fan_threads=(4,) if quick else (4, 32))


def _flask(quick: bool, upstream_url: str | None) -> dict[str, Any]:
    from .flask_e2e import FlaskBenchConfig, run_flask_bench

    cfg = FlaskBenchConfig(duration=1.0, repeat=1, burst_warm_up=True) if quick else FlaskBenchConfig(duration=5.0, repeat=3)
    return run_flask_bench(cfg, upstream_url=upstream_url)


def _peers(quick: bool, upstream_url: str | None) -> dict[str, Any]:
    from .peers import PeersConfig, run_peers_bench

    cfg = (PeersConfig(repeat=2, flask_duration=1.0, flask_repeat=1, hop_calls=500, hop_repeat=2, probe_timeout=1.0,
                       quick=True) if quick else PeersConfig())
    return run_peers_bench(cfg, upstream_url=upstream_url)


def _sampler(quick: bool, upstream_url: str | None) -> dict[str, Any]:
    from .flask_e2e import FlaskBenchConfig
    from .sampler import SAMPLED_ROUTES, run_sampler_bench

    rounds = FlaskBenchConfig(duration=1.0, repeat=2, routes=SAMPLED_ROUTES[:1], burst_warm_up=True) if quick else \
        FlaskBenchConfig(duration=4.0, repeat=5, routes=SAMPLED_ROUTES)
    return run_sampler_bench(rounds, upstream_url=upstream_url)


def _lint(quick: bool, upstream_url: str | None) -> dict[str, Any]:
    from .lint import run_lint_bench

    if quick:
        import importlib.util

        paths = [loc for name in ("requests",) if (spec := importlib.util.find_spec(name))
                 and spec.submodule_search_locations for loc in spec.submodule_search_locations]
        return run_lint_bench(paths, repeat=1)
    return run_lint_bench(None, repeat=3)


_RUNNERS: dict[str, Callable[[bool, str | None], dict[str, Any]]] = {
    "roundtrip": _roundtrip,
    "watchdog": _watchdog,
    "fanout": _fanout,
    "session": _session,
    "flask": _flask,
    "peers": _peers,
    "sampler": _sampler,
    "lint": _lint,
}


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def run_bench(sections: tuple[str, ...], quick: bool, upstream_url: str | None = None,
              after_section: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run the chosen sections in order; a failing section is recorded, the others still run.

    ``after_section(result)`` is called after each section with the figures so far (the command
    writes them out, so a run stopped part-way keeps what it measured).
    """
    result: dict[str, Any] = {"machine": machine(), "quick": quick, "sections": {}, "errors": {}, "timings_s": {}}
    started_all = time.monotonic()
    for name in sections:
        click.echo(f"… {name}", err=True)
        started = time.monotonic()
        try:
            result["sections"][name] = _RUNNERS[name](quick, upstream_url)
        except Exception as exc:  # one broken section must not lose the others' figures
            logger.exception("bench section %s failed", name)
            result["errors"][name] = f"{type(exc).__name__}: {exc}"
        took = result["timings_s"][name] = time.monotonic() - started
        click.echo(f"  {name} took {took:.1f}s", err=True)
        if after_section is not None:
            after_section(result)
    result["total_s"] = time.monotonic() - started_all
    result["targets"] = evaluate_targets(result["sections"])
    return result


@click.command("bench")
@click.option("--quick", is_flag=True,
              help=f"A small version of every section: under {QUICK_BUDGET_S:.0f} s on 2 CPUs (it prints how long it took).")
@click.option(
    "--section", "sections", multiple=True, type=click.Choice(SECTIONS),
    help="Run only these sections (repeatable). Default: all.",
)
@click.option("--upstream", "upstream_url", metavar="URL", default=None,
              help="Base URL of a running upstream with the routes of `python -m loopbridge.bench.upstream` "
                   "(default: the bench starts one on 127.0.0.1).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("bench-results"),
              show_default=True, help="Directory for bench.json and bench.png.")
@click.option("--no-chart", is_flag=True, help="Skip the PNG chart.")
def bench_command(quick: bool, sections: tuple[str, ...], upstream_url: str | None, out_dir: Path, no_chart: bool) -> None:
    """Measure the bridge against what you could use instead; print ratios.

    Every server it needs (its own upstream, gunicorn) is started and stopped by the command,
    on 127.0.0.1 only. Figures are medians over interleaved rounds with min–max.
    """
    if upstream_url is not None and not upstream_url.startswith(("http://", "https://")):
        raise click.BadParameter("give an http:// or https:// base URL.", param_hint="--upstream")
    chosen = sections or SECTIONS
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "bench.json"

    def write(result: dict[str, Any]) -> None:
        json_path.write_text(json.dumps(_finite(result), indent=2, default=_json_default, allow_nan=False))

    result = run_bench(tuple(chosen), quick, upstream_url, after_section=write)
    write(result)
    click.echo(render_tables(result))
    click.echo(f"\nJSON: {json_path}")
    if not no_chart:
        try:
            from ._chart import render_chart

            png = render_chart(result, out_dir / "bench.png")
            click.echo(f"chart: {png}" if png else "chart skipped: no legacy-vs-bridged scenario in these sections")
        except ImportError:
            click.echo("chart skipped: pip install 'loopbridge[bench]' for matplotlib", err=True)
    if result["errors"]:
        for name, err in result["errors"].items():
            click.echo(f"section {name} failed: {err}", err=True)
        sys.exit(1)


def _finite(value: Any) -> Any:
    """The same data with NaN / infinity as ``null`` (strict JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Path | tuple | set):
        return list(value) if not isinstance(value, Path) else str(value)
    return str(value)
