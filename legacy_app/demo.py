"""``loopbridge demo``: the monitor, a few hundred fake sites, both checkers, one command.

It starts the upstream simulator in a child process, seeds one site per simulated site,
and serves the monitor with waitress on 127.0.0.1 (port 8000 by default) at once; the first
check-all with the legacy checker and then one with the bridged checker run in the
background, their progress shown on the dashboard and as a bar in the terminal. The
dashboard then shows both runs side by side. Ctrl-C or SIGTERM stops everything.
``--check-once`` runs the two checks, prints the figures and exits (a CI smoke test).
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import subprocess
import sys
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


def run_checks(base_url: str, checkers: tuple[str, ...] = ("legacy", "bridge"),
               stop: threading.Event | None = None) -> dict[str, dict[str, Any]]:
    """Ask the running app for one check-all per checker (through its JSON API).

    While each runs, a progress bar is drawn from the run's row (``/api/runs``): on a
    terminal it redraws in place, elsewhere it prints only the final line.
    """
    runs: dict[str, dict[str, Any]] = {}
    for checker in checkers:
        if stop is not None and stop.is_set():
            break
        tty = sys.stdout.isatty()
        prefix = f"  check-all with the {checker} checker ..."
        if not tty:
            click.echo(prefix, nl=False)
        runs[checker] = run = _one_check(base_url, checker, tty)
        done = f" {run['recorded']} sites in {run['duration_ms'] / 1000:.2f} s ({run['ok_count']} up)"
        click.echo(f"\r{prefix}{done}".ljust(_BAR_WIDTH + 50) if tty else done)
    if "legacy" in runs and "bridge" in runs and runs["bridge"]["duration_ms"]:
        click.echo(summary(runs["legacy"], runs["bridge"]))
    return runs


_BAR_WIDTH = 30


def _one_check(base_url: str, checker: str, tty: bool) -> dict[str, Any]:
    """POST one check-all in a thread; meanwhile draw its progress from ``/api/runs``."""
    result: dict[str, Any] = {}

    def post() -> None:
        try:
            resp = requests.post(f"{base_url}/api/check-all", json={"checker": checker}, timeout=900)
            resp.raise_for_status()
            result["run"] = resp.json()
        except Exception as exc:  # handed to the caller below  # noqa: BLE001
            result["error"] = exc

    worker = threading.Thread(target=post, name=f"demo-check-{checker}", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.2)
        if tty and worker.is_alive():
            _draw_bar(base_url, checker)
    if "error" in result:
        raise click.ClickException(f"the {checker} check-all failed: {result['error']}")
    return dict(result["run"])


def _draw_bar(base_url: str, checker: str) -> None:
    """One redraw of the terminal bar from the newest run's counters (best effort)."""
    try:
        runs = requests.get(f"{base_url}/api/runs", params={"limit": 1}, timeout=2).json()["runs"]
    except (requests.RequestException, ValueError, KeyError):
        return
    if not runs or runs[0]["status"] != "running":
        return
    done, planned = int(runs[0]["recorded"]), max(int(runs[0]["planned"]), 1)
    filled = _BAR_WIDTH * done // planned
    click.echo(f"\r  {checker:<7} [{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {done}/{planned} sites",
               nl=False)


def summary(legacy: dict[str, Any], bridge: dict[str, Any]) -> str:
    """The comparison line: whole-run speed-up, and why the up counts may differ."""
    ratio = legacy["duration_ms"] / bridge["duration_ms"]
    line = f"  the bridged checker was {ratio:.1f}x faster over the whole run"
    if legacy["ok_count"] == bridge["ok_count"]:
        return line + f"; same sites, same up count ({legacy['ok_count']})"
    return (f"{line}.\n  The up counts differ ({legacy['ok_count']} vs {bridge['ok_count']}): a few simulated "
            "sites are flaky on purpose and fail at random, whichever checker asks.")


STATS_PATH = "/_loopbridge/stats"


def _app_config(db_path: Path, concurrency: int, timeout: float) -> dict[str, Any]:
    return {"DATABASE": str(db_path), "INSTANCE_PATH": str(db_path.parent),
            "SSRF_ALLOW": ["127.0.0.1"], "CHECK_CONCURRENCY": concurrency, "CHECK_TIMEOUT": timeout,
            "LOOPBRIDGE_STATS_URL": STATS_PATH, "REPORT_PATH": str(db_path.parent / "report.html")}


def write_report(base_url: str, out: Path | None, timeout: float = 180.0) -> str | None:
    """The migration report of this app with the running server's live figures.

    Runs ``loopbridge report`` as its own process (the demo never imports the tools): the
    static half reads legacy_app's source, the live half the server's stats endpoint. With
    ``out`` it writes the HTML page there and returns its path, else it returns the text form;
    ``None`` when the report could not be made (logged).
    """
    source = Path(__file__).resolve().parent
    cmd = [sys.executable, "-m", "loopbridge.cli", "report", str(source), "--stats", f"{base_url}{STATS_PATH}"]
    cmd += ["--format", "html", "-o", str(out)] if out is not None else ["--format", "text"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("the migration report could not be made: %s", exc)
        return None
    if done.returncode != 0 or (out is not None and not out.is_file()):
        logger.warning("the migration report could not be made: %s", (done.stderr or done.stdout).strip()[-500:])
        return None
    return str(out) if out is not None else done.stdout


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
    stop = threading.Event()
    try:
        with stop_on_signals():
            server = _start(sim, db_path, port, sites, concurrency, timeout)
            click.echo(f"Uptime monitor: {server.url}/   (database {db_path})")
            if check_once:
                run_checks(server.url, stop=stop)
                report = write_report(server.url, None)
                if report is not None:  # its headline: how far the migration has come
                    click.echo("Migration report (`loopbridge report`, with this run's live figures):")
                    click.echo("\n".join(f"  {line}" for line in report.splitlines()[2:5]))
            else:
                click.echo(f"Open {server.url}/ in a browser now: the first checks run in the background "
                           "and the page shows their progress. Press Ctrl-C to stop.")
                checks = threading.Thread(target=_background_checks, args=(server.url, stop, db_path.parent / "report.html"),
                                          name="demo-first-checks", daemon=True)
                checks.start()
                threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("\nstopping ...")
    finally:
        stop.set()
        if server is not None:
            server.stop()
        sim.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    click.echo("stopped")


def _background_checks(base_url: str, stop: threading.Event, report_path: Path) -> None:
    """The demo's first check-alls, off the main thread so the page is served meanwhile."""
    try:
        run_checks(base_url, stop=stop)
    except click.ClickException as exc:
        if not stop.is_set():
            click.echo(f"\n{exc.format_message()}", err=True)
        return
    if not stop.is_set() and write_report(base_url, report_path) is not None:
        click.echo(f"Migration report of this app, with the live figures of these runs: {base_url}/report")


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
