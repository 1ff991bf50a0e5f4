"""Which findings ``--fix`` can repair, how, and whether the repair is safe (pure, no libcst).

A *safe* fix keeps the meaning of the code except for the bug it removes: a coroutine call
left bare or assigned and never awaited is awaited, a dropped task is kept. An *unsafe* fix is
applied only with ``--unsafe-fixes`` because the behaviour can change in ways a person should
review (a different HTTP client, a call moved to another thread, a timeout dropped, a
``time.sleep`` that blocked on purpose turned into ``await asyncio.sleep``); docs/lint.md says
how for each. Transitive findings
(LB2xx) are never fixed: the blocking call lives in a helper, and the message names it.

A dropped task (LB310) is kept by a safe fix: the call is wrapped in a small helper
(:data:`KEEP_TASK`) that holds the task in a set until it is done, the pattern the asyncio
documentation recommends. A module in a package imports it from one helper module per package
(created once); a module outside any package gets it defined after its imports. The only
change is that the task can no longer be collected mid-flight; the helper's names start with
``_loopbridge_`` so they cannot collide with the module's.

The edits themselves are made by :mod:`loopbridge.lint._fix_apply` (libcst); this module only
decides, so that the docs, the JSON output and the tests can ask without loading libcst.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._model import Finding

__all__ = [
    "FIXABILITY",
    "KEEP_TASK",
    "REQUESTS_VERBS",
    "Edit",
    "Fix",
    "FixKind",
    "Suggestion",
    "plan_fix",
]

#: ``sleep`` time.sleep -> await asyncio.sleep; ``await`` await the coroutine;
#: ``await_arg`` bridge.run(c) / asyncio.run(c) -> await c; ``bridge_http`` requests.<verb> ->
#: await bridge.http.async_get / async_request; ``to_thread`` -> await asyncio.to_thread(...).
#: ``keep_task`` asyncio.create_task(c) -> _loopbridge_keep_task(asyncio.create_task(c)).
#: ``noqa`` removes the unused codes from a ``# noqa`` comment (a text edit, no libcst).
FixKind = Literal["sleep", "await", "await_arg", "bridge_http", "to_thread", "keep_task", "noqa"]

#: The helper the LB310 fix calls (added to the module once, after its imports).
KEEP_TASK = "_loopbridge_keep_task"

#: Module-level functions of requests that have a bridge.http async twin.
REQUESTS_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options",
                            "request"})

#: For each code: ``safe``, ``unsafe``, ``some`` (some findings, unsafe) or ``no``.
FIXABILITY: dict[str, str] = {
    "LB101": "unsafe", "LB102": "unsafe", "LB103": "unsafe", "LB104": "unsafe",
    "LB105": "some", "LB106": "unsafe", "LB107": "unsafe", "LB108": "some", "LB109": "unsafe",
    "LB201": "no", "LB202": "no", "LB203": "no",
    "LB301": "safe", "LB302": "safe", "LB303": "unsafe", "LB304": "unsafe", "LB305": "no",
    "LB306": "no", "LB307": "no", "LB308": "no", "LB309": "no", "LB310": "safe", "LB311": "no",
    "LB312": "some",
    "LB401": "unsafe", "LB402": "no",
    "LB801": "safe",
    "LB901": "no", "LB902": "no", "LB903": "no", "LB904": "no", "LB905": "no", "LB906": "no",
}

#: Thread waits that may move to a worker thread; the others (a lock's acquire, a
#: condition's wait) must stay in the thread that owns the lock.
_THREAD_WAITS = (".join", ".result", ".get", ".put", "Event.wait", "concurrent.futures.wait")


@dataclass(frozen=True, slots=True)
class Fix:
    """How one finding can be fixed."""

    kind: FixKind
    safe: bool
    #: One line for the JSON output and the docs: what the edit does.
    title: str


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text from (line, col) up to (end_line, end_col) by ``content``.

    Lines and columns are 1-based; columns count characters (code points); the end is
    exclusive, so an insertion has the end equal to the start.
    """

    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    content: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The fix of one finding as the JSON and SARIF outputs carry it."""

    fix: Fix
    edits: tuple[Edit, ...]


def plan_fix(finding: Finding) -> Fix | None:
    """The fix for ``finding``, or ``None`` when it is never fixed automatically.

    Where the call sits still matters (see :mod:`~loopbridge.lint._fix_apply`): only a call
    that is a plain statement, the value of an assignment or of a ``return`` directly inside
    the ``async def`` is rewritten.
    """
    code, key = finding.code, finding.key
    if code == "LB801":
        return Fix("noqa", True, "remove the codes that suppress nothing from the # noqa comment")
    if code == "LB102" and key == "time.sleep":
        # unsafe: code can block on purpose (a test of blocking detection, a comparison)
        return Fix("sleep", False, "await asyncio.sleep(...) instead of time.sleep(...)")
    if code == "LB312":  # a library's coroutine: fixed as the shape it was found in
        code = key.partition(":")[0]
    if code in ("LB301", "LB302"):
        return Fix("await", True, "await the coroutine")
    if code == "LB310":
        return Fix("keep_task", True, "keep a reference to the task until it is done")
    if code in ("LB303", "LB304"):
        return Fix("await", False, "await the coroutine where it is tested or formatted")
    if code == "LB401":
        return Fix("await_arg", False, "await the awaitable instead of running it to completion")
    if not code.startswith("LB1") or key.endswith((".__enter__", ".__iter__", ".__next__")):
        return None
    module, _, verb = key.rpartition(".")
    if code == "LB101" and module == "requests" and verb in REQUESTS_VERBS:
        return Fix("bridge_http", False, f"await bridge.http.async_* instead of requests.{verb}")
    if key.startswith("sqlite3."):
        return None  # sqlite3 objects refuse use from another thread (check_same_thread)
    if code == "LB108" and not key.endswith(_THREAD_WAITS):
        return None
    return Fix("to_thread", False, "run the call in a worker thread: await asyncio.to_thread(...)")
