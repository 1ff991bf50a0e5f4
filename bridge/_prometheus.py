"""Per-endpoint figures as ``prometheus_client`` metrics, and their exposition for a whole host.

On when ``LOOPBRIDGE_PROMETHEUS`` or ``LOOPBRIDGE_METRICS_URL`` is set. Each finished request
adds to the same figures the stats endpoint serves (``endpoints``), and to these metrics:

================================================  =========  =====================================
metric                                            type       what, per Flask endpoint
================================================  =========  =====================================
``loopbridge_request_duration_seconds{endpoint}``  histogram  wall time (``_count``: requests)
``loopbridge_request_bridged_seconds_total``       counter    time spent waiting in bridged calls
``loopbridge_request_bridged_calls_total``         counter    bridged calls made
``loopbridge_request_stalls_total``                counter    loop stalls blamed on its requests
``loopbridge_request_blocked_seconds_total``       counter    worker time blocked off the loop,
                                                             where a sampler measures it
================================================  =========  =====================================

with the loop's own figures (:mod:`async_core._metrics_mp`). Under ``PROMETHEUS_MULTIPROC_DIR``
every worker writes its values into that directory and any worker's ``/metrics`` (or the
gunicorn master's, :func:`bridge.prometheus.serve_metrics`) answers for all of them.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from async_core._metrics_mp import loop_metrics, prometheus_client_module, start_loop_metrics, sync_loop_metrics

from ._flask_stats import EndpointFigures, endpoint_counts

__all__ = ["PrometheusFigures", "metrics_text", "route_metrics"]

#: wall-time buckets (seconds) of a request: a fast JSON view to a slow report page
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class RouteMetrics:
    """The per-endpoint metric objects, one set per process."""

    def __init__(self) -> None:
        pc = prometheus_client_module()
        self.duration = pc.Histogram("loopbridge_request_duration_seconds", "Wall time of requests, by endpoint.",
                                     ["endpoint"], buckets=DURATION_BUCKETS)
        self.bridged = pc.Counter("loopbridge_request_bridged_seconds",
                                  "Time requests spent waiting in bridged calls, by endpoint.", ["endpoint"])
        self.calls = pc.Counter("loopbridge_request_bridged_calls", "Bridged calls made by requests, by endpoint.",
                                ["endpoint"])
        self.stalls = pc.Counter("loopbridge_request_stalls", "Loop stalls blamed on requests, by endpoint.",
                                 ["endpoint"])
        self.blocked = pc.Counter("loopbridge_request_blocked_seconds",
                                  "Worker time blocked off the loop, by endpoint, where it is measured.", ["endpoint"])
        self._stalls_seen: dict[str, int] = {}
        loop_metrics().listeners.append(self._sync_stalls)

    def _sync_stalls(self, watchdog: dict[str, Any] | None) -> None:
        counts = endpoint_counts(watchdog.get("stalls_by_route") or {}) if watchdog else {}
        for endpoint, total in counts.items():
            before = self._stalls_seen.get(endpoint, 0)
            delta = total - before if total >= before else total
            self._stalls_seen[endpoint] = total
            if delta > 0:
                self.stalls.labels(endpoint).inc(delta)


_routes: RouteMetrics | None = None
_routes_lock = threading.Lock()


def route_metrics() -> RouteMetrics:
    """The process's :class:`RouteMetrics` (created on first call)."""
    global _routes
    with _routes_lock:
        if _routes is None:
            _routes = RouteMetrics()
        return _routes


class _Recorder:
    """One endpoint's metric values, written directly.

    ``Histogram.observe`` and ``Counter.inc`` check their arguments and exemplars on every call
    (7 and 3.4 us here in multiprocess mode, 14 us a request in all); the values underneath are
    what they end up writing (1.3 us each). prometheus_client has kept a histogram as ``_sum``,
    ``_buckets`` and ``_upper_bounds`` and a counter as ``_value`` since 0.4; where they are not
    found, the public calls are used.
    """

    __slots__ = ("_bridged", "_bounds", "_buckets", "_calls", "_duration", "_fast", "_sum")

    def __init__(self, duration: Any, bridged: Any, calls: Any) -> None:
        self._duration, self._bridged, self._calls = duration, bridged, calls
        self._sum = getattr(duration, "_sum", None)
        self._buckets = getattr(duration, "_buckets", None)
        self._bounds = getattr(duration, "_upper_bounds", None)
        values = (self._sum, getattr(bridged, "_value", None), getattr(calls, "_value", None))
        self._fast = (all(hasattr(v, "inc") for v in values) and isinstance(self._buckets, list)
                      and isinstance(self._bounds, list) and len(self._bounds) == len(self._buckets))
        if self._fast:
            self._bridged, self._calls = bridged._value, calls._value

    def record(self, total_s: float, bridged_s: float, calls: float) -> None:
        if not self._fast:
            self._duration.observe(total_s)
        else:
            self._sum.inc(total_s)  # type: ignore[union-attr]
            for index, bound in enumerate(self._bounds):  # type: ignore[arg-type]
                if total_s <= bound:
                    self._buckets[index].inc(1)  # type: ignore[index]
                    break
        if bridged_s > 0:
            self._bridged.inc(bridged_s)
        if calls > 0:
            self._calls.inc(calls)


class PrometheusFigures(EndpointFigures):
    """:class:`EndpointFigures` that also feed the Prometheus metrics (and start the loop's)."""

    __slots__ = ("_metrics", "_pid", "_recorders")

    def __init__(self) -> None:
        super().__init__()
        self._metrics = route_metrics()
        self._recorders: dict[str, _Recorder] = {}
        self._pid = -1

    def add(self, endpoint: str, total_s: float, bridged_s: float, calls: float) -> None:
        """Count one finished request to ``endpoint`` (any thread)."""
        super().add(endpoint, total_s, bridged_s, calls)
        if self._pid != os.getpid():  # first request of this process (a new worker): its figures' thread
            self._pid = os.getpid()
            start_loop_metrics()
        recorder = self._recorders.get(endpoint)
        if recorder is None:
            m = self._metrics
            recorder = self._recorders[endpoint] = _Recorder(
                m.duration.labels(endpoint), m.bridged.labels(endpoint), m.calls.labels(endpoint))
        recorder.record(total_s, bridged_s, calls)

    def add_blocked(self, endpoint: str, blocked_s: float) -> None:
        """Add worker time blocked off the loop, measured for a request to ``endpoint``."""
        if blocked_s > 0:
            self._metrics.blocked.labels(endpoint).inc(blocked_s)


def metrics_text() -> tuple[bytes, str]:
    """The exposition text and its content type: every worker's files under
    ``PROMETHEUS_MULTIPROC_DIR`` when it is set, else this process's default registry."""
    pc = prometheus_client_module()
    if _routes is not None or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        sync_loop_metrics()  # this process's loop figures are fresh in the answer
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        from prometheus_client import multiprocess

        registry = pc.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiproc_dir)
        return pc.generate_latest(registry), pc.CONTENT_TYPE_LATEST
    return pc.generate_latest(pc.REGISTRY), pc.CONTENT_TYPE_LATEST


def metrics_view() -> Any:
    """The extension's ``LOOPBRIDGE_METRICS_URL`` view: :func:`metrics_text`, to allowed clients."""
    from flask import Response, jsonify

    from ._flask_settings import current_settings
    from ._flask_stats import _stats_allowed

    if not _stats_allowed(current_settings()):
        body = jsonify(error="Forbidden", detail="the loopbridge metrics are served to loopback clients only; "
                       "set LOOPBRIDGE_STATS_ALLOW to the Prometheus server's network to widen it.")
        return body, 403
    text, content_type = metrics_text()
    return Response(text, content_type=content_type)
