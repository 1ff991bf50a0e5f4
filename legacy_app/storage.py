"""The monitor's data: sites, their checks and check-all runs, as plain SQL over sqlite3.

Every function takes a connection (from :func:`legacy_app.db.get_db` in a request, or
:func:`legacy_app.db.open_database` elsewhere) and returns plain values. Writes are one
transaction each, so whatever stops the process, each stored row is whole.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from legacy_app.db import transaction

logger = logging.getLogger(__name__)

#: Checkers a run may name.
CHECKER_NAMES = ("legacy", "bridge")


class DuplicateSite(ValueError):
    """The URL is already monitored."""


@dataclass(frozen=True)
class Site:
    """A monitored site."""

    id: int
    url: str
    name: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "url": self.url, "name": self.name, "created_at": self.created_at}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one site once: a status and latency, or an error text."""

    site_id: int
    ok: bool
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None

    @classmethod
    def answered(cls, site_id: int, resp: Any) -> CheckResult:
        """A result from a response (requests' or bridge.http's): ok means a 2xx/3xx status."""
        latency = resp.elapsed.total_seconds() * 1000 if resp.elapsed is not None else None
        return cls(site_id, bool(resp.ok), int(resp.status_code), latency,
                   None if resp.ok else f"HTTP {resp.status_code} {getattr(resp, 'reason', '') or ''}".strip())

    @classmethod
    def failed(cls, site_id: int, exc: BaseException) -> CheckResult:
        """A result from an exception: no status, the error's class and message."""
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return cls(site_id, False, None, None, text[:500])


def _site(row: sqlite3.Row) -> Site:
    return Site(row["id"], row["url"], row["name"] or "", row["created_at"])


def add_site(conn: sqlite3.Connection, url: str, name: str = "") -> Site:
    """Insert a site (validated beforehand); raise :class:`DuplicateSite` if the URL exists."""
    try:
        with transaction(conn):
            cur = conn.execute("INSERT INTO sites (url, name) VALUES (?, ?)", (url, name))
    except sqlite3.IntegrityError as exc:
        raise DuplicateSite(f"{url} is already monitored") from exc
    site = get_site(conn, int(cur.lastrowid or 0))
    assert site is not None
    return site


def get_site(conn: sqlite3.Connection, site_id: int) -> Site | None:
    """The site with ``site_id``, or None."""
    row = conn.execute("SELECT * FROM sites WHERE id = ?", (site_id,)).fetchone()
    return _site(row) if row else None


def list_sites(conn: sqlite3.Connection) -> list[Site]:
    """Every site, oldest first."""
    return [_site(r) for r in conn.execute("SELECT * FROM sites ORDER BY id")]


def delete_site(conn: sqlite3.Connection, site_id: int) -> bool:
    """Delete a site and (by cascade) its checks; False if there was none."""
    with transaction(conn):
        cur = conn.execute("DELETE FROM sites WHERE id = ?", (site_id,))
    return cur.rowcount > 0


_STATUS_SQL = """
SELECT s.id, s.url, s.name, s.created_at,
       agg.n_checks, agg.n_ok,
       last.status_code, last.latency_ms, last.ok, last.error, last.checked_at
FROM sites AS s
LEFT JOIN (SELECT site_id, COUNT(*) AS n_checks, SUM(ok) AS n_ok, MAX(id) AS last_id
           FROM checks GROUP BY site_id) AS agg ON agg.site_id = s.id
LEFT JOIN checks AS last ON last.id = agg.last_id
{where}
ORDER BY s.id
"""


def _status_row(row: sqlite3.Row) -> dict[str, Any]:
    n_checks = row["n_checks"] or 0
    uptime = round(100.0 * (row["n_ok"] or 0) / n_checks, 2) if n_checks else None
    state = "unknown" if row["ok"] is None else ("up" if row["ok"] else "down")
    return {"id": row["id"], "url": row["url"], "name": row["name"] or "",
            "created_at": row["created_at"], "state": state, "status_code": row["status_code"],
            "latency_ms": row["latency_ms"], "error": row["error"], "checked_at": row["checked_at"],
            "checks": n_checks, "uptime_pct": uptime}


def site_statuses(conn: sqlite3.Connection, site_id: int | None = None) -> list[dict[str, Any]]:
    """Each site with its current state, last status and latency, and uptime % so far."""
    if site_id is None:
        rows = conn.execute(_STATUS_SQL.format(where=""))
    else:
        rows = conn.execute(_STATUS_SQL.format(where="WHERE s.id = ?"), (site_id,))
    return [_status_row(r) for r in rows]


def site_checks(conn: sqlite3.Connection, site_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The latest ``limit`` checks of a site, newest first."""
    if not 1 <= limit <= 10_000:
        raise ValueError(f"limit must be in 1..10000, got {limit}")
    rows = conn.execute("SELECT id, run_id, checked_at, status_code, latency_ms, ok, error FROM checks "
                        "WHERE site_id = ? ORDER BY id DESC LIMIT ?", (site_id, limit))
    return [dict(r) | {"ok": bool(r["ok"])} for r in rows]


def start_run(conn: sqlite3.Connection, checker: str, planned: int) -> int:
    """Record the start of a check-all run; return its id."""
    if checker not in CHECKER_NAMES:
        raise ValueError(f"checker must be one of {CHECKER_NAMES}, got {checker!r}")
    with transaction(conn):
        cur = conn.execute("INSERT INTO runs (checker, planned) VALUES (?, ?)", (checker, planned))
    return int(cur.lastrowid or 0)


def record_results(conn: sqlite3.Connection, run_id: int | None, results: list[CheckResult]) -> int:
    """Store results and bump the run's counters in ONE transaction; return rows stored.

    A result for a site deleted meanwhile is skipped, not an error.
    """
    stored = ok = 0
    with transaction(conn):
        for r in results:
            try:
                conn.execute("INSERT INTO checks (site_id, run_id, status_code, latency_ms, ok, error) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             (r.site_id, run_id, r.status_code, r.latency_ms, int(r.ok), r.error))
            except sqlite3.IntegrityError:
                logger.info("site %s was deleted during the run; its result is dropped", r.site_id)
                continue
            stored += 1
            ok += r.ok
        if run_id is not None and stored:
            conn.execute("UPDATE runs SET recorded = recorded + ?, ok_count = ok_count + ? WHERE id = ?",
                         (stored, ok, run_id))
    return stored


def finish_run(conn: sqlite3.Connection, run_id: int, duration_ms: float, *, failed: bool = False) -> None:
    """Mark a run finished (or failed) with its duration."""
    with transaction(conn):
        conn.execute("UPDATE runs SET status = ?, duration_ms = ?, "
                     "finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                     ("failed" if failed else "finished", duration_ms, run_id))


def list_runs(conn: sqlite3.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    return [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]


def last_runs(conn: sqlite3.Connection) -> dict[str, dict[str, Any] | None]:
    """The latest finished run of each checker (None when it never ran)."""
    out: dict[str, dict[str, Any] | None] = {}
    for name in CHECKER_NAMES:
        row = conn.execute("SELECT * FROM runs WHERE checker = ? AND status = 'finished' "
                           "ORDER BY id DESC LIMIT 1", (name,)).fetchone()
        out[name] = dict(row) if row else None
    return out


def running_run(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The newest run still marked ``running`` (a check-all in progress), or None."""
    row = conn.execute("SELECT * FROM runs WHERE status = 'running' ORDER BY id DESC LIMIT 1").fetchone()
    return dict(row) if row else None


def newest_run_id(conn: sqlite3.Connection) -> int | None:
    """The id of the newest run, whatever its state (None before the first)."""
    row = conn.execute("SELECT MAX(id) FROM runs").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def run_latencies(conn: sqlite3.Connection, run_id: int) -> dict[str, float | None]:
    """The per-call latency of a run's answered checks: median and 95th percentile, in ms."""
    values = sorted(r[0] for r in conn.execute(
        "SELECT latency_ms FROM checks WHERE run_id = ? AND latency_ms IS NOT NULL", (run_id,)))
    if not values:
        return {"median_ms": None, "p95_ms": None}
    def pick(q: float) -> float:
        return float(values[min(len(values) - 1, int(q * len(values)))])
    return {"median_ms": pick(0.5), "p95_ms": pick(0.95)}


def compare_runs(conn: sqlite3.Connection, first: int, second: int) -> dict[str, int]:
    """How two runs' results line up, site by site.

    Returns ``common`` (sites checked in both), ``same`` (same up/down in both), and
    ``up_first`` / ``up_second`` (up only in that run).
    """
    rows = conn.execute(
        "SELECT a.ok AS a_ok, b.ok AS b_ok FROM checks AS a JOIN checks AS b "
        "ON a.site_id = b.site_id AND a.run_id = ? AND b.run_id = ?", (first, second)).fetchall()
    return {"common": len(rows), "same": sum(r["a_ok"] == r["b_ok"] for r in rows),
            "up_first": sum(r["a_ok"] > r["b_ok"] for r in rows),
            "up_second": sum(r["b_ok"] > r["a_ok"] for r in rows)}
