"""The report as value objects, and its JSON form (schema ``loopbridge-report/1``).

Every figure the three renderers (text, JSON, HTML) show comes from :class:`Report`;
:meth:`Report.as_dict` is the stable JSON schema documented in ``docs/report.md``. Within a
major schema version fields are only ever added, never renamed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "SCHEMA", "STATUSES", "IOSite", "LiveEndpoint", "LiveInfo", "ModuleCounts",
           "Report", "RouteReport", "SampledTime", "Step", "worst"]

#: The JSON schema name and major version.
SCHEMA = "loopbridge-report/1"

#: Kinds of IO call sites (from the lint's codes for blocking calls).
KINDS = ("http", "db", "file", "sleep", "subprocess", "network", "input", "wait", "runner",
         "configured", "loop")

#: Where an IO call site runs, best first: on the shared loop; blocking a thread that a
#: coroutine handed it to; blocking the request's worker thread; blocking the loop itself.
STATUSES = ("migrated", "offloaded", "blocking", "stalls_loop")
_RANK = {status: i for i, status in enumerate(STATUSES)}


def worst(a: str, b: str) -> str:
    """The worse of two statuses."""
    return a if _RANK[a] >= _RANK[b] else b


def _counts() -> dict[str, int]:
    return dict.fromkeys(STATUSES, 0)


@dataclass(slots=True)
class IOSite:
    """One IO call site in the source, with the worst place it runs from any route."""

    id: str
    path: str
    line: int
    col: int
    function: str
    call: str
    kind: str
    status: str
    fix: str
    routes: list[str] = field(default_factory=list)
    in_loop: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "line": self.line, "col": self.col,
                "function": self.function, "call": self.call, "kind": self.kind,
                "status": self.status, "fix": self.fix, "routes": list(self.routes),
                "in_loop": self.in_loop}


@dataclass(slots=True)
class SampledTime:
    """Where one endpoint's wall time went, from the stats' ``"blocked"`` figures (sampled).

    Each sample stands for ``interval_ms`` of a request's time: ``blocked`` samples waited in a
    blocking primitive (``where`` says at which line of the app's code, of which kind),
    ``fanout`` samples waited on a thread pool's futures (``fanout_where``), ``bridged`` ones in
    a bridged call, ``running`` ones ran code.
    """

    samples: int
    blocked: int
    fanout: int
    bridged: int
    running: int
    interval_ms: float
    where: list[dict[str, Any]] = field(default_factory=list)
    fanout_where: list[dict[str, Any]] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        """Samples of the request's thread waiting off the loop (blocked or on a pool)."""
        return self.blocked + self.fanout

    @property
    def blocked_share(self) -> float | None:
        return round(self.waiting / self.samples, 4) if self.samples else None

    @property
    def blocked_ms(self) -> float:
        return self.waiting * self.interval_ms

    def as_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "blocked": self.blocked, "fanout": self.fanout,
                "bridged": self.bridged, "running": self.running, "interval_ms": self.interval_ms,
                "blocked_ms": round(self.blocked_ms, 3), "blocked_share": self.blocked_share,
                "where": [dict(w) for w in self.where], "fanout_where": [dict(w) for w in self.fanout_where]}


@dataclass(slots=True)
class LiveEndpoint:
    """What the stats endpoint reported for one Flask endpoint."""

    requests: int
    total_ms: float
    bridged_ms: float
    stalls: int
    bridged_calls: int | None = None
    sampled: SampledTime | None = None

    @property
    def blocking_ms(self) -> float:
        """Time per the whole traffic spent outside bridged calls (a worker thread's time)."""
        return max(self.total_ms - self.bridged_ms, 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "total_ms": round(self.total_ms, 3),
                "bridged_ms": round(self.bridged_ms, 3), "stalls": self.stalls,
                "bridged_calls": self.bridged_calls,
                "bridged_share": round(self.bridged_ms / self.total_ms, 4) if self.total_ms else None,
                "blocked": self.sampled.as_dict() if self.sampled else None}


@dataclass(slots=True)
class RouteReport:
    """One route: its view, the IO it reaches and, with live stats, its traffic."""

    endpoint: str
    rule: str
    methods: list[str]
    view: str
    path: str
    line: int
    view_kind: str
    sites: dict[str, str] = field(default_factory=dict)
    chains: dict[str, list[str]] = field(default_factory=dict)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    live: LiveEndpoint | None = None
    hooks: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        found = _counts()
        for status in self.sites.values():
            found[status] += 1
        return found

    @property
    def clean(self) -> bool:
        """No blocking IO found statically: every IO call site it reaches runs on the loop."""
        return all(status == "migrated" for status in self.sites.values())

    def verdict(self, live_given: bool) -> tuple[str, str]:
        """What is known of this route's IO, and how: ``(code, words)``.

        Measured (sampled worker stacks) beats static: ``measured_blocked``,
        ``measured_clear``; else ``io_found`` (static findings); else, with per-endpoint live
        figures given, ``seen_unsampled`` or ``unknown`` (never seen live, no findings);
        else ``no_io_found`` (statically: not proof there is none).
        """
        open_sites = sum(1 for status in self.sites.values() if status != "migrated")
        sampled = self.live.sampled if self.live else None
        if sampled is not None and sampled.samples:
            if sampled.waiting:
                return "measured_blocked", (f"measured: {sampled.waiting * 100 / sampled.samples:.0f} % of its wall time "
                                            f"blocked off the loop (≈{sampled.blocked_ms:.0f} ms)")
            return "measured_clear", f"measured: no time blocked off the loop ({sampled.samples} samples)"
        if open_sites:
            return "io_found", f"blocking IO found statically ({open_sites} call sites)"
        if live_given:
            if self.live is not None and self.live.requests:
                return "seen_unsampled", "seen live, not sampled: no IO found statically"
            return "unknown", "unknown: never seen live and no IO found statically"
        return "no_io_found", "no IO found statically"

    def as_dict(self, live_given: bool = False) -> dict[str, Any]:
        code, words = self.verdict(live_given)
        return {"endpoint": self.endpoint, "rule": self.rule, "methods": list(self.methods),
                "view": self.view, "path": self.path, "line": self.line,
                "view_kind": self.view_kind, "hooks": list(self.hooks), "clean": self.clean,
                "counts": self.counts,
                "by_kind": {k: dict(v) for k, v in sorted(self.by_kind.items())},
                "sites": [{"id": site, "status": status, "via": self.chains.get(site, [])}
                          for site, status in sorted(self.sites.items())],
                "live": self.live.as_dict() if self.live else None,
                "verdict": code, "verdict_text": words}


@dataclass(slots=True)
class ModuleCounts:
    """IO call sites of one module by status and by kind."""

    path: str
    counts: dict[str, int] = field(default_factory=_counts)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, kind: str, status: str) -> None:
        self.counts[status] += 1
        per = self.by_kind.setdefault(kind, _counts())
        per[status] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "total": self.total, "counts": dict(self.counts),
                "share_on_loop": _share(self.counts["migrated"], self.total),
                "by_kind": {k: dict(v) for k, v in sorted(self.by_kind.items())}}


@dataclass(slots=True)
class Step:
    """One next step of the migration, with its expected pay-off and the concrete change."""

    rank: int
    function: str
    site: str
    call: str
    kind: str
    status: str
    change: str
    payoff: float
    basis: str
    routes: list[str]
    sites: list[str] = field(default_factory=list)
    #: seconds of requests' wall time the sampler saw blocked at these calls (None: not sampled)
    measured_s: float | None = None

    @property
    def shown_payoff(self) -> str:
        """The pay-off as people read it (``<0.01`` rather than a misleading ``0.00``)."""
        if 0 < self.payoff < 0.01:
            return "<0.01"
        return f"{self.payoff:.2f}"

    def as_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "function": self.function, "site": self.site,
                "sites": list(self.sites), "call": self.call, "kind": self.kind,
                "status": self.status, "change": self.change, "payoff": round(self.payoff, 3),
                "basis": self.basis, "routes": list(self.routes),
                "measured_s": None if self.measured_s is None else round(self.measured_s, 3)}


@dataclass(slots=True)
class LiveInfo:
    """Where the live figures came from and whether they carry per-endpoint data."""

    source: str
    per_endpoint: bool
    note: str
    process: dict[str, Any] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    #: sampled figures of endpoints seen live that the source does not declare (their waiting
    #: still counts in the ranking: a route registered at run time is still a route)
    unmatched_sampled: dict[str, SampledTime] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "per_endpoint": self.per_endpoint, "note": self.note,
                "process": dict(self.process), "unmatched_endpoints": list(self.unmatched)}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(slots=True)
class Report:
    """The whole report."""

    paths: list[str]
    routes: list[RouteReport]
    modules: list[ModuleCounts]
    sites: list[IOSite]
    steps: list[Step] = field(default_factory=list)
    live: LiveInfo | None = None
    files: int = 0
    lines: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    compare: dict[str, Any] | None = None

    @property
    def live_given(self) -> bool:
        """Per-endpoint live figures were given (routes never seen are then ``unknown``)."""
        return bool(self.live and self.live.per_endpoint)

    @property
    def headline(self) -> dict[str, Any]:
        """The figures a dashboard tracks: IO call sites on the loop, routes with no blocking IO
        found statically (``routes_clean``), and with live figures what was measured."""
        total = len(self.sites)
        migrated = sum(1 for s in self.sites if s.status == "migrated")
        clean = sum(1 for r in self.routes if r.clean)
        verdicts = [r.verdict(self.live_given)[0] for r in self.routes]
        measured = self.live_given and any(r.live and r.live.sampled for r in self.routes)
        return {"io_sites": total, "io_sites_on_loop": migrated,
                "share_on_loop": _share(migrated, total), "routes": len(self.routes),
                "routes_clean": clean, "share_routes_clean": _share(clean, len(self.routes)),
                "stalls_loop_sites": sum(1 for s in self.sites if s.status == "stalls_loop"),
                "routes_measured_blocked": verdicts.count("measured_blocked") if measured else None,
                "routes_measured_clear": verdicts.count("measured_clear") if measured else None,
                "routes_unknown": verdicts.count("unknown") if self.live_given else None}

    def as_dict(self) -> dict[str, Any]:
        """The JSON document (schema :data:`SCHEMA`)."""
        return {"schema": SCHEMA, "paths": list(self.paths), "headline": self.headline,
                "routes": [r.as_dict(self.live_given) for r in self.routes],
                "modules": [m.as_dict() for m in self.modules],
                "sites": [s.as_dict() for s in self.sites],
                "steps": [s.as_dict() for s in self.steps],
                "live": self.live.as_dict() if self.live else None,
                "compare": self.compare,
                "scan": {"files": self.files, "lines": self.lines,
                         "seconds": round(self.seconds, 3), "problems": list(self.problems)}}
