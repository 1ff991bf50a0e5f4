"""The Flask extension's stats endpoint, its guard, and the per-endpoint figures it serves.

Served only where ``LOOPBRIDGE_STATS_URL`` is set, to loopback clients unless
``LOOPBRIDGE_STATS_ALLOW`` widens it, with file paths cut to base names unless
``LOOPBRIDGE_STATS_SOURCE`` is on.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from typing import Any

from flask import jsonify, request

from async_core import default_loop

from ._flask_settings import AppSettings, current_settings
from ._process import process_info

__all__ = ["EndpointFigures", "stats_view"]

_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s\"'<>:|]+[\\/])+([^\s\"'<>:|\\/]+\.py)")


class EndpointFigures:
    """Per-endpoint figures of one app, kept only while its stats endpoint is on.

    For each Flask endpoint: requests served, their summed wall time, the part of it spent
    waiting in bridged calls (``bridge.run``, ``bridge.http.*``, async views) and the number of
    those calls. Stalls come from the watchdog, which names the request whose coroutine was
    running on the loop when it stalled (see :func:`stalls_by_endpoint`).
    """

    __slots__ = ("_lock", "_rows")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, list[float]] = {}

    def add(self, endpoint: str, total_s: float, bridged_s: float, calls: float) -> None:
        """Count one finished request to ``endpoint`` (any thread)."""
        with self._lock:
            row = self._rows.get(endpoint)
            if row is None:
                row = self._rows[endpoint] = [0, 0.0, 0.0, 0]
            row[0] += 1
            row[1] += total_s
            row[2] += bridged_s
            row[3] += calls

    def as_dict(self, stalls: dict[str, int] | None = None) -> dict[str, dict[str, float]]:
        """The figures by endpoint, with the stalls of each (``stalls``: endpoint -> count)."""
        stalls = stalls or {}
        with self._lock:
            rows = {k: list(v) for k, v in self._rows.items()}
        return {
            endpoint: {"requests": int(n), "total_ms": round(total * 1000, 3), "bridged_ms": round(bridged * 1000, 3),
                       "bridged_calls": int(calls), "stalls": int(stalls.get(endpoint, 0))}
            for endpoint, (n, total, bridged, calls) in sorted(rows.items())
        }


_ENDPOINT = re.compile(r"\(endpoint ([^)]*)\)$")


def stalls_by_endpoint(watchdog: Any) -> dict[str, int]:
    """The watchdog's stalls counted by the Flask endpoint named in each report's route."""
    if watchdog is None:
        return {}
    try:
        by_route = watchdog.stats().get("stalls_by_route") or {}
    except Exception:  # figures are best effort; the stats endpoint must still answer
        return {}
    return endpoint_counts(by_route)


def endpoint_counts(by_route: dict[str, int]) -> dict[str, int]:
    """Stall counts by route (the watchdog's ``stalls_by_route``) summed by Flask endpoint."""
    counts: dict[str, int] = {}
    for route, count in by_route.items():
        match = _ENDPOINT.search(str(route))
        if match is not None:
            counts[match.group(1)] = counts.get(match.group(1), 0) + int(count)
    return counts


def _stats_allowed(settings: AppSettings) -> bool:
    allow = settings.stats_allow
    if callable(allow):
        return bool(allow(request))
    if not settings.stats_allow_set and ("X-Forwarded-For" in request.headers or "Forwarded" in request.headers):
        # a proxy on this host makes every client look local: refuse unless allowed on purpose
        return False
    try:
        peer = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        return False
    return any(peer in net for net in allow)


def _strip_sources(value: Any) -> Any:
    """The stats with every file path cut to its base name (``app/views.py:12`` → ``views.py:12``)."""
    if isinstance(value, dict):
        return {k: _strip_sources(v) for k, v in value.items() if k not in ("source", "code", "line_text")}
    if isinstance(value, list):
        return [_strip_sources(v) for v in value]
    if isinstance(value, str):
        return _PATH.sub(lambda m: m.group(1), value)
    return value


def stats_view() -> Any:
    """The stats endpoint: the loop's figures and this app's per-endpoint figures, as JSON."""
    from ._stats import collect_stats

    settings = current_settings()
    if not _stats_allowed(settings):
        body = jsonify(error="Forbidden", detail="the loopbridge stats are served to loopback clients only; "
                       "set LOOPBRIDGE_STATS_ALLOW to widen it.")
        return body, 403
    data = collect_stats(default_loop())
    data["process"] = process_info(request.environ)
    if settings.endpoints is not None:
        data["endpoints"] = settings.endpoints.as_dict(stalls_by_endpoint(default_loop().watchdog))
    if settings.sampler is not None:
        data["blocked"] = settings.sampler.as_dict()  # where each route's wall time goes (sampled)
    if not settings.stats_source:
        data = _strip_sources(data)
    return jsonify(data)
