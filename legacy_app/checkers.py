"""The check-all job, in its original form and in its migrated form.

:func:`check_sites_legacy` is the loop the monitor always had: one ``session.get`` per
site on the monitor's ``requests.Session`` (:func:`legacy_app.ssrf.monitor_session`, whose
adapters refuse private addresses), one after the other, so 300 sites at 25 ms take
300 × 25 ms. :func:`check_sites_bridge`
is the same job after step 2 of the migration: the URLs go to ``bridge.http.map``, which
fetches them on the process's shared event loop ``concurrency`` at a time, and the loop
over the answers stays as it was. Compare the two functions: that diff is the migration
(``docs/migrating.md`` shows it, and a test keeps the page in step with this file).

:func:`run_check_all` is the part both share: it opens a run, hands each result to the
database as it comes (one transaction per result), and closes the run with its duration.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests

import bridge.http as http  # noqa: PLR0402 - the import a requests user expects
from legacy_app import storage
from legacy_app.ssrf import monitor_session
from legacy_app.storage import CheckResult, Site

logger = logging.getLogger(__name__)

Recorder = Callable[[CheckResult], None]
Checker = Callable[..., None]


def check_sites_legacy(sites: Sequence[Site], record: Recorder, *, timeout: float,
                       concurrency: int) -> None:
    """Check each site in turn with ``requests`` and hand every result to ``record``."""
    with monitor_session() as session:
        for site in sites:
            try:
                resp = session.get(site.url, timeout=timeout)
            except requests.RequestException as exc:
                record(CheckResult.failed(site.id, exc))
            else:
                record(CheckResult.answered(site.id, resp))


def check_sites_bridge(sites: Sequence[Site], record: Recorder, *, timeout: float,
                       concurrency: int) -> None:
    """Check the sites through ``bridge.http.map`` and hand every result to ``record``."""
    responses = http.map([site.url for site in sites], concurrency=concurrency, timeout=timeout)
    for site, resp in zip(sites, responses):
        if isinstance(resp, Exception):
            record(CheckResult.failed(site.id, resp))
        else:
            record(CheckResult.answered(site.id, resp))


#: The checkers by the name config ``CHECKER`` and the ``checker`` form field use.
CHECKERS: dict[str, Checker] = {"legacy": check_sites_legacy, "bridge": check_sites_bridge}


def get_checker(name: str) -> Checker:
    """The checker called ``name``; ValueError naming the valid choices otherwise."""
    try:
        return CHECKERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown checker {name!r}; choose one of {', '.join(CHECKERS)}") from None


def run_check_all(conn: sqlite3.Connection, checker: str, *, timeout: float, concurrency: int,
                  sites: Sequence[Site] | None = None) -> dict[str, Any]:
    """Check every site (or ``sites``) with ``checker`` and record the run.

    Each result is committed as it arrives, so a run cut short by a shutdown leaves
    every stored check whole and the run row still marked ``running``.

    Returns:
        The finished run as stored (id, checker, planned, recorded, ok_count, duration_ms...).

    Raises:
        ValueError: unknown checker, or a timeout / concurrency out of range.
    """
    check = get_checker(checker)
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if not isinstance(concurrency, int) or not 1 <= concurrency <= 10_000:
        raise ValueError(f"concurrency must be an int in 1..10000, got {concurrency!r}")
    todo = list(storage.list_sites(conn) if sites is None else sites)
    run_id = storage.start_run(conn, checker, len(todo))
    started = time.perf_counter()
    failed = True
    try:
        check(todo, lambda result: storage.record_results(conn, run_id, [result]),
              timeout=timeout, concurrency=concurrency)
        failed = False
    finally:
        duration_ms = (time.perf_counter() - started) * 1000
        storage.finish_run(conn, run_id, duration_ms, failed=failed)
        logger.info("check-all run %d (%s): %d sites in %.0f ms%s", run_id, checker, len(todo),
                    duration_ms, " (failed)" if failed else "")
    return next(r for r in storage.list_runs(conn, 10) if r["id"] == run_id)
