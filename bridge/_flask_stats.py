"""The Flask extension's stats endpoint, its guard, and the per-endpoint figures it serves.

Served only where ``LOOPBRIDGE_STATS_URL`` is set, to loopback clients unless
``LOOPBRIDGE_STATS_ALLOW`` widens it, with file paths cut to base names unless
``LOOPBRIDGE_STATS_SOURCE`` is on.
"""

from __future__ import annotations

import collections
import ipaddress
import re
import threading
import time
import weakref
from typing import Any

from flask import jsonify, request

from async_core import default_loop

from ._flask_settings import AppSettings, current_settings

__all__ = ["EndpointFigures", "stats_view"]

_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s\"'<>:|]+[\\/])+([^\s\"'<>:|\\/]+\.py)")
#: finished requests kept to attribute a stall reported after them (per app)
_RECENT_REQUESTS = 2048


class EndpointFigures:
    """Per-endpoint figures of one app, kept only while its stats endpoint is on.

    For each Flask endpoint: requests served, their summed wall time, the part of it spent
    waiting in bridged calls (``bridge.run``, ``bridge.http.*``, async views), the number of
    those calls, and the watchdog stalls that overlapped one of its requests (a stall is
    reported when it ends, often after the request that suffered it: the last few seconds of
    requests are kept to attribute it).
    """

    __slots__ = ("__weakref__", "_active", "_lock", "_next", "_recent", "_rows", "_watched")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, list[float]] = {}
        self._active: dict[int, tuple[str, float]] = {}
        self._recent: collections.deque[tuple[str, float, float]] = collections.deque(maxlen=_RECENT_REQUESTS)
        self._next = 0
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()

    def begin(self, endpoint: str, watchdog: Any) -> int:
        """A request to ``endpoint`` starts; returns its ticket for :meth:`end`."""
        if watchdog is not None and watchdog not in self._watched:
            with self._lock:
                if watchdog not in self._watched:
                    self._watched.add(watchdog)
                    watchdog.add_callback(self.on_stall)
        with self._lock:
            self._next += 1
            self._active[self._next] = (endpoint, time.time())
            return self._next

    def end(self, ticket: int, total_s: float, bridged_s: float, calls: float) -> None:
        with self._lock:
            endpoint, started = self._active.pop(ticket)
            self._recent.append((endpoint, started, time.time()))
            row = self._rows.get(endpoint)
            if row is None:
                row = self._rows[endpoint] = [0, 0.0, 0.0, 0, 0]
            row[0] += 1
            row[1] += total_s
            row[2] += bridged_s
            row[3] += calls

    def on_stall(self, report: Any) -> None:
        """Watchdog callback (monitor thread): count the stall for each endpoint it overlapped."""
        start = report.started_at
        end = start + report.duration_ms / 1000.0 if not report.ongoing else time.time()
        with self._lock:
            hit = {ep for ep, s in self._active.values() if s <= end}
            hit |= {ep for ep, s, e in self._recent if s <= end and e >= start}
            for endpoint in hit:
                row = self._rows.setdefault(endpoint, [0, 0.0, 0.0, 0, 0])
                row[4] += 1

    def as_dict(self) -> dict[str, dict[str, float]]:
        with self._lock:
            rows = {k: list(v) for k, v in self._rows.items()}
        return {
            endpoint: {"requests": int(n), "total_ms": round(total * 1000, 3), "bridged_ms": round(bridged * 1000, 3),
                       "bridged_calls": int(calls), "stalls": int(stalls)}
            for endpoint, (n, total, bridged, calls, stalls) in sorted(rows.items())
        }


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
    if settings.endpoints is not None:
        data["endpoints"] = settings.endpoints.as_dict()
    if not settings.stats_source:
        data = _strip_sources(data)
    return jsonify(data)
