"""The next steps, ordered by expected pay-off.

A step is the IO calls of one kind, in one function, that run in the same place and take
the same change (three ``conn.execute`` in one helper are one step: the change is made once,
in that helper). Its pay-off is summed over its call sites and the routes that reach them:

- with live per-endpoint figures, a route contributes the worker time its requests spent
  outside bridged calls (``total_ms - bridged_ms``, in seconds), shared among the route's
  call sites not yet on the loop in proportion to their static weight below (steps whose
  routes saw no traffic tie at 0 and keep the static order among themselves);
- without them, a route contributes the weight of the kind of IO (:data:`KIND_WEIGHT`: a
  network round trip costs more than a local SQLite query or a small file read), times
  :data:`LOOP_FACTOR` when the call sits in the body of a ``for`` loop (once per item; a
  ``while`` retry loop and an ``except`` path are not counted as loops).

Either is multiplied by how much a call hurts where it runs (:data:`SEVERITY`): 10 when it
stalls the loop (every request of the process waits), 1 when it blocks a worker thread,
0.25 when a coroutine already handed it to a thread. A call no route reaches ranks only if
it stalls the loop.
"""

from __future__ import annotations

import os
from typing import Any

from ._fixes import fix_for
from ._model import IOSite, Report, RouteReport, SampledTime, Step

__all__ = ["KIND_WEIGHT", "LOOP_FACTOR", "SEVERITY", "measure", "rank"]

#: How much a call hurts, by where it runs.
SEVERITY = {"stalls_loop": 10.0, "blocking": 1.0, "offloaded": 0.25, "migrated": 0.0}
#: A call in the body of a ``for`` loop runs once per item: its static weight is multiplied.
LOOP_FACTOR = 10.0
#: Static weight of one call by kind (used when there is no traffic data).
KIND_WEIGHT = {"http": 5.0, "network": 3.0, "subprocess": 3.0, "runner": 2.0, "db": 1.0,
               "sleep": 1.0, "wait": 1.0, "input": 1.0, "configured": 1.0, "file": 0.5,
               "loop": 0.0}


def _weight(site: IOSite) -> float:
    return KIND_WEIGHT.get(site.kind, 1.0) * (LOOP_FACTOR if site.in_loop else 1.0)


def _site_payoff(routes: dict[str, RouteReport], site: IOSite,
                 open_weight: dict[str, float]) -> tuple[float, float, float]:
    """(live pay-off, static pay-off, live seconds) of migrating one call site."""
    payoff = static = seconds = 0.0
    weight = _weight(site)
    for endpoint in site.routes:
        route = routes.get(endpoint)
        if route is None:
            continue
        severity = SEVERITY[route.sites.get(site.id, site.status)]
        static += severity * weight
        if route.live is not None and open_weight[endpoint] > 0:
            share = route.live.blocking_ms / 1000 * weight / open_weight[endpoint]
            seconds += share
            payoff += severity * share
    if not site.routes:
        payoff, static = SEVERITY["stalls_loop"], SEVERITY["stalls_loop"] * weight
    return payoff, static, seconds


def rank(report: Report) -> list[Step]:
    """The steps of ``report``, best pay-off first."""
    live = bool(report.live and report.live.per_endpoint
                and any(r.live for r in report.routes))
    weights = {s.id: _weight(s) for s in report.sites}
    open_weight = {r.endpoint: sum(weights.get(key, 1.0) for key, status in r.sites.items()
                                   if status != "migrated") for r in report.routes}
    routes = {r.endpoint: r for r in report.routes}
    site_loops = {s.id: s.in_loop for s in report.sites}
    groups: dict[tuple[str, str, str, str, str], Step] = {}
    seconds: dict[tuple[str, str, str, str, str], float] = {}
    statics: dict[tuple[str, str, str, str, str], float] = {}
    for site in report.sites:
        if site.status == "migrated" or (not site.routes and site.status != "stalls_loop"):
            continue
        payoff, static, secs = _site_payoff(routes, site, open_weight)
        key = (site.path, site.function, site.kind, site.status, site.fix)
        step = groups.get(key)
        if step is None:
            step = groups[key] = Step(0, site.function, site.id, site.call, site.kind,
                                      site.status, site.fix, 0.0, "", [], [])
            seconds[key] = statics[key] = 0.0
        step.payoff += payoff if live else static
        statics[key] += static
        seconds[key] += secs
        step.sites.append(site.id)
        step.routes = sorted(set(step.routes) | set(site.routes))
        if site.call not in step.call.split(", "):
            step.call += f", {site.call}"
    for key, step in groups.items():
        calls = f"{len(step.sites)} call(s)"
        looped = sum(1 for site in step.sites if site_loops.get(site, False))
        if looped:  # as many as the JSON marks in_loop, never the whole step
            calls += " in a for loop" if looped == len(step.sites) else f", {looped} in a for loop"
        if live:
            step.basis = (f"live: {seconds[key]:.3f} s of worker time outside the loop; "
                          f"{calls}, {len(step.routes)} route(s)")
        elif step.routes:
            step.basis = f"static: {calls} × {len(step.routes)} route(s) × {step.kind} weight"
        else:
            step.basis = f"static: {calls} that stall the loop wherever they run"
    order = {id(step): statics[key] for key, step in groups.items()}
    measured_steps = measure(report, groups)
    for step in measured_steps:
        order[id(step)] = 0.0
    # measured waiting first; then advice that says "leave it" never above a step that moves
    # real waiting; equal live pay-offs (no traffic seen on any of their routes) fall back to
    # the static order
    steps = sorted([*groups.values(), *measured_steps],
                   key=lambda s: (-(s.measured_s or 0.0), _leave_it(s), -s.payoff, -order[id(s)], s.site))
    for i, step in enumerate(steps, 1):
        step.rank = i
    return steps


_FANOUT_FIX = ("a thread pool runs {worker} for each item of one request{parallel}: the textbook case for "
               "bridge.http.map(urls, concurrency=N) — one call from the view, responses in order, errors "
               "as values, no pool threads held (for HTTP; other IO: asyncio.gather of its async API)")
_MEASURED_FILE_FIX = ("measured, not cheap here: in an async view await asyncio.to_thread(...), or move "
                      "the file work out of the request")
_TEMPLATE_FIX = ("a template runs this query while it renders (an ORM relationship loaded lazily, "
                 "one query per row): load what it shows in the view, with the main query (selectinload / "
                 "joinedload), so the waiting happens once, in code you can move with "
                 "await bridge.to_async(fn)(...) from an async view")
_TEMPLATES = (".html", ".htm", ".jinja", ".jinja2", ".j2", ".xml", ".txt")
_BLIND = "not found statically (reached through code the analysis does not follow, e.g. an ORM wrapper)"


def _leave_it(step: Step) -> bool:
    return "leave it" in step.change


def _seconds(samples: int, sampled: SampledTime) -> float:
    return samples * sampled.interval_ms / 1000


def _split_site(site: str) -> tuple[str, int]:
    path, _, line = site.rpartition(":")
    return os.path.basename(path), int(line) if line.isdigit() else 0


def measure(report: Report, groups: dict[tuple[str, str, str, str, str], Step]) -> list[Step]:
    """Give the steps the time the sampler saw blocked at their calls (``measured_s``), and make
    a step of each sampled place the static half did not find (and of each thread-pool fan-out).

    A sampled place is matched to a static call site by file and line, else by file, function
    and kind. Returns the new steps; ``groups`` are changed in place.
    """
    sampled_routes = [r for r in report.routes if r.live and r.live.sampled and r.live.sampled.samples]
    unmatched = report.live.unmatched_sampled if report.live else {}
    if not sampled_routes and not unmatched:
        return []
    sites = {s.id: s for s in report.sites}
    by_line: dict[tuple[str, int], Step] = {}
    by_function: dict[tuple[str, str, str], Step] = {}
    for step in groups.values():
        for site_id in step.sites:
            site = sites[site_id]
            by_line.setdefault((os.path.basename(site.path), site.line), step)
            by_function.setdefault((os.path.basename(site.path), site.function, site.kind), step)
    reached = {e for r in sampled_routes for e in [r.endpoint]}
    for step in groups.values():
        if reached & set(step.routes):
            step.measured_s = 0.0
    extra: dict[tuple[str, str, str], Step] = {}
    samples: dict[int, int] = {}
    measured = [(r.endpoint, r.live.sampled) for r in sampled_routes if r.live and r.live.sampled]
    measured += [(name, figures) for name, figures in sorted(unmatched.items()) if figures.samples]
    for endpoint, sampled in measured:
        for place in sampled.where:
            kind = place["kind"] or "wait"
            found = _match(place, kind, by_line, by_function)
            if found is None:
                key = (place["site"], place["function"], kind)
                found = extra.get(key)
                if found is None:
                    in_template = _split_site(place["site"])[0].endswith(_TEMPLATES)
                    change = _TEMPLATE_FIX if in_template and kind == "db" else \
                        fix_for(kind, "blocking", place["primitive"] or "", None)
                    found = extra[key] = Step(0, place["function"], _full_site(report, place["site"]),
                                              f"{place['primitive'] or kind} (sampled)", kind, "blocking",
                                              change, 0.0, _BLIND, [], [], 0.0)
            _add(found, endpoint, _seconds(place["samples"], sampled), place["samples"], samples)
        for place in sampled.fanout_where:
            key = (place["site"], place["function"], "fanout")
            fan = extra.get(key)
            if fan is None:
                parallel = place.get("max_parallel") or 0
                change = _FANOUT_FIX.format(worker=f"{place['worker']}()" if place["worker"] else "one function",
                                            parallel=f" (up to {parallel} at once)" if parallel > 1 else "")
                fan = extra[key] = Step(0, place["function"], _full_site(report, place["site"]),
                                        f"thread-pool fan-out of {place['worker'] or '?'}", "http", "blocking",
                                        change, 0.0, "", [], [], 0.0)
            _add(fan, endpoint, _seconds(place["samples"], sampled), place["samples"], samples)
    interval = measured[0][1].interval_ms if measured else 0.0
    for step in [*groups.values(), *extra.values()]:
        if step.measured_s == 0.0:  # its routes were sampled and never seen blocked there
            step.payoff = 0.0
            step.basis = f"measured: not seen blocked in the samples of its routes; {step.basis}"
        if not step.measured_s:
            continue
        step.payoff = step.measured_s
        if step.kind == "file" and _leave_it(step):
            step.change = _MEASURED_FILE_FIX
        if step.call.endswith("(sampled)") or step.call.startswith("thread-pool"):
            how = _BLIND if step.basis == _BLIND else "a thread pool's futures, waited on by the request"
        else:
            how = f"found statically: {len(step.sites)} call(s)"
        step.basis = (f"measured: {step.measured_s:.3f} s blocked ({samples[id(step)]} samples every "
                      f"{interval:g} ms) on {len(step.routes)} route(s); {how}")
    return list(extra.values())


def _match(place: dict[str, Any], kind: str, by_line: dict[tuple[str, int], Step],
           by_function: dict[tuple[str, str, str], Step]) -> Step | None:
    """The static step of a sampled place: its line; else the line of a caller that reached it
    through library code (the app's requests adapter under the ``session.get`` the static half
    found); else its function. A caller that called the place's function directly is not
    matched: its line's IO is not what the place waited in."""
    step = by_line.get(_split_site(place["site"]))
    for frame in place.get("via", []):
        if step is not None or not frame.get("through_library"):
            break
        step = by_line.get(_split_site(frame["site"]))
    return step or by_function.get((_split_site(place["site"])[0], place["function"], kind))


def _add(step: Step, endpoint: str, seconds: float, count: int, samples: dict[int, int]) -> None:
    step.measured_s = (step.measured_s or 0.0) + seconds
    samples[id(step)] = samples.get(id(step), 0) + count
    if endpoint not in step.routes:
        step.routes = sorted({*step.routes, endpoint})
    if step.site not in step.sites and not step.sites:
        step.sites.append(step.site)


def _full_site(report: Report, site: str) -> str:
    """A sampled ``file:line`` with the scanned path when the stats cut it to a base name."""
    name, line = _split_site(site)
    if os.sep in site or "/" in site:
        return site
    paths = {m.path for m in report.modules} | {s.path for s in report.sites} | {r.path for r in report.routes}
    matches = sorted(p for p in paths if os.path.basename(p) == name)
    return f"{matches[0]}:{line}" if len(matches) == 1 else site
