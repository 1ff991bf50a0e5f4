"""Serving the monitor under a real WSGI server (waitress) and stopping it cleanly.

:class:`AppServer` wraps ``waitress.create_server`` on 127.0.0.1: it reports the bound port,
serves in the calling thread (or a background thread), and stops on SIGINT/SIGTERM or
:meth:`AppServer.stop`, giving requests in flight a grace period. The demo uses it, and
``python -m legacy_app.server`` runs the app alone (the tests start it that way)::

    python -m legacy_app.server --port 8000 --db /tmp/monitor.sqlite3 --allow 127.0.0.1
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click
from flask import Flask
from waitress import create_server

logger = logging.getLogger(__name__)

#: Largest request body waitress reads for an app without ``MAX_CONTENT_LENGTH``.
DEFAULT_MAX_BODY = 1024 * 1024

#: The line printed once the server accepts connections.
READY_PREFIX = "legacy_app serving on "


class AppServer:
    """A waitress server for ``app`` on 127.0.0.1.

    Args:
        app: the WSGI app.
        port: TCP port, 0 for a free one (read ``.port`` afterwards).
        threads: waitress worker threads.
        grace: seconds requests in flight get to finish at stop.

    A request body larger than the app's ``MAX_CONTENT_LENGTH`` (1 MiB if unset) is
    answered 413 by waitress from its headers, before any of it is buffered.
    """

    def __init__(self, app: Flask, port: int = 8000, *, threads: int = 16, grace: float = 5.0) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in 0..65535, got {port!r}")
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive int, got {threads!r}")
        # waitress would read (and buffer) a body of up to 1 GiB before the app could refuse
        # it: give it the app's own limit, so a larger body is refused on its headers.
        max_body = app.config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BODY
        try:
            self._server: Any = create_server(app, host="127.0.0.1", port=port, threads=threads,
                                              ident="legacy_app", channel_timeout=300,
                                              max_request_body_size=int(max_body) + 1)
        except OSError as exc:
            raise OSError(f"cannot listen on 127.0.0.1:{port} ({exc}); pick another port or 0") from exc
        self._grace = grace
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` (or a KeyboardInterrupt)."""
        server = self._server
        try:
            # waitress's own run() would wait a fixed 5 s for busy workers on Ctrl-C;
            # run its loop directly so the grace period is ours.
            server.asyncore.loop(timeout=server.adj.asyncore_loop_timeout, map=server._map,
                                 use_poll=server.adj.asyncore_use_poll)
        except (SystemExit, KeyboardInterrupt):
            logger.info("stopping: giving requests in flight %.1f s", self._grace)
        finally:
            self._close()

    def start_in_thread(self) -> AppServer:
        """Serve in a background thread; return at once."""
        self._thread = threading.Thread(target=self.serve_forever, name="legacy_app-waitress", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop: let requests in flight finish (up to ``grace``), then close; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=self._grace)
        # The channel map belongs to the serving thread: have it close everything itself,
        # which empties the map and so ends waitress's loop.
        self._server.trigger.pull_trigger(self._close_channels)
        if self._thread is not None:
            self._thread.join(self._grace + 5)

    def _close(self) -> None:
        """After the loop: finish the workers, close whatever is still open."""
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=self._grace)
        self._close_channels()
        self._stopped = True

    def _close_channels(self) -> None:
        """Close the listening socket, the trigger and every client connection."""
        for channel in list(self._server._map.values()):
            try:
                channel.close()
            except OSError:  # already closed by the peer
                pass


class Shutdown(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM, so waitress stops as it does on Ctrl-C."""


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise :class:`Shutdown` (a KeyboardInterrupt)."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Shutdown(f"received signal {signum}")

    # SIGINT too: a shell starting us in the background leaves SIGINT ignored.
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.command(name="serve")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--db", "database", type=click.Path(dir_okay=False), default=None,
              help="SQLite file (default: in the instance folder).")
@click.option("--threads", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--allow", "ssrf_allow", multiple=True, help="Host or network the SSRF guard allows.")
@click.option("--grace", type=click.FloatRange(0, 600), default=5.0, show_default=True,
              help="Seconds requests in flight get to finish at shutdown.")
@click.option("--config", "config_json", default=None, help="Extra settings as a JSON object.")
def serve_command(port: int, database: str | None, threads: int, ssrf_allow: tuple[str, ...],
                  grace: float, config_json: str | None) -> None:
    """Serve the uptime monitor on 127.0.0.1 with waitress until Ctrl-C or SIGTERM."""
    from legacy_app import create_app

    config: dict[str, Any] = json.loads(config_json) if config_json else {}
    if not isinstance(config, dict):
        raise click.BadParameter("--config must be a JSON object", param_hint="--config")
    if database:
        config["DATABASE"] = database
    if ssrf_allow:
        config["SSRF_ALLOW"] = list(ssrf_allow)
    server = AppServer(create_app(config), port, threads=threads, grace=grace)
    click.echo(f"{READY_PREFIX}{server.url}")  # flushed: click.echo flushes stdout
    with stop_on_signals():
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    click.echo("legacy_app stopped")


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess
    serve_command(prog_name="python -m legacy_app.server")
