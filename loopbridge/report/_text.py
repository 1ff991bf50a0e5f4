"""The terminal form of the report: the headline, a table per route and per module, next steps."""

from __future__ import annotations

from typing import Any

from ._model import Report

__all__ = ["render_text"]

_STEPS_SHOWN = 10


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    numeric = [all(r[i].replace(".", "").replace(" %", "").isdigit() or r[i] in ("", "-", "n/a")
                   for r in rows) and i > 0 for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w)
                         for c, w, n in zip(cells, widths, numeric)).rstrip()

    return [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _since(changes: dict[str, Any]) -> list[str]:
    head = changes["headline"]
    on, clean = head["io_sites_on_loop"], head["routes_clean"]
    out = [(f"Since {changes['source']}: IO call sites on the loop {on['before']} -> {on['now']}, "
           f"routes with no blocking IO {clean['before']} -> {clean['now']}")]
    for title, key in (("moved to the loop", "moved_to_loop"),
                       ("moved off the loop", "moved_off_loop"),
                       ("new blocking calls", "new_blocking"),
                       ("blocking calls gone", "blocking_removed"),
                       ("routes now clean", "routes_now_clean"),
                       ("routes no longer clean", "routes_no_longer_clean")):
        for item in changes[key]:
            out.append(f"  {title}: {item}")
    return out


def render_text(report: Report) -> str:
    """The report as plain text for a terminal (no colour, fixed-width tables)."""
    head = report.headline
    out = [
        (f"loopbridge report: {', '.join(report.paths)}  ({report.files} files, "
        f"{report.lines} lines, {report.seconds:.2f} s)"),
        "",
        (f"IO call sites on the loop: {head['io_sites_on_loop']} of {head['io_sites']} "
        f"({_pct(head['share_on_loop'])})"),
        (f"Routes with no blocking IO found statically: {head['routes_clean']} of {head['routes']} "
        f"({_pct(head['share_routes_clean'])}); not found is not none left: calls behind code the "
        "analysis does not follow (an ORM wrapper) are not seen, --stats measures them"),
    ]
    if head["routes_measured_blocked"] is not None:
        out.append(f"Measured live (sampled worker threads): {head['routes_measured_blocked']} routes blocked "
                   f"off the loop, {head['routes_measured_clear']} with no time blocked; "
                   f"{head['routes_unknown']} never seen live and without findings: unknown")
    elif head["routes_unknown"] is not None:
        out.append(f"Never seen live and without findings (unknown): {head['routes_unknown']} routes")
    if head["stalls_loop_sites"]:
        out.append(f"Blocking calls on the loop itself: {head['stalls_loop_sites']} "
                   "(run `loopbridge lint`)")
    live = report.live
    if live is not None:
        out.append(f"Live stats: {live.source}: {live.note}")
        if live.unmatched:
            out.append("Seen live but not found in the source: " + ", ".join(live.unmatched))
    if report.compare is not None:
        out += ["", *_since(report.compare)]
    out += ["", "Routes"]
    rows = []
    for r in report.routes:
        c = r.counts
        kinds = ", ".join(f"{k} {sum(v for s, v in per.items() if s != 'migrated')}"
                          for k, per in sorted(r.by_kind.items())
                          if any(v for s, v in per.items() if s != "migrated"))
        row = [" ".join(r.methods), r.rule, r.endpoint, r.view_kind, str(c["migrated"]),
               str(c["blocking"]), str(c["offloaded"]), str(c["stalls_loop"]), kinds or "-"]
        if live is not None and live.per_endpoint:
            seen = r.live
            sampled = seen.sampled if seen else None
            row += ([str(seen.requests), f"{seen.total_ms:.0f}",
                     _pct(seen.bridged_ms / seen.total_ms if seen.total_ms else None),
                     _pct(sampled.blocked_share) if sampled else "-",
                     str(seen.stalls)] if seen else ["-", "-", "-", "-", "-"])
        row.append(r.verdict(report.live_given)[1])
        rows.append(row)
    headers = ["methods", "rule", "endpoint", "view", "loop", "block", "offl", "stall",
               "blocking by kind"]
    if live is not None and live.per_endpoint:
        headers += ["reqs", "total ms", "bridged", "blocked", "stalls"]
    headers.append("what is known")
    out += _table(headers, rows) if rows else ["(no Flask routes found)"]
    out += ["", "Modules"]
    mrows = [[m.path, str(m.total), str(m.counts["migrated"]), str(m.counts["blocking"]),
              str(m.counts["offloaded"]), str(m.counts["stalls_loop"]),
              _pct(m.counts["migrated"] / m.total if m.total else None)]
             for m in report.modules]
    out += _table(["module", "io", "loop", "block", "offl", "stall", "on loop"], mrows) \
        if mrows else ["(no IO call sites found)"]
    out += ["", "Next steps (best pay-off first)"]
    if not report.steps:
        out.append("(nothing left to migrate)")
    for step in report.steps[:_STEPS_SHOWN]:
        out.append(f"{step.rank:>3}. {step.function}() at {step.site}: {step.call} "
                   f"[{step.kind}, {step.status}, {len(step.sites)} call(s)] "
                   f"pay-off {step.shown_payoff} ({step.basis})")
        out.append(f"     change: {step.change}")
    if len(report.steps) > _STEPS_SHOWN:
        out.append(f"     ... {len(report.steps) - _STEPS_SHOWN} more in --format json / html")
    for problem in report.problems:
        out.append(f"skipped: {problem}")
    return "\n".join(out) + "\n"
