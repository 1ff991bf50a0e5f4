"""A loop's figures as one value: :class:`LoopStats` (what the stats endpoint serialises).

Built from a :class:`~async_core.LoopThread` by :func:`loop_stats` on any thread; every figure
is read without waiting on the loop, so a stalled loop still answers. The HTTP client and the
watchdog each contribute their own ``stats()``; application resources in ``lt.resources`` that
offer ``stats()`` appear under their key.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

from ._loop import LoopThread

__all__ = ["LoopStats", "loop_stats"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class LoopStats:
    """A snapshot of one loop thread; :meth:`as_dict` gives the JSON the stats endpoint serves."""

    pid: int
    state: str
    thread: str
    thread_ident: int | None
    inflight: int
    queued: int
    max_inflight: int
    queue_timeout_s: float
    watchdog_ms: float
    strict: bool
    http: dict[str, Any] | None
    watchdog: dict[str, Any] | None
    resources: dict[str, Any]
    #: bridged calls refused with ``Overloaded`` (no in-flight slot within the queue timeout)
    refused: int = 0

    @property
    def lag(self) -> dict[str, Any] | None:
        """The loop-lag headline figures from the watchdog (``None`` when it is off)."""
        wd = self.watchdog
        if not isinstance(wd, dict) or "stalls" not in wd:
            return None
        last = wd.get("last_stall") or {}
        return {
            "recent_ms": wd.get("recent_lag_ms"),
            "worst_ms": wd.get("worst_lag_ms"),
            "current_ms": wd.get("current_lag_ms"),
            "stalls": wd.get("stalls"),
            "last_stall_location": last.get("location"),
            "last_stall_ms": last.get("duration_ms"),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form; the HTTP and watchdog figures sit under ``resources`` with the rest."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("http", "watchdog", "resources")}
        resources = dict(self.resources)
        if self.http is not None:
            resources["http"] = self.http
        if self.watchdog is not None:
            resources["watchdog"] = self.watchdog
        out["resources"] = resources
        out["lag"] = self.lag
        return out


def _safe_stats(name: str, obj: Any) -> dict[str, Any] | None:
    stats = getattr(obj, "stats", None)
    if obj is None or not callable(stats):
        return None
    try:
        return stats()  # type: ignore[no-any-return]
    except Exception:  # one broken figure must not hide the rest
        logger.exception("loopbridge: stats() of %s failed", name)
        return {"error": "stats unavailable; see the server log"}


def loop_stats(lt: LoopThread) -> LoopStats:
    """A :class:`LoopStats` snapshot of ``lt`` (any thread; never waits on the loop)."""
    if not isinstance(lt, LoopThread):
        raise TypeError(f"loop_stats() needs a LoopThread, got {type(lt).__name__}.")
    cfg = lt.config
    resources = {}
    for key, resource in list(lt.resources.items()):
        figures = _safe_stats(repr(key), resource)
        if figures is not None:
            resources[key] = figures
    return LoopStats(
        pid=os.getpid(), state=lt.state.value, thread=cfg.thread_name, thread_ident=lt.thread_ident,
        inflight=lt.inflight, queued=lt.queued, max_inflight=cfg.max_inflight,
        queue_timeout_s=cfg.queue_timeout, watchdog_ms=cfg.watchdog_ms, strict=cfg.strict,
        http=_safe_stats("the HTTP client", lt.http), watchdog=_safe_stats("the watchdog", lt.watchdog),
        resources=resources, refused=lt.refused,
    )
