"""The figures the stats endpoint and ``flask loopbridge stats`` show, as plain data.

Each resource a loop owns (the HTTP client, the watchdog, …) may offer a ``stats()`` method
returning a JSON-able dict; it is shown under its resource key. ``lag`` repeats the
watchdog's headline figures (loop lag, stalls, where the last stall blocked) at the top level,
``None`` when the watchdog is off.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from async_core import LoopThread

__all__ = ["collect_stats"]

logger = logging.getLogger(__name__)


def collect_stats(lt: LoopThread) -> dict[str, Any]:
    """A JSON-able snapshot of ``lt``: state, bridged calls in flight, and resource figures."""
    if not isinstance(lt, LoopThread):
        raise TypeError(f"collect_stats() needs a LoopThread, got {type(lt).__name__}.")
    cfg = lt.config
    out: dict[str, Any] = {
        "pid": os.getpid(),
        "state": lt.state.value,
        "thread": cfg.thread_name,
        "thread_ident": lt.thread_ident,
        "inflight": lt.inflight,
        "queued": lt.queued,
        "max_inflight": cfg.max_inflight,
        "queue_timeout_s": cfg.queue_timeout,
        "watchdog_ms": cfg.watchdog_ms,
        "strict": cfg.strict,
    }
    resources: dict[str, Any] = {}
    for key, resource in list(lt.resources.items()):
        stats = getattr(resource, "stats", None)
        if callable(stats):
            try:
                resources[key] = stats()
            except Exception:  # one broken figure must not hide the rest
                logger.exception("loopbridge: stats() of resource %r failed", key)
                resources[key] = {"error": "stats unavailable; see the server log"}
    out["resources"] = resources
    out["lag"] = _lag_summary(resources.get("watchdog"))
    return out


def _lag_summary(watchdog: Any) -> dict[str, Any] | None:
    """The loop-lag headline figures from the watchdog's stats (``None`` when it is off)."""
    if not isinstance(watchdog, dict) or "stalls" not in watchdog:
        return None
    last = watchdog.get("last_stall") or {}
    return {
        "recent_ms": watchdog.get("recent_lag_ms"),
        "worst_ms": watchdog.get("worst_lag_ms"),
        "current_ms": watchdog.get("current_lag_ms"),
        "stalls": watchdog.get("stalls"),
        "last_stall_location": last.get("location"),
        "last_stall_ms": last.get("duration_ms"),
    }
