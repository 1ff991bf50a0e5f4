"""The loop's figures as ``prometheus_client`` metrics that add up across worker processes.

:class:`async_core.prometheus.LoopCollector` reads one process's loop at scrape time, which
``prometheus_client``'s multiprocess mode cannot do (a scrape there reads the files every worker
wrote, never the workers themselves). So each process copies its loop's figures into ordinary
metric objects, which in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set) live in that
directory: a daemon thread, ``loopbridge-metrics``, one per process and started again after a
fork, every ``interval`` seconds (and :func:`sync_loop_metrics` on demand, before a scrape).

Each figure has the aggregation that means something for a host:

=============================================  =========  ==================  ============================
metric                                         type       multiprocess mode   what
=============================================  =========  ==================  ============================
``loopbridge_bridged_calls_in_flight``         gauge      livesum             calls running on the loops
``loopbridge_bridged_calls_queued``            gauge      livesum             callers waiting for a slot
``loopbridge_bridged_calls_limit``             gauge      livemax             ``max_inflight`` of one loop
``loopbridge_overload_refusals_total``         counter    summed              refused with ``Overloaded``
``loopbridge_stalls_total{route}``             counter    summed              stalls, by request
``loopbridge_loop_lag_seconds``                histogram  merged              lateness of watchdog ticks
``loopbridge_http_connections{state}``         gauge      livesum             pool ``in_use`` / ``idle``
``loopbridge_http_requests_total``             counter    summed              upstream requests
``loopbridge_http_errors_total``               counter    summed              upstream requests that failed
``loopbridge_process{host}``                   gauge      liveall (per pid)   1 per live process
=============================================  =========  ==================  ============================

Counters survive their process (a recycled worker's requests still count); the ``live*``
gauges drop a process once it is marked dead (gunicorn's ``child_exit`` hook:
``bridge.prometheus.child_exit``). The names are the collector's, so dashboards do not change
between one process and many; register one or the other on a registry, not both.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from ._loop import default_loop
from ._stall import HISTOGRAM_BOUNDS_MS
from ._stats import loop_stats

__all__ = ["LoopMetrics", "loop_metrics", "start_loop_metrics", "sync_loop_metrics"]

logger = logging.getLogger(__name__)

#: seconds between two copies of the loop's figures into the metrics
DEFAULT_INTERVAL = 1.0


def prometheus_client_module() -> Any:
    """``prometheus_client``, or an ImportError naming the extra to install."""
    try:
        import prometheus_client
    except ImportError:
        raise ImportError(
            "Prometheus metrics need prometheus_client: install loopbridge[prometheus] "
            "(pip install 'loopbridge[prometheus]')."
        ) from None
    return prometheus_client


class LoopMetrics:
    """The metric objects of the loop figures, created once per registry (see the module doc)."""

    def __init__(self, registry: Any = None) -> None:
        pc = prometheus_client_module()
        kw: dict[str, Any] = {} if registry is None else {"registry": registry}
        self.inflight = pc.Gauge("loopbridge_bridged_calls_in_flight", "Bridged calls running on the loop.",
                                 multiprocess_mode="livesum", **kw)
        self.queued = pc.Gauge("loopbridge_bridged_calls_queued", "Callers waiting for an in-flight slot.",
                               multiprocess_mode="livesum", **kw)
        self.limit = pc.Gauge("loopbridge_bridged_calls_limit", "The in-flight bound of one loop (max_inflight).",
                              multiprocess_mode="livemax", **kw)
        self.refusals = pc.Counter("loopbridge_overload_refusals", "Bridged calls refused with Overloaded.", **kw)
        self.stalls = pc.Counter("loopbridge_stalls", "Loop stalls past the watchdog threshold, by request.",
                                 ["route"], **kw)
        self.lag = pc.Histogram("loopbridge_loop_lag_seconds", "How late each watchdog tick ran on the loop.",
                                buckets=[bound / 1000.0 for bound in HISTOGRAM_BOUNDS_MS], **kw)
        self.connections = pc.Gauge("loopbridge_http_connections", "Connections of the HTTP client's pool.",
                                    ["state"], multiprocess_mode="livesum", **kw)
        self.http_requests = pc.Counter("loopbridge_http_requests", "Upstream requests made by the HTTP client.", **kw)
        self.http_errors = pc.Counter("loopbridge_http_errors", "Upstream requests that failed.", **kw)
        self.process = pc.Gauge("loopbridge_process", "1 for each live process with a loopbridge loop.",
                                ["host"], multiprocess_mode="liveall", **kw)
        self._seen: dict[str, float] = {}
        self._seen_lag: list[int] = []
        self._lock = threading.Lock()
        self.listeners: list[Callable[[dict[str, Any] | None], None]] = []

    def sync(self) -> None:
        """Copy the default loop's figures into the metrics now (any thread; never waits on the loop)."""
        stats = loop_stats(default_loop())
        with self._lock:
            self.process.labels(socket.gethostname()).set(1)
            self.inflight.set(stats.inflight)
            self.queued.set(stats.queued)
            self.limit.set(stats.max_inflight)
            self._count(self.refusals, "refused", stats.refused)
            wd = stats.watchdog if isinstance(stats.watchdog, dict) and "lag_histogram" in stats.watchdog else None
            if wd is not None:
                self._sync_watchdog(wd)
            http = stats.http if isinstance(stats.http, dict) and "connections_in_use" in stats.http else None
            if http is not None:
                self.connections.labels("in_use").set(http["connections_in_use"])
                self.connections.labels("idle").set(http.get("connections_idle", 0))
                self._count(self.http_requests, "http.requests", http.get("requests", 0))
                self._count(self.http_errors, "http.errors", http.get("errors", 0))
            for listener in list(self.listeners):
                listener(wd)

    def _count(self, counter: Any, key: str, total: float) -> None:
        """Add to ``counter`` what ``total`` grew by since the last sync (a restarted loop starts at 0)."""
        before = self._seen.get(key, 0.0)
        delta = total - before if total >= before else total
        self._seen[key] = total
        if delta > 0:
            counter.inc(delta)

    def _sync_watchdog(self, wd: dict[str, Any]) -> None:
        for route, count in wd.get("stalls_by_route", {}).items():
            self._count(self.stalls.labels(str(route)), f"stalls.{route}", count)
        counts = [int(c) for c in wd["lag_histogram"].values()]
        before = self._seen_lag if len(self._seen_lag) == len(counts) else [0] * len(counts)
        if any(now < then for now, then in zip(counts, before, strict=True)):
            before = [0] * len(counts)  # a new watchdog (the loop restarted)
        deltas = [now - then for now, then in zip(counts, before, strict=True)]
        self._seen_lag = counts
        lag_sum = float(wd.get("lag_sum_ms", 0.0)) / 1000.0
        previous_sum = self._seen.get("lag_sum", 0.0)
        sum_delta = lag_sum - previous_sum if lag_sum >= previous_sum else lag_sum
        self._seen["lag_sum"] = lag_sum
        if any(deltas):
            add_to_histogram(self.lag, deltas, sum_delta)


def add_to_histogram(histogram: Any, deltas: list[int], sum_delta: float) -> None:
    """Add whole bucket counts (one per bucket, +Inf last) and their sum to a Histogram.

    The watchdog already counts its ticks per bucket; observing each tick again would cost a
    call per tick and lose the exact sum. prometheus_client keeps a histogram as per-bucket
    values and a sum (``_buckets``, ``_sum``, the same in every release since 0.4); where
    those are not found, each tick is observed at its bucket's upper bound instead.
    """
    buckets, total = getattr(histogram, "_buckets", None), getattr(histogram, "_sum", None)
    if isinstance(buckets, list) and len(buckets) == len(deltas) and total is not None:
        for value, delta in zip(buckets, deltas, strict=True):
            if delta:
                value.inc(delta)
        total.inc(max(sum_delta, 0.0))
        return
    bounds = [bound / 1000.0 for bound in HISTOGRAM_BOUNDS_MS] + [HISTOGRAM_BOUNDS_MS[-1] / 500.0]
    for bound, delta in zip(bounds, deltas, strict=False):
        for _ in range(min(delta, 10_000)):
            histogram.observe(bound)


# -- one per process ------------------------------------------------------------------------
_metrics: LoopMetrics | None = None
_metrics_lock = threading.Lock()
_syncer: tuple[int, threading.Thread, threading.Event] | None = None


def loop_metrics(registry: Any = None) -> LoopMetrics:
    """The process's :class:`LoopMetrics` (created on first call, on ``registry`` or the default)."""
    global _metrics
    with _metrics_lock:
        if _metrics is None:
            _metrics = LoopMetrics(registry)
        return _metrics


def sync_loop_metrics() -> None:
    """Copy the loop's figures into the metrics now (e.g. before answering a scrape)."""
    loop_metrics().sync()


def start_loop_metrics(interval: float = DEFAULT_INTERVAL) -> LoopMetrics:
    """Start this process's ``loopbridge-metrics`` thread (idempotent; again in a forked child)."""
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0.05 <= interval <= 3600:
        raise ValueError(f"interval must be seconds between 0.05 and 3600, got {interval!r}.")
    global _syncer
    metrics = loop_metrics()
    with _metrics_lock:
        if _syncer is not None and _syncer[0] == os.getpid() and _syncer[1].is_alive():
            return metrics
        stop = threading.Event()
        thread = threading.Thread(target=_sync_forever, args=(metrics, float(interval), stop),
                                  name="loopbridge-metrics", daemon=True)
        _syncer = (os.getpid(), thread, stop)
        thread.start()
    return metrics


def stop_loop_metrics() -> None:
    """Stop this process's metrics thread, if it runs (tests; a process exits without it)."""
    global _syncer
    with _metrics_lock:
        found, _syncer = _syncer, None
    if found is not None and found[0] == os.getpid():
        found[2].set()
        found[1].join(5)


def _after_fork_in_child() -> None:
    # the metrics thread did not survive the fork, and may have held these locks when it happened
    global _metrics_lock, _syncer
    _metrics_lock, _syncer = threading.Lock(), None
    if _metrics is not None:
        _metrics._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _sync_forever(metrics: LoopMetrics, interval: float, stop: threading.Event) -> None:
    while True:
        try:
            metrics.sync()
        except Exception:  # one bad figure must not end the figures for good
            logger.exception("loopbridge: copying the loop's figures into the Prometheus metrics failed")
        if stop.wait(interval):
            return
