"""``loopbridge.report``: how far a Flask app's migration to the loop has come.

The static half reads the source (never importing it) with the lint's index: the Flask
routes, the IO call sites each route reaches through helpers and across modules, grouped by
kind and by where they run (on the loop, offloaded, blocking a worker thread, stalling the
loop), and per-module counts. The live half joins the app's stats endpoint per Flask
endpoint. The next steps are ranked by expected pay-off, each with its concrete change.

Example::

    from loopbridge.report import build_report, render

    report = build_report(["legacy_app"])
    print(report.headline["share_on_loop"])
    print(render(report, "text"))
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

from ._live import REQUIRED_FIELDS, LiveError, apply_live, load_stats
from ._model import (
    SCHEMA,
    IOSite,
    LiveEndpoint,
    LiveInfo,
    ModuleCounts,
    Report,
    RouteReport,
    Step,
)
from ._rank import rank
from ._static import scan

__all__ = [
    "FORMATS",
    "IOSite",
    "LiveEndpoint",
    "LiveError",
    "LiveInfo",
    "ModuleCounts",
    "REQUIRED_FIELDS",
    "Report",
    "RouteReport",
    "SCHEMA",
    "Step",
    "build_report",
    "load_stats",
    "render",
]

#: The output formats of :func:`render`.
FORMATS = ("html", "json", "text")


def build_report(paths: Sequence[str], config: Any = None, stats: dict[str, Any] | None = None,
                 stats_source: str = "stats") -> Report:
    """Scan ``paths``, join ``stats`` (the stats endpoint's JSON) if given, rank the steps.

    ``config`` is a :class:`loopbridge.lint.LintConfig` (exclusions, extra blocking names).

    Raises:
        FileNotFoundError: a path does not exist.
    """
    enabled = gc.isenabled()
    gc.disable()  # many small objects that all live to the end: collecting them only costs time
    try:
        report = scan(paths, config)
        if stats is not None:
            report.live = apply_live(report.routes, stats, stats_source)
        report.steps = rank(report)
    finally:
        if enabled:
            gc.enable()
    return report


def render(report: Report, fmt: str) -> str:
    """The report as ``text``, ``json`` (schema :data:`SCHEMA`) or a self-contained ``html`` page.

    Raises:
        ValueError: unknown format.
    """
    if fmt == "text":
        from ._text import render_text

        return render_text(report)
    if fmt == "json":
        import json

        return json.dumps(report.as_dict(), indent=2, sort_keys=False) + "\n"
    if fmt == "html":
        from ._html import render_html

        return render_html(report)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
