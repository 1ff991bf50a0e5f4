"""LB1xx: a blocking call written directly in an ``async def``.

The callee is resolved through imports, aliases and the inferred type of the object it is
called on (``self.session = requests.Session()`` in ``__init__``, ``conn = sqlite3.connect()``,
an annotation), then looked up in the catalogue. Awaited calls are never flagged, and neither
are calls inside a lambda handed to a thread (``asyncio.to_thread``, an executor).
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

_FIX = ("await an async API instead (aiohttp, asyncio.sleep, an async driver), or move the "
        "call off the loop with bridge.to_async / asyncio.to_thread")

RULES = (
    Rule("LB101", "blocking-http", "synchronous HTTP request in a coroutine", _FIX),
    Rule("LB102", "blocking-sleep", "time.sleep in a coroutine", "await asyncio.sleep(...)"),
    Rule("LB103", "blocking-subprocess", "process started or waited for in a coroutine", _FIX),
    Rule("LB104", "blocking-file-io", "file-system IO in a coroutine", _FIX),
    Rule("LB105", "blocking-database", "synchronous database call in a coroutine", _FIX),
    Rule("LB106", "blocking-network", "blocking socket, TLS, DNS, mail or FTP call in a coroutine",
         _FIX),
    Rule("LB107", "blocking-input", "console input in a coroutine", _FIX),
    Rule("LB108", "blocking-thread-wait", "thread lock, event, queue, join or future wait in a "
         "coroutine", "use the asyncio primitive, or await asyncio.wrap_future(...)"),
    Rule("LB109", "blocking-configured", "a call configured as blocking in the project", _FIX),
)

_CODES = frozenset(rule.code for rule in RULES)


def check(fn: FunctionInfo, project: Project) -> Iterator[Finding]:
    """Yield LB1xx findings for the direct calls of an ``async def``."""
    for site in unawaited_calls(fn):
        entry = project.blocking_entry_for(site)
        if entry is None or entry.code not in _CODES or not on_loop(site, fn, project):
            continue
        name = display_name(entry.name)
        if not name.startswith("iterating "):
            name += "()"
        if site.name in ("read", "write") and "." in site.owner:  # json.load(fh) and the like
            name = f"{site.owner}() {'reading' if site.name == 'read' else 'writing'} a file: {name}"
        message = (f"{name} blocks the event loop in async {fn.display}(): {entry.why}; "
                   f"instead {entry.instead}")
        # a partial or lambda binds arguments the call does not show: keyed apart, so that
        # --fix offloads the bound callable itself instead of rewriting it to another client
        key = f"{entry.name} (bound)" if site.target and site.target[0] == "p" else entry.name
        yield finding(fn, site, entry.code, message, key=key)


def _start(project: Project) -> Checker:
    return lambda fn: check(fn, project)


FAMILY = RuleFamily("blocking", RULES, _start)
