"""The figures the stats endpoint and ``flask loopbridge stats`` show, as plain data.

:func:`collect_stats` serialises :class:`async_core.LoopStats`: state, bridged calls in flight,
the HTTP client's and the watchdog's figures (under ``resources``), and ``lag``, the watchdog's
headline figures at the top level (``None`` when the watchdog is off).
"""

from __future__ import annotations

from typing import Any

from async_core import LoopThread, loop_stats

__all__ = ["collect_stats"]


def collect_stats(lt: LoopThread) -> dict[str, Any]:
    """A JSON-able snapshot of ``lt``: state, bridged calls in flight, and resource figures."""
    if not isinstance(lt, LoopThread):
        raise TypeError(f"collect_stats() needs a LoopThread, got {type(lt).__name__}.")
    return loop_stats(lt).as_dict()
