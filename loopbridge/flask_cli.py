"""``flask loopbridge …``: the Flask CLI group of loopbridge (``flask.commands`` entry point).

``flask loopbridge stats`` prints the loop's figures — lag, stalls with the last stall's stack,
bridged calls in flight, and each resource's own figures (HTTP pool use among them) — as text
or, with ``--json``, as the same JSON the stats endpoint (``LOOPBRIDGE_STATS_URL``) serves.

A ``flask`` command runs in its own process, whose loop is not the server's. ``--url`` reads a
running server's stats endpoint instead, e.g.
``flask loopbridge stats --url http://127.0.0.1:5000/_loopbridge/stats``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click
from flask.cli import AppGroup

__all__ = ["format_stats", "loopbridge_cli"]

loopbridge_cli = AppGroup("loopbridge", help="loopbridge: the shared event loop of this app.")


@loopbridge_cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON (as the stats endpoint does).")
@click.option("--url", default=None, metavar="URL", help="Read a running server's stats endpoint instead of this process.")
@click.option("--timeout", default=5.0, show_default=True, type=float, help="Seconds to wait for --url.")
def stats_command(as_json: bool, url: str | None, timeout: float) -> None:
    """Show loop lag, stalls (with the last stack), bridged calls in flight and HTTP pool use."""
    data = _fetch(url, timeout) if url else _local_stats()
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        return
    click.echo(format_stats(data))
    if not url and data.get("state") in ("new", "stopped"):
        click.echo(
            "\nnote: this process's loop has not run. To see a running server's figures, enable "
            "LOOPBRIDGE_STATS_URL and pass --url http://HOST:PORT<that path>."
        )


def _local_stats() -> dict[str, Any]:
    from async_core import default_loop

    from bridge._process import process_info
    from bridge._stats import collect_stats

    data = collect_stats(default_loop())
    data["process"] = process_info()
    return data


def _fetch(url: str, timeout: float) -> dict[str, Any]:
    import requests

    try:
        response = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise click.ClickException(
            f"could not read loopbridge stats from {url}: {exc}. Check the server runs and that the URL "
            "is its LOOPBRIDGE_STATS_URL path."
        ) from exc
    if not isinstance(data, dict):
        raise click.ClickException(f"{url} did not answer with a JSON object; is it the LOOPBRIDGE_STATS_URL path?")
    return data


# -- text rendering (pure) ------------------------------------------------------------------
def format_stats(data: dict[str, Any]) -> str:
    """Render :func:`bridge._stats.collect_stats` output as a short, readable report."""
    calls = (
        f"bridged calls: {data.get('inflight')} in flight, {data.get('queued')} queued "
        f"(limit {data.get('max_inflight')}, queue timeout {data.get('queue_timeout_s')} s)"
    )
    lines = [f"loopbridge loop {data.get('thread')!r} (pid {data.get('pid')}): {data.get('state')}", calls]
    lines += _format_process(data.get("process"))
    resources = dict(data.get("resources") or {})
    lines += _format_watchdog(resources.pop("watchdog", None), data)
    for key, figures in sorted(resources.items()):
        lines.append(f"{key}:")
        lines += [f"  {name}: {_short(value)}" for name, value in sorted(figures.items())] if isinstance(figures, dict) else [f"  {figures}"]
    return "\n".join(lines)


def _format_process(process: Any) -> list[str]:
    if not isinstance(process, dict):
        return []
    server = process.get("server") or "no known WSGI server"
    workers = process.get("workers")
    where = f"process: pid {process.get('pid')} on {process.get('host')}, {server}"
    where += f", {workers} worker(s)" if workers else ""
    return [where, f"  {process['note']}"] if process.get("note") else [where]


def _format_watchdog(wd: Any, data: dict[str, Any]) -> list[str]:
    if not isinstance(wd, dict):
        why = "off (LOOPBRIDGE_WATCHDOG_MS=0)" if not data.get("watchdog_ms") else "not running (the loop has not started)"
        return [f"watchdog: {why}"]
    strict = "on" if wd.get("strict") else "off"
    stopped = "" if wd.get("running") else ", stopped"
    lag = (
        f"  loop lag: recent {wd.get('recent_lag_ms')} ms, worst {wd.get('worst_lag_ms')} ms, "
        f"now {wd.get('current_lag_ms')} ms ({wd.get('heartbeats')} heartbeats)"
    )
    now = " (the loop is stalled right now)" if wd.get("stalled_now") else ""
    lines = [
        f"watchdog: threshold {wd.get('threshold_ms'):g} ms, strict {strict}{stopped}",
        lag,
        f"  stalls: {wd.get('stalls')}{now}",
    ]
    histogram = wd.get("lag_histogram") or {}
    # JSON (and Flask's jsonify) sort keys as text, "<=1000ms" before "<=100ms": put them back in
    # numeric order of their bounds, the open-ended ">…" bucket last
    ordered = sorted(histogram.items(), key=lambda item: _bucket_bound(item[0]))
    used = [f"{bucket} {count}" for bucket, count in ordered if count]
    lines.append(f"  lag histogram: {', '.join(used) if used else 'empty'}")
    by_route = wd.get("stalls_by_route") or {}
    if by_route:
        lines.append("  stalls by request:")
        lines += [f"    {count:>5}  {route}" for route, count in sorted(by_route.items(), key=lambda item: -item[1])]
    stack = wd.get("last_stall_stack")
    if stack:
        lines.append("  last stall:")
        lines += [f"    {line}" for line in str(stack).splitlines()]
    return lines


def _bucket_bound(label: str) -> tuple[int, float]:
    """Sort key of a lag-histogram label such as ``"<=250ms"`` or ``">5000ms"``."""
    number = re.sub(r"[^0-9.]", "", label)
    try:
        bound = float(number)
    except ValueError:
        return (2, 0.0)
    return (1 if label.startswith(">") else 0, bound)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= 200 else text[:197] + "..."
