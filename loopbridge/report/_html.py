"""The report as one self-contained HTML page: inline CSS and SVG, no script, no network.

The per-route chart is a stacked bar per route (IO call sites it reaches, by where they
run); with live figures each row also shows the requests and the worker time spent outside
the loop. The ranked next steps follow, then the per-module table. The JSON form of the
report is embedded (``<script type="application/json" id="report-data">``) for tools.
"""

from __future__ import annotations

import html
import json

from ._model import STATUSES, Report, RouteReport

__all__ = ["render_html"]

_COLOURS = {"migrated": "#2e8b57", "offloaded": "#d4a017", "blocking": "#e4572e",
            "stalls_loop": "#8b0000"}
_LABELS = {"migrated": "on the loop", "offloaded": "offloaded to a thread",
           "blocking": "blocks a worker thread", "stalls_loop": "stalls the loop"}
_STEPS_SHOWN = 25
_ROUTES_CHARTED = 150

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;
color:#1d232a;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#5b6570;margin:0 0 16px}
.cards{display:flex;gap:16px;flex-wrap:wrap}
.card{border:1px solid #d8dde3;border-radius:8px;padding:12px 16px;min-width:220px}
.card .big{font-size:28px;font-weight:600}
.card .sub{color:#5b6570}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e6e9ed;vertical-align:top}
th{background:#f4f6f8}td.num,th.num{text-align:right}
.legend span{display:inline-block;margin-right:16px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
.note{background:#fff7e0;border:1px solid #f0d68a;border-radius:6px;padding:8px 12px}
ol.steps li{margin-bottom:8px}.steps code{background:#f4f6f8;padding:0 3px}
.change{color:#38424c}
svg text{font:12px system-ui,sans-serif;fill:#1d232a}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _chart(routes: list[RouteReport], live: bool) -> str:
    label_w, bar_w, extra_w, row_h = 330, 430, 300 if live else 40, 24
    width = label_w + bar_w + extra_w
    height = row_h * max(len(routes), 1) + 8
    biggest = max((len(r.sites) for r in routes), default=0) or 1
    parts = [(f'<svg id="route-chart" role="img" aria-label="IO call sites per route" '
             f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">')]
    for i, route in enumerate(routes):
        y = 4 + i * row_h
        label = f"{' '.join(route.methods)} {route.rule}"
        if len(label) > 46:
            label = label[:45] + "…"
        parts.append(f'<text x="0" y="{y + 15}">{_e(label)}</text>')
        x = float(label_w)
        counts = route.counts
        for status in STATUSES:
            n = counts[status]
            if not n:
                continue
            w = bar_w * n / biggest
            parts.append(f'<rect class="bar {status}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" '
                         f'height="{row_h - 8}" fill="{_COLOURS[status]}"><title>{_e(route.endpoint)}'
                         f': {n} {_LABELS[status]}</title></rect>')
            x += w
        total = len(route.sites)
        tail = f"{total} IO" if total else "no IO found"
        if live:
            sampled = route.live.sampled if route.live else None
            if route.live and sampled is not None and sampled.samples:
                tail += f" · {route.live.requests} req · {(sampled.blocked_share or 0.0) * 100:.0f} % blocked (measured)"
            elif route.live:
                tail += f" · {route.live.requests} req · {route.live.blocking_ms:.0f} ms off loop"
            else:
                tail += " · never seen live" + ("" if total else ": unknown")
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}">{_e(tail)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _measured_card(head: dict[str, object]) -> str:
    if head["routes_measured_blocked"] is None:
        return ""
    return (f'<div class="card" id="measured"><div class="big">{head["routes_measured_blocked"]}</div>'
            f'<div class="sub">routes measured blocked off the loop; {head["routes_measured_clear"]} with '
            f'no time blocked; {head["routes_unknown"]} unknown (never seen live, no findings)</div></div>')


def render_html(report: Report) -> str:
    """The whole page as a string (UTF-8, self-contained)."""
    head = report.headline
    live = report.live
    per_endpoint = bool(live and live.per_endpoint)
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>loopbridge report</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>loopbridge migration report</h1>",
           (f'<p class="meta">{_e(", ".join(report.paths))} · {report.files} files · '
           f"{report.lines} lines · scanned in {report.seconds:.2f} s</p>"),
           '<div class="cards">',
           (f'<div class="card" id="share-on-loop"><div class="big">{_pct(head["share_on_loop"])}'
           f'</div><div class="sub">IO call sites on the loop ({head["io_sites_on_loop"]} of '
           f'{head["io_sites"]})</div></div>'),
           (f'<div class="card" id="share-routes-clean"><div class="big">'
           f'{_pct(head["share_routes_clean"])}</div><div class="sub">routes with no blocking IO '
           f'found statically ({head["routes_clean"]} of {head["routes"]}): not found is not none '
           "left</div></div>"),
           _measured_card(head),
           (f'<div class="card"><div class="big">{head["stalls_loop_sites"]}</div>'
           '<div class="sub">blocking calls on the loop itself</div></div></div>')]
    changes = report.compare
    if changes is not None:
        on = changes["headline"]["io_sites_on_loop"]
        moved = len(changes["moved_to_loop"])
        back = len(changes["moved_off_loop"]) + len(changes["new_blocking"])
        out.append(f'<p class="note" id="since">Since {_e(changes["source"])}: IO call sites on '
                   f'the loop {_e(on["before"])} → {_e(on["now"])}; {moved} moved to the loop, '
                   f"{back} new or moved back to blocking.</p>")
    if live is not None:
        out.append(f'<p class="note" id="live-note">Live stats from {_e(live.source)}: '
                   f"{_e(live.note)}</p>")
    out.append("<h2>Routes</h2>")
    out.append('<p class="legend">' + "".join(
        f'<span><i style="background:{_COLOURS[s]}"></i>{_LABELS[s]}</span>' for s in STATUSES)
        + "</p>")
    shown = report.routes
    if len(shown) > _ROUTES_CHARTED:  # the routes with the most IO not on the loop, in rule order
        open_io = {id(r): sum(1 for s in r.sites.values() if s != "migrated")
                   + (1000 * r.live.sampled.waiting if r.live and r.live.sampled else 0) for r in shown}
        worst = sorted((r for r in shown if open_io[id(r)]), key=lambda r: -open_io[id(r)])
        keep = {id(r) for r in worst[:_ROUTES_CHARTED]}
        shown = [r for r in shown if id(r) in keep]
        if len(worst) > _ROUTES_CHARTED:
            what = f"The {len(shown)} routes with the most IO not on the loop, of {len(report.routes)}"
        else:  # fewer have any: list those, never pad with routes that have none
            what = (f"The {len(shown)} routes with IO not on the loop, of {len(report.routes)} (the other "
                    f"{len(report.routes) - len(shown)} have none found)")
        out.append(f'<p id="routes-charted">{what}; every route is in the JSON form.</p>')
    out.append(_chart(shown, per_endpoint) if shown else "<p>No Flask routes found.</p>")
    out.append("<h2>Next steps, best pay-off first</h2>")
    if report.steps:
        out.append('<ol class="steps" id="steps">')
        for step in report.steps[:_STEPS_SHOWN]:
            routes = ", ".join(step.routes[:6]) + (" …" if len(step.routes) > 6 else "")
            out.append(f"<li><code>{_e(step.function)}()</code>: <code>{_e(step.call)}</code> "
                       f"at <code>{_e(step.site)}</code> "
                       f"({_e(step.kind)}, {_LABELS[step.status]}) — pay-off "
                       f"{step.shown_payoff}, {_e(step.basis)}"
                       f'{"; routes: " + _e(routes) if routes else ""}'
                       f'<div class="change">Change: {_e(step.change)}</div></li>')
        out.append("</ol>")
        if len(report.steps) > _STEPS_SHOWN:
            out.append(f"<p>… and {len(report.steps) - _STEPS_SHOWN} more in the JSON form.</p>")
    else:
        out.append('<p id="steps">Nothing left to migrate.</p>')
    out.append("<h2>Modules</h2><table id=\"modules\"><thead><tr><th>module</th>"
               '<th class="num">IO sites</th><th class="num">on the loop</th>'
               '<th class="num">blocking</th><th class="num">offloaded</th>'
               '<th class="num">stall the loop</th><th class="num">share on loop</th>'
               "</tr></thead><tbody>")
    for m in report.modules:
        c = m.counts
        out.append(f"<tr><td>{_e(m.path)}</td><td class=num>{m.total}</td>"
                   f"<td class=num>{c['migrated']}</td><td class=num>{c['blocking']}</td>"
                   f"<td class=num>{c['offloaded']}</td><td class=num>{c['stalls_loop']}</td>"
                   f"<td class=num>{_pct(c['migrated'] / m.total if m.total else None)}</td></tr>")
    out.append("</tbody></table>")
    # as JSON escapes: no "</script" and no "<!--" (which would change how the rest parses)
    data = (json.dumps(report.as_dict(), sort_keys=True)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    out.append(f'<script type="application/json" id="report-data">{data}</script>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
