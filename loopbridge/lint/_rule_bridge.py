"""LB4xx: the bridge's own sync entry points (and other sync runners) used inside a coroutine.

``bridge.run``, ``asyncio.run`` and ``loop.run_until_complete`` wait for a coroutine to finish;
a ``bridge.to_sync`` or ``asgiref`` ``async_to_sync`` wrapper does the same. Inside a coroutine
they block the loop, and on the core loop itself they deadlock. The fix is to await directly.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._index import FunctionInfo
from ._model import Finding, Rule
from ._resolve import Project
from ._rule_base import (
    Checker,
    RuleFamily,
    display_name,
    finding,
    on_loop,
    unawaited_calls,
)

__all__ = ["FAMILY", "RULES", "check"]

RULES = (
    Rule("LB401", "sync-runner-in-coroutine",
         "bridge.run / asyncio.run / run_until_complete called inside a coroutine",
         "await the awaitable directly"),
    Rule("LB402", "sync-wrapper-in-coroutine",
         "a bridge.to_sync or async_to_sync wrapper called inside a coroutine",
         "await the wrapped async function directly"),
)

_CODES = frozenset(rule.code for rule in RULES)


def check(fn: FunctionInfo, project: Project) -> Iterator[Finding]:
    """Yield LB4xx findings for the direct calls of an ``async def``."""
    for site in unawaited_calls(fn):
        found = project.callee(site)
        if found is None or not on_loop(site, fn, project):
            continue
        target = found.fn
        if found.kind == "wrapper" and target is not None:
            message = (f"{target.display}() is a to_sync wrapper: called in async {fn.display}() "
                       "it blocks the event loop (and deadlocks on the core loop); await the "
                       "async function directly")
            yield finding(fn, site, "LB402", message, key=target.qualname)
            continue
        entry = project.blocking_entry_for(site)
        if entry is None or entry.code not in _CODES:
            continue
        message = (f"{display_name(entry.name)}() inside async {fn.display}(): {entry.why}; "
                   f"instead {entry.instead}")
        yield finding(fn, site, entry.code, message, key=entry.name)


def _start(project: Project) -> Checker:
    return lambda fn: check(fn, project)


FAMILY = RuleFamily("bridge", RULES, _start)
