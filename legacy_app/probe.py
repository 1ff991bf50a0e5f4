"""Probe one site now: the monitor's first code written for the shared loop (step 3).

:func:`probe_site` is a coroutine. ``LoopBridge`` runs the ``async def`` views that await
it on the process's one event loop, where ``bridge.http`` keeps its connection pool
between requests. The database is still the legacy sqlite3 code: it is reached through
``bridge.to_async``, which runs it back in the worker thread that serves the request (where
that request's connection lives) so the loop itself never waits on the disk.
"""

from __future__ import annotations

import logging

import requests
from flask import current_app

import bridge.http as http  # noqa: PLR0402 - the import a requests user expects
from bridge import to_async
from legacy_app import storage
from legacy_app.db import get_db
from legacy_app.storage import CheckResult, Site

logger = logging.getLogger(__name__)


def _load_site(site_id: int) -> Site | None:
    """Read the site (sync; runs in the request's worker thread)."""
    return storage.get_site(get_db(), site_id)


def _store_result(result: CheckResult) -> None:
    """Store a probe's result outside any run (sync; runs in the request's worker thread)."""
    storage.record_results(get_db(), None, [result])


async def probe_site(site_id: int) -> tuple[Site, CheckResult] | None:
    """Check one site now and store the result; None if there is no such site.

    Must run inside a request of the monitor app (it reads the app's config and the
    request's database connection).
    """
    if not isinstance(site_id, int) or site_id < 1:
        raise ValueError(f"site_id must be a positive int, got {site_id!r}")
    site = await to_async(_load_site)(site_id)
    if site is None:
        return None
    try:
        resp = await http.async_get(site.url, timeout=current_app.config["CHECK_TIMEOUT"])
    except requests.RequestException as exc:  # what bridge.http raises, as requests did
        result = CheckResult.failed(site.id, exc)
    else:
        result = CheckResult.answered(site.id, resp)
    await to_async(_store_result)(result)
    logger.info("probed site %d (%s): %s", site.id, site.url, "up" if result.ok else result.error)
    return site, result
