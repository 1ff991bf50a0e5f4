"""What moved since an earlier report: ``--compare PREVIOUS.json``.

Call sites are matched by module, function and call (line numbers move with every edit), as
counts per status, so a call that moved to the loop, a new blocking call and one that moved
back off the loop are each found. Routes are matched by endpoint.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from ._model import SCHEMA, Report

__all__ = ["CompareError", "compare", "load_previous"]

_HEADLINE = ("io_sites", "io_sites_on_loop", "share_on_loop", "routes", "routes_clean",
             "share_routes_clean", "stalls_loop_sites")


class CompareError(ValueError):
    """The earlier report cannot be read or is not a ``loopbridge-report/1`` document."""


def load_previous(path: str) -> dict[str, Any]:
    """Read an earlier JSON report.

    Raises:
        CompareError: unreadable, not JSON, or another schema.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise CompareError(f"cannot read the earlier report {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompareError(f"{path} is not a JSON report ({exc}); write one with "
                           "loopbridge report --format json -o FILE") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise CompareError(f"{path} is not a {SCHEMA} report (schema {found!r})")
    return data


def _tally(sites: list[dict[str, Any]]) -> dict[tuple[str, str, str], Counter[str]]:
    found: dict[tuple[str, str, str], Counter[str]] = {}
    for site in sites:
        key = (str(site.get("path")), str(site.get("function")), str(site.get("call")))
        found.setdefault(key, Counter())[str(site.get("status"))] += 1
    return found


def _label(key: tuple[str, str, str]) -> str:
    return f"{key[0]}: {key[1]}() {key[2]}"


def compare(report: Report, previous: dict[str, Any], source: str) -> dict[str, Any]:
    """The changes from ``previous`` (a JSON report) to ``report``."""
    now = report.as_dict()
    before_head = previous.get("headline") or {}
    headline = {key: {"before": before_head.get(key), "now": now["headline"][key]}
                for key in _HEADLINE}
    old, new = _tally(previous.get("sites") or []), _tally(now["sites"])
    to_loop, off_loop, added, removed = [], [], [], []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, Counter()), new.get(key, Counter())
        gained = b["migrated"] - a["migrated"]
        blocking_a = sum(a.values()) - a["migrated"]
        blocking_b = sum(b.values()) - b["migrated"]
        if gained > 0:
            to_loop.extend([_label(key)] * gained)
        elif gained < 0:
            off_loop.extend([_label(key)] * -gained)
        if blocking_b > blocking_a and gained >= 0:
            added.extend([_label(key)] * (blocking_b - blocking_a))
        elif blocking_b < blocking_a and gained <= 0:
            removed.extend([_label(key)] * (blocking_a - blocking_b))
    old_routes = {r.get("endpoint"): bool(r.get("clean")) for r in previous.get("routes") or []}
    new_routes = {r.endpoint: r.clean for r in report.routes}
    return {
        "source": source,
        "headline": headline,
        "moved_to_loop": to_loop,
        "moved_off_loop": off_loop,
        "new_blocking": added,
        "blocking_removed": removed,
        "routes_now_clean": sorted(e for e, c in new_routes.items() if c and not old_routes.get(e)),
        "routes_no_longer_clean": sorted(e for e, c in new_routes.items()
                                         if not c and old_routes.get(e)),
        "share_dropped": _dropped(headline["share_on_loop"]),
    }


def _dropped(figures: dict[str, Any]) -> bool:
    before, now = figures["before"], figures["now"]
    if not isinstance(before, int | float) or isinstance(before, bool):
        return False
    return (now or 0.0) < before
