"""``loopbridge demo``: the monitor, a few hundred fake sites, both checkers, one command.

It starts the upstream simulator in a child process, serves the monitor with waitress on
127.0.0.1 (port 8000 by default), seeds one site per simulated site, runs a check-all with
the legacy checker and one with the bridged checker, and prints both durations; the
dashboard then shows them side by side. Ctrl-C or SIGTERM stops everything.
``--check-once`` runs the two checks, prints the figures and exits (a CI smoke test).
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click
import requests

from legacy_app import storage
from legacy_app.db import open_database, transaction
from legacy_app.server import AppServer, stop_on_signals
from legacy_app.simulator import Simulator

logger = logging.getLogger(__name__)


def seed_sites(conn: sqlite3.Connection, sim: Simulator, count: int) -> int:
    """Replace the sites of earlier demo runs with ``count`` sites of this simulator."""
    if not 0 <= count <= sim.sites:
        raise ValueError(f"count must be in 0..{sim.sites}, got {count}")
    with transaction(conn):
        conn.execute("DELETE FROM sites WHERE url LIKE 'http://127.0.0.1:%/sites/%'")
        conn.executemany("INSERT INTO sites (url, name) VALUES (?, ?)",
                         [(url, f"Virtual site {i:03d}") for i, url in enumerate(sim.site_urls(count))])
    return len(storage.list_sites(conn))


def run_checks(base_url: str, checkers: tuple[str, ...] = ("legacy", "bridge")) -> dict[str, dict[str, Any]]:
    """Ask the running app for one check-all per checker (through its JSON API)."""
    runs: dict[str, dict[str, Any]] = {}
    for checker in checkers:
        click.echo(f"  check-all with the {checker} checker ...", nl=False)
        resp = requests.post(f"{base_url}/api/check-all", json={"checker": checker}, timeout=900)
        resp.raise_for_status()
        runs[checker] = resp.json()
        run = runs[checker]
        click.echo(f" {run['recorded']} sites in {run['duration_ms'] / 1000:.2f} s "
                   f"({run['ok_count']} up)")
    if "legacy" in runs and "bridge" in runs and runs["bridge"]["duration_ms"]:
        ratio = runs["legacy"]["duration_ms"] / runs["bridge"]["duration_ms"]
        click.echo(f"  the bridged checker was {ratio:.1f}x faster")
    return runs


def _app_config(db_path: Path, concurrency: int, timeout: float) -> dict[str, Any]:
    return {"DATABASE": str(db_path), "INSTANCE_PATH": str(db_path.parent),
            "SSRF_ALLOW": ["127.0.0.1"], "CHECK_CONCURRENCY": concurrency, "CHECK_TIMEOUT": timeout}


@click.command(name="demo")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port of the monitor on 127.0.0.1 (0 picks a free one).")
@click.option("--sites", type=click.IntRange(1, 10_000), default=300, show_default=True,
              help="Number of simulated sites to seed.")
@click.option("--latency-ms", type=click.FloatRange(0, 10_000), default=25.0, show_default=True,
              help="Typical latency of a simulated site.")
@click.option("--concurrency", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="Checks in flight for the bridged checker.")
@click.option("--timeout", type=click.FloatRange(0.1, 300), default=5.0, show_default=True,
              help="Seconds per site check.")
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite file to use (default: a new one in a temporary folder).")
@click.option("--check-once", is_flag=True, help="Run both checkers once, print the figures, exit.")
def demo_command(port: int, sites: int, latency_ms: float, concurrency: int, timeout: float,
                 db: Path | None, check_once: bool) -> None:
    """Run the uptime monitor against simulated sites, legacy checker vs bridged one."""
    tmp = None if db else Path(tempfile.mkdtemp(prefix="loopbridge-demo-"))
    db_path = (db or tmp / "monitor.sqlite3").resolve()  # type: ignore[operator]
    sim = Simulator(sites=sites, latency_ms=latency_ms, in_thread=False)
    server: AppServer | None = None
    try:
        with stop_on_signals():
            server = _start(sim, db_path, port, sites, concurrency, timeout)
            click.echo(f"Uptime monitor: {server.url}/   (database {db_path})")
            run_checks(server.url)
            if not check_once:
                click.echo(f"Open {server.url}/ in a browser. Press Ctrl-C to stop.")
                threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("\nstopping ...")
    finally:
        if server is not None:
            server.stop()
        sim.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    click.echo("stopped")


def _start(sim: Simulator, db_path: Path, port: int, sites: int, concurrency: int,
           timeout: float) -> AppServer:
    """Start the simulator, seed the database, build the app and serve it in a thread."""
    from legacy_app import create_app

    started = time.perf_counter()
    sim.start()
    click.echo(f"Simulator: {sim.base_url} ({sites} sites)")
    conn = open_database(db_path)
    try:
        count = seed_sites(conn, sim, sites)
    finally:
        conn.close()
    app = create_app(_app_config(db_path, concurrency, timeout))
    try:
        server = AppServer(app, port, threads=16)
    except OSError as exc:
        raise click.ClickException(f"{exc}; try --port 0") from None
    server.start_in_thread()
    logger.info("demo up in %.2f s with %d sites", time.perf_counter() - started, count)
    return server


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess
    demo_command(prog_name="python -m legacy_app.demo")
