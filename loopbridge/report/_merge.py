"""Several stats answers as one: the per-endpoint figures of every process that answered, summed.

Each worker's stats endpoint holds that worker's figures since it started. ``loopbridge report
--stats URL --stats URL ...`` reads each and merges them here: the per-endpoint numbers are
summed, and an answer from a process already seen (two URLs reaching the same worker, or one URL
read twice) is counted once, the latest kept, since its figures are running totals. The merged
stats carry a ``"fleet"`` object saying what they cover::

    "fleet": {"processes": 3, "hosts": 2, "answers": 4, "duplicates": 1, "sources": [...]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["fleet_note", "fleet_of", "merge_stats"]


def _identity(stats: dict[str, Any], index: int) -> tuple[str, Any]:
    found = stats.get("process")
    process: dict[str, Any] = found if isinstance(found, dict) else {}
    pid = process.get("pid", stats.get("pid"))
    host = process.get("host")
    if pid is None:  # saved JSON from an unknown producer: one process of its own
        return (f"answer {index}", index)
    return (str(host) if host is not None else "?", pid)


def _add_figures(into: dict[str, dict[str, Any]], endpoints: Any) -> None:
    if isinstance(endpoints, list):
        endpoints = {str(v["endpoint"]): v for v in endpoints if isinstance(v, dict) and "endpoint" in v}
    if not isinstance(endpoints, dict):
        return
    for name, figures in endpoints.items():
        if not isinstance(figures, dict):
            continue
        row = into.setdefault(str(name), {})
        for key, value in figures.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            row[key] = row.get(key, 0) + value


def fleet_of(stats: dict[str, Any]) -> dict[str, Any] | None:
    """What one stats answer covers: its ``fleet`` object, or one process from its ``process``."""
    fleet = stats.get("fleet")
    if isinstance(fleet, dict):
        return fleet
    process = stats.get("process")
    if isinstance(process, dict):
        return {"processes": 1, "hosts": 1, "answers": 1, "duplicates": 0,
                "workers_known": process.get("workers"), "server": process.get("server")}
    return None


def merge_stats(answers: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One stats object from ``(source, stats)`` pairs (in reading order; see the module doc)."""
    if not answers:
        raise ValueError("merge_stats() needs at least one (source, stats) answer.")
    latest: dict[tuple[str, Any], dict[str, Any]] = {}
    for index, (_source, stats) in enumerate(answers):
        if not isinstance(stats, dict):
            raise TypeError(f"merge_stats(): answer {index} is not a stats object.")
        latest[_identity(stats, index)] = stats
    endpoints: dict[str, dict[str, Any]] = {}
    has_endpoints = False
    for stats in latest.values():
        if stats.get("endpoints") is not None:
            has_endpoints = True
            _add_figures(endpoints, stats.get("endpoints"))
    kept = list(latest.values())
    merged: dict[str, Any] = {
        "pid": sorted({pid for (_host, pid) in latest if isinstance(pid, int)}),
        "state": ", ".join(sorted({str(s.get("state")) for s in kept if s.get("state") is not None})),
        "inflight": sum(int(s.get("inflight") or 0) for s in kept),
        "queued": sum(int(s.get("queued") or 0) for s in kept),
        "max_inflight": sum(int(s.get("max_inflight") or 0) for s in kept),
    }
    known = [s["process"].get("workers") for s in kept if isinstance(s.get("process"), dict)]
    merged["fleet"] = {
        "processes": len(latest),
        "hosts": len({host for (host, _pid) in latest}),
        "answers": len(answers),
        "duplicates": len(answers) - len(latest),
        "workers_known": max((w for w in known if isinstance(w, int)), default=None),
        "sources": [source for source, _ in answers],
    }
    if has_endpoints:
        merged["endpoints"] = endpoints
    return merged


def fleet_note(fleet: dict[str, Any]) -> str:
    """The sentence the report adds: how many processes and hosts its figures came from."""
    processes, hosts = fleet.get("processes"), fleet.get("hosts")
    text = f"figures from {processes} process{'es' if processes != 1 else ''} on {hosts} host{'s' if hosts != 1 else ''}"
    instances = fleet.get("instances")
    if instances is not None:
        text += f" ({instances} scraped instance{'s' if instances != 1 else ''})"
    if fleet.get("duplicates"):
        text += f"; {fleet['duplicates']} repeated answer(s) from a process already read counted once"
    workers = fleet.get("workers_known")
    if isinstance(workers, int) and isinstance(processes, int) and hosts == 1 and workers > processes:
        text += (f"; the server runs {workers} workers, so {workers - processes} were not read: read more "
                 "answers, or use --prometheus")
    return text
