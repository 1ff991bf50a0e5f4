"""LB2xx: an ``async def`` calls a project function that blocks, directly or through a chain.

:class:`Reach` decides, on demand and only for the functions a coroutine can reach, which sync
project functions block and through which calls. A newly reached part of the call graph is
explored first, then blocking-ness flows backwards from the functions that block directly
(a breadth-first pass, so cycles cost nothing and the chain reported is a shortest one).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import NamedTuple

from ._catalogue import Entry
from ._index import GUARDED, CallSite, FunctionInfo
from ._model import ChainLink, Finding, Rule
from ._resolve import Project
from ._rule_base import (
    Checker,
    RuleFamily,
    display_name,
    finding,
    on_loop,
    unawaited_calls,
)

__all__ = ["FAMILY", "MAX_LIBRARY_DEPTH", "RULES", "Hop", "Reach", "check"]

RULES = (
    Rule("LB201", "transitive-blocking-call",
         "a call from a coroutine to a project function that blocks, directly or through a "
         "chain of calls", "await bridge.to_async(fn)(...) / asyncio.to_thread(fn, ...), or "
         "make the helper async and await an async API inside it"),
    Rule("LB202", "transitive-sync-runner",
         "a call from a coroutine to a project function that ends in bridge.run, asyncio.run "
         "or a to_sync wrapper (blocks, and deadlocks on the core loop)",
         "give the helper an async variant and await it"),
)


#: A chain goes through at most this many functions of installed libraries (their call
#: graphs are large: the walk stops there, and what lies deeper is unknown).
MAX_LIBRARY_DEPTH = 5


class Hop(NamedTuple):
    """One step of a blocking chain, taken at ``site``: exactly one of the three is set.

    ``entry`` the call blocks itself (a catalogue entry), ``wrapper`` it calls a ``to_sync``
    wrapper, ``callee`` the qualified name of the next project function on the chain.
    """

    site: CallSite
    entry: Entry | None = None
    wrapper: FunctionInfo | None = None
    callee: str = ""


class Reach:
    """Which sync project functions block, and the first hop of a shortest blocking chain."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.via: dict[str, Hop | None] = {}

    def _edges(self, fn: FunctionInfo) -> tuple[Hop | None, list[tuple[CallSite, str]]]:
        project = self.project
        direct: Hop | None = None
        calls: list[tuple[CallSite, str]] = []
        for site in fn.calls:
            if site.target is None or site.flags & GUARDED or not on_loop(site, fn, project):
                continue
            found = project.callee_in(site, fn)
            if found is None:
                continue
            kind = found.kind
            if kind == "block" and direct is None:
                entry = project.blocking_entry_for(site)
                if entry is not None and entry.transitive:
                    direct = Hop(site, entry=entry)
            elif kind == "wrapper" and direct is None and found.fn is not None:
                direct = Hop(site, wrapper=found.fn)
            elif kind == "sync" and found.fn is not None:
                calls.extend((site, alt.qualname) for alt in found.alts or (found.fn,))
        return direct, calls

    def blocks(self, fn: FunctionInfo) -> Hop | None:
        """Return the first hop of a blocking chain from ``fn``, or ``None``."""
        if fn.qualname in self.via:
            return self.via[fn.qualname]
        functions = self.project.functions
        origin = self.project.origin
        explored: dict[str, tuple[Hop | None, list[tuple[CallSite, str]]]] = {}
        stack = [(fn.qualname, 0)]
        while stack:
            name, depth = stack.pop()
            if name in explored or name in self.via or name not in functions:
                continue
            if functions[name].module.modname in origin:  # installed library code: bounded
                depth += 1
                if depth > MAX_LIBRARY_DEPTH:
                    continue
            edges = explored[name] = self._edges(functions[name])
            stack.extend((callee, depth) for _, callee in edges[1] if callee not in explored)
        self._settle(explored)
        return self.via.get(fn.qualname)

    def _settle(self, explored: dict[str, tuple[Hop | None, list[tuple[CallSite, str]]]]) -> None:
        callers: dict[str, list[tuple[str, CallSite]]] = {}
        queue: deque[str] = deque()
        via = self.via
        for name, (direct, calls) in explored.items():
            if direct is not None:
                via[name] = direct
                queue.append(name)
        for name, (direct, calls) in explored.items():
            if direct is not None:
                continue
            for site, callee in calls:
                if callee in explored:
                    callers.setdefault(callee, []).append((name, site))
                elif via.get(callee) is not None and name not in via:
                    via[name] = Hop(site, callee=callee)
                    queue.append(name)
        while queue:
            name = queue.popleft()
            for caller, site in callers.get(name, ()):
                if caller not in via:
                    via[caller] = Hop(site, callee=name)
                    queue.append(caller)
        for name in explored:
            via.setdefault(name, None)

    def chain(self, fn: FunctionInfo) -> list[tuple[FunctionInfo, Hop]]:
        """The hops of the chain from ``fn`` to the blocking call (empty if it does not block)."""
        hops: list[tuple[FunctionInfo, Hop]] = []
        current: FunctionInfo | None = fn
        seen: set[str] = set()
        while current is not None and current.qualname not in seen:
            seen.add(current.qualname)
            hop = self.blocks(current)
            if hop is None:
                return []
            hops.append((current, hop))
            current = self.project.functions.get(hop.callee) if hop.callee else None
        return hops


def _terminal(hop: Hop) -> tuple[str, str, bool]:
    """Label, key and whether the chain ends in a sync runner or wrapper."""
    if hop.wrapper is not None:
        return f"{hop.wrapper.display} (a to_sync wrapper)", hop.wrapper.qualname, True
    entry = hop.entry
    assert entry is not None, "a chain ends in a wrapper or a catalogue entry"
    return display_name(entry.name), entry.name, entry.code in ("LB401", "LB402")


def check(fn: FunctionInfo, project: Project, reach: Reach) -> Iterator[Finding]:
    """Yield LB2xx findings for the calls of an ``async def`` to blocking project functions."""
    for site in unawaited_calls(fn):
        found = project.callee_in(site, fn)
        if found is None or found.kind != "sync" or found.fn is None \
                or not on_loop(site, fn, project):
            continue
        # one of several callees (a dispatch table, an overridden method): the first that blocks
        callee, hops = found.fn, []
        for candidate in found.alts or (found.fn,):
            hops = reach.chain(candidate)
            if hops:
                callee = candidate
                break
        if not hops:
            continue
        last_fn, last_hop = hops[-1]
        label, key, runner = _terminal(last_hop)
        names = [f"{fn.display}()"] + [f"{hop_fn.display}()" for hop_fn, _ in hops]
        where = f"{last_fn.module.path}:{last_hop.site.line}"
        text = " → ".join(names + [label]) + f"  ({where})"
        links = [ChainLink(fn.module.path, site.line, site.col + 1, f"{fn.display}() calls "
                           f"{callee.display}()")]
        for hop_fn, hop in hops:
            nxt = project.functions[hop.callee].display + "()" if hop.callee else label
            links.append(ChainLink(hop_fn.module.path, hop.site.line, hop.site.col + 1,
                                   f"{hop_fn.display}() calls {nxt}"))
        chain_key = " → ".join([h.qualname for h, _ in hops] + [key])
        if runner:
            message = (f"{callee.display}() runs a coroutine synchronously: {text}; called from "
                       "a coroutine it blocks the loop (deadlocks on the core loop) — give it an "
                       "async variant and await that")
            yield finding(fn, site, "LB202", message, chain_key, tuple(links))
        else:
            message = (f"{callee.display}() blocks the event loop: {text}; call it with await "
                       "bridge.to_async(...) / asyncio.to_thread(...), or make it async")
            yield finding(fn, site, "LB201", message, chain_key, tuple(links))


def _start(project: Project) -> Checker:
    reach = Reach(project)
    return lambda fn: check(fn, project, reach)


FAMILY = RuleFamily("transitive", RULES, _start)
