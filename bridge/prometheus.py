"""Prometheus for a fleet: every worker of a host in one scrape (``pip install loopbridge[prometheus]``).

Turn the figures on per app with ``LOOPBRIDGE_METRICS_URL = "/metrics"`` (recorded and served
by the app) or ``LOOPBRIDGE_PROMETHEUS = True`` (recorded; served by :func:`serve_metrics`).
With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before
the server starts, and let gunicorn clean up after its workers::

    # gunicorn.conf.py
    from bridge.prometheus import child_exit, on_starting  # gunicorn calls these hooks by name

    workers = 4

Any worker's ``/metrics`` then answers for all the workers of its host (counters summed,
in-flight gauges summed over live workers, histograms merged), and a Prometheus server scraping
each host sees the fleet. docs/deploying.md has the whole setup; the metrics are listed in
``bridge._prometheus`` and ``async_core._metrics_mp``.
"""

from __future__ import annotations

import glob
import os
from typing import Any

from async_core._metrics_mp import prometheus_client_module

from ._prometheus import metrics_text

__all__ = ["child_exit", "mark_process_dead", "metrics_text", "on_starting", "serve_metrics"]


def _multiproc_dir(caller: str) -> str:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        raise RuntimeError(
            f"{caller} needs PROMETHEUS_MULTIPROC_DIR: set it to an empty directory in the server's "
            "environment before it starts (export PROMETHEUS_MULTIPROC_DIR=/run/myapp-metrics)."
        )
    return path


def mark_process_dead(pid: int) -> None:
    """Drop the live gauges of a worker that exited (its counters keep counting for the host)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise TypeError(f"mark_process_dead() needs a process id (a positive int), got {pid!r}.")
    path = _multiproc_dir("mark_process_dead()")
    prometheus_client_module()
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, path)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook: the exited worker's live gauges leave the host's figures."""
    pid = getattr(worker, "pid", None)
    if not isinstance(pid, int):
        raise TypeError(f"child_exit(server, worker) needs gunicorn's worker object (with a pid), got {worker!r}.")
    mark_process_dead(pid)


def on_starting(server: Any) -> None:
    """gunicorn's ``on_starting`` hook: empty ``PROMETHEUS_MULTIPROC_DIR`` of an earlier run's files.

    The files of a previous master's workers would otherwise be summed into this run's figures.
    """
    path = _multiproc_dir("on_starting()")
    os.makedirs(path, exist_ok=True)
    for name in glob.glob(os.path.join(path, "*.db")):
        os.remove(name)


def serve_metrics(port: int, addr: str = "127.0.0.1") -> None:
    """Serve :func:`metrics_text` on ``addr:port`` from a thread of this process.

    Meant for gunicorn's ``when_ready`` hook (the master serves every worker's figures on one
    port, apart from the app)::

        def when_ready(server):
            serve_metrics(9101, "0.0.0.0")
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"serve_metrics() needs a TCP port (0-65535), got {port!r}.")
    if not isinstance(addr, str) or not addr:
        raise TypeError(f"serve_metrics() needs an address to listen on, such as '0.0.0.0', got {addr!r}.")
    pc = prometheus_client_module()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = pc.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        pc.start_http_server(port, addr=addr, registry=registry)
    else:
        pc.start_http_server(port, addr=addr)
