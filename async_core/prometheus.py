"""Loop figures for Prometheus: a ``prometheus_client`` collector, registered only on request.

Install the extra (``pip install loopbridge[prometheus]``) and register the collector once per
process, where the app is built; nothing is registered by default::

    from async_core.prometheus import register_collector

    register_collector()                 # the default loop, on prometheus_client's REGISTRY

then serve the registry as usual (``prometheus_client.start_http_server(9100)`` in each worker,
or ``prometheus_client.make_wsgi_app()`` mounted on a route). Every figure is read at scrape
time, from any thread, without waiting on the loop, so a stalled loop still answers.

=============================================  =========  ======================================
metric                                         type       what
=============================================  =========  ======================================
``loopbridge_loop_lag_seconds``                histogram  how late each watchdog tick ran
``loopbridge_stalls_total{route}``             counter    stalls, by the request they blocked
``loopbridge_bridged_calls_in_flight``         gauge      bridged calls running on the loop
``loopbridge_bridged_calls_queued``            gauge      callers waiting for an in-flight slot
``loopbridge_bridged_calls_limit``             gauge      ``max_inflight``
``loopbridge_overload_refusals_total``         counter    calls refused with ``Overloaded``
``loopbridge_http_connections{state}``         gauge      pool connections, ``in_use`` / ``idle``
``loopbridge_http_connections_limit``          gauge      the pool's total limit
``loopbridge_http_requests_total``             counter    upstream requests made
``loopbridge_http_errors_total``               counter    upstream requests that failed
=============================================  =========  ======================================

The lag histogram and the stalls are there while the watchdog runs; the HTTP figures once the
loop's HTTP client exists.

This collector reads one process. Under several worker processes (gunicorn, uWSGI) use
``LOOPBRIDGE_PROMETHEUS`` / ``LOOPBRIDGE_METRICS_URL`` instead: the same names, written by every
worker for ``prometheus_client``'s multiprocess mode (``bridge.prometheus``, docs/deploying.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from ._loop import LoopThread, default_loop
from ._stall import HISTOGRAM_BOUNDS_MS
from ._stats import loop_stats

__all__ = ["LoopCollector", "register_collector"]


_FAMILIES = (
    ("loopbridge_bridged_calls_in_flight", "gauge"),
    ("loopbridge_bridged_calls_queued", "gauge"),
    ("loopbridge_bridged_calls_limit", "gauge"),
    ("loopbridge_overload_refusals", "counter"),
    ("loopbridge_stalls", "counter"),
    ("loopbridge_http_connections", "gauge"),
    ("loopbridge_http_connections_limit", "gauge"),
    ("loopbridge_http_requests", "counter"),
    ("loopbridge_http_errors", "counter"),
)


def _client() -> Any:
    try:
        import prometheus_client.core
    except ImportError:
        raise ImportError(
            "the Prometheus collector needs prometheus_client: install loopbridge[prometheus] "
            "(pip install 'loopbridge[prometheus]')."
        ) from None
    return prometheus_client.core


class LoopCollector:
    """A ``prometheus_client`` collector of one loop thread's figures (see the module doc).

    Args:
        lt: the loop thread to report; ``None`` (default) follows :func:`default_loop`, also
            after a fork gives the process a new one.

    Example::

        from prometheus_client import CollectorRegistry, generate_latest
        registry = CollectorRegistry()
        registry.register(LoopCollector())
        print(generate_latest(registry).decode())
    """

    def __init__(self, lt: LoopThread | None = None) -> None:
        if lt is not None and not isinstance(lt, LoopThread):
            raise TypeError(f"LoopCollector() needs a LoopThread or None, got {type(lt).__name__}.")
        self._core = _client()
        self._lt = lt

    def __repr__(self) -> str:
        return f"<LoopCollector of {self._lt!r}>" if self._lt is not None else "<LoopCollector of the default loop>"

    def describe(self) -> list[Any]:
        """Every family this collector may yield (empty): the registry checks names with them."""
        core = self._core
        kinds = {"gauge": core.GaugeMetricFamily, "counter": core.CounterMetricFamily}
        families = [kinds[kind](name, "") for name, kind in _FAMILIES]
        return [*families, core.HistogramMetricFamily("loopbridge_loop_lag_seconds", "")]

    def collect(self) -> Iterator[Any]:
        """The metric families, read now (called by the registry at each scrape)."""
        core = self._core
        stats = loop_stats(self._lt if self._lt is not None else default_loop())
        yield core.GaugeMetricFamily(
            "loopbridge_bridged_calls_in_flight", "Bridged calls running on the loop.", value=stats.inflight
        )
        yield core.GaugeMetricFamily(
            "loopbridge_bridged_calls_queued", "Callers waiting for an in-flight slot.", value=stats.queued
        )
        yield core.GaugeMetricFamily(
            "loopbridge_bridged_calls_limit", "The in-flight bound (max_inflight).", value=stats.max_inflight
        )
        yield core.CounterMetricFamily(
            "loopbridge_overload_refusals", "Bridged calls refused with Overloaded.", value=stats.refused
        )
        if isinstance(stats.watchdog, dict) and "lag_histogram" in stats.watchdog:
            yield from self._watchdog_families(stats.watchdog)
        if isinstance(stats.http, dict) and "connections_in_use" in stats.http:
            yield from self._http_families(stats.http)

    def _watchdog_families(self, wd: dict[str, Any]) -> Iterator[Any]:
        core = self._core
        counts = list(wd["lag_histogram"].values())
        buckets, running = [], 0
        for bound, count in zip([*HISTOGRAM_BOUNDS_MS, math.inf], counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == math.inf else f"{bound / 1000.0:g}", running))
        lag = core.HistogramMetricFamily(
            "loopbridge_loop_lag_seconds", "How late each watchdog tick ran on the loop.",
            buckets=buckets, sum_value=float(wd.get("lag_sum_ms", 0.0)) / 1000.0,
        )
        yield lag
        stalls = core.CounterMetricFamily(
            "loopbridge_stalls", "Loop stalls past the watchdog threshold, by request.", labels=["route"]
        )
        for route, count in sorted(wd.get("stalls_by_route", {}).items()):
            stalls.add_metric([route], count)
        yield stalls

    def _http_families(self, http: dict[str, Any]) -> Iterator[Any]:
        core = self._core
        connections = core.GaugeMetricFamily(
            "loopbridge_http_connections", "Connections of the HTTP client's pool.", labels=["state"]
        )
        connections.add_metric(["in_use"], http["connections_in_use"])
        connections.add_metric(["idle"], http.get("connections_idle", 0))
        yield connections
        yield core.GaugeMetricFamily(
            "loopbridge_http_connections_limit", "The HTTP pool's total connection limit.", value=http.get("limit", 0)
        )
        yield core.CounterMetricFamily(
            "loopbridge_http_requests", "Upstream requests made by the HTTP client.", value=http.get("requests", 0)
        )
        yield core.CounterMetricFamily(
            "loopbridge_http_errors", "Upstream requests that failed.", value=http.get("errors", 0)
        )


def register_collector(registry: Any = None, lt: LoopThread | None = None) -> LoopCollector:
    """Register a :class:`LoopCollector` on ``registry`` (default: ``prometheus_client.REGISTRY``).

    Call it once per process; a second registration on the same registry raises
    ``ValueError`` (prometheus_client refuses duplicate metric names). Returns the collector,
    so ``registry.unregister(collector)`` undoes it.
    """
    collector = LoopCollector(lt)
    if registry is None:
        registry = _client().REGISTRY
    registry.register(collector)
    return collector
