"""What the dashboard shows, as plain functions: site order and filter, readable times, the
comparison of the two checkers' last runs.

Pure: no Flask, no database; :mod:`legacy_app.views` feeds them rows from
:mod:`legacy_app.storage`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

#: The status filters, in the order the page shows them.
FILTERS = ("all", "down", "up", "unknown")

#: Sortable columns: URL name → the site field it orders by.
SORTS: dict[str, str] = {"status": "state", "name": "name", "http": "status_code",
                         "latency": "latency_ms", "uptime": "uptime_pct", "checked": "checked_at"}

_STATE_RANK = {"down": 0, "unknown": 1, "up": 2}


def select_sites(sites: Sequence[dict[str, Any]], status: str = "all", sort: str = "status",
                 order: str = "asc") -> list[dict[str, Any]]:
    """The sites with ``status`` (or all), sorted by ``sort``; down sites first by default.

    Empty values (never checked, no latency) go last in either order. Unknown ``status``,
    ``sort`` or ``order`` values fall back to the defaults.
    """
    if status not in FILTERS:
        status = "all"
    if sort not in SORTS:
        sort = "status"
    picked = [s for s in sites if status == "all" or s["state"] == status]
    key = _sort_key(sort)
    present = [s for s in picked if key(s) is not None]
    missing = [s for s in picked if key(s) is None]
    present.sort(key=key, reverse=order == "desc")  # type: ignore[arg-type, return-value]
    return present + missing


def _sort_key(sort: str) -> Callable[[dict[str, Any]], Any]:
    field = SORTS[sort]
    if sort == "status":
        return lambda s: (_STATE_RANK.get(s["state"], 1), s["name"].lower(), s["id"])
    if sort == "name":
        return lambda s: (s["name"].lower(), s["id"])
    return lambda s: None if s[field] is None else (s[field], s["id"])


def count_states(sites: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many sites are in each state, and ``all``."""
    counts = {name: 0 for name in FILTERS}
    for site in sites:
        counts[site["state"]] = counts.get(site["state"], 0) + 1
    counts["all"] = len(sites)
    return counts


def parse_time(value: str | None) -> dt.datetime | None:
    """An ISO time as SQLite stores it (``2026-01-02T03:04:05.678Z``), or None."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def ago(value: str | None, now: dt.datetime | None = None) -> str:
    """``value`` as "just now", "42 s ago", "3 min ago", "5 h ago" or "2 days ago"."""
    when = parse_time(value)
    if when is None:
        return "never"
    seconds = ((now or dt.datetime.now(dt.UTC)) - when).total_seconds()
    if seconds < 10:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return f"{int(seconds)} s ago"


def comparison(legacy: dict[str, Any], bridge: dict[str, Any], same: dict[str, int]) -> str:
    """One line saying whether the two runs saw the same sites answer the same, and if not why.

    ``same`` is :func:`legacy_app.storage.compare_runs` of (legacy, bridge).
    """
    common, differ = same["common"], same["common"] - same["same"]
    if common == 0:
        return "The two runs checked different sites; run both again to compare them."
    sites = f"Same {common} site{'' if common == 1 else 's'}"
    if differ == 0:
        return f"{sites}, same results ({legacy['ok_count']} up in each)."
    return (f"{sites}; {differ} answered differently from one run to the next "
            f"({same['up_first']} up only for the legacy checker, {same['up_second']} only for the "
            f"bridged one), so the up counts differ ({legacy['ok_count']} vs {bridge['ok_count']}): "
            "a flaky site fails now and then whoever asks (the demo's simulator makes a few on purpose).")


def latency_note(legacy: dict[str, Any] | None, bridge: dict[str, Any] | None) -> str | None:
    """Why per-call latency and whole-run time tell different stories (None without both runs)."""
    if not legacy or not bridge or legacy.get("median_ms") is None or bridge.get("median_ms") is None:
        return None
    return (f"Per call vs whole run: the legacy checker makes one call at a time (median "
            f"{legacy['median_ms']:.0f} ms each); the bridged one keeps up to "
            f"{bridge.get('concurrency') or 'many'} calls in flight at once, which share the "
            f"upstream and one event loop, so each call waits longer (median {bridge['median_ms']:.0f} ms) "
            "while the whole run, what you wait for, is far shorter.")
