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


from ._model import IOSite, Report, RouteReport, Step

__all__ = ["KIND_WEIGHT", "LOOP_FACTOR", "SEVERITY", "rank"]

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
    # equal live pay-offs (no traffic seen on any of their routes) fall back to the static order
    order = {id(step): statics[key] for key, step in groups.items()}
    steps = sorted(groups.values(), key=lambda s: (-s.payoff, -order[id(s)], s.site))
    for i, step in enumerate(steps, 1):
        step.rank = i
    return steps
