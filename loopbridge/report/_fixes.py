"""The concrete change that migrates one IO call site, by kind and by where it runs.

On the loop (``stalls_loop``) the fix is the lint's own, from its catalogue entry. In a
worker thread the fix is the migration step of ``docs/migrating.md`` that fits the call.
"""

from __future__ import annotations

from typing import Any

__all__ = ["fix_for"]

_THREAD_FIXES = {
    "http": "replace it with bridge.http.{verb}(...) — same arguments, same requests "
            "exceptions; a loop of such calls becomes one bridge.http.map(urls, concurrency=N)",
    "db": "no async driver is in use: keep the query sync and, once the view is async, reach "
          "it with await bridge.to_async(fn)(...); or move to an async driver and await it",
    "file": "usually cheap: leave it, or in an async view await asyncio.to_thread(...)",
    "sleep": "make the view async and await asyncio.sleep(...): the worker thread is freed",
    "subprocess": "in an async view await asyncio.create_subprocess_exec(...) and "
                  "await proc.communicate()",
    "network": "use asyncio streams (await asyncio.open_connection) in an async view",
    "input": "read console input before serving requests",
    "wait": "in an async view await the asyncio primitive or asyncio.wrap_future(...)",
    "runner": "call bridge.run(coro) instead of starting a loop per call",
    "configured": "move it to an async API, or reach it with await bridge.to_async(fn)(...) "
                  "from an async view",
    "loop": "already on the shared loop",
}
_SESSION_FIX = ("mount bridge.http's transport adapter on this Session once, where it is built "
                "(session.mount('https://', ...), see docs/http.md): every call keeps its code")
_OFFLOADED = ("already off the loop, but it still holds a thread for the whole call: an async "
              "API for it ({kind}) frees the thread")


_LOOP_HTTP = ("it runs once per item of a for loop: turn the loop into one "
              "bridge.http.map(items, concurrency=N) (responses in order, errors as values, "
              "the except clauses kept)")


def fix_for(kind: str, status: str, name: str, entry: Any, in_loop: bool = False) -> str:
    """The change to make at a call site of ``name`` (a ``kind`` IO call) in ``status``."""
    if kind == "http" and in_loop and status == "blocking":
        if name.startswith("requests.Session."):
            return _LOOP_HTTP + "; or " + _SESSION_FIX
        return _LOOP_HTTP
    if status == "migrated":
        return "nothing: it runs on the shared loop"
    if status == "stalls_loop":
        if name.startswith("bridge.http."):
            verb = name.rpartition(".")[2]
            return f"await the async twin: await bridge.http.async_{verb}(...)"
        if name == "bridge.run":
            return "await the coroutine directly instead of bridge.run(...)"
        instead = getattr(entry, "instead", None)
        return instead or "await an async API, or await bridge.to_async(fn)(...)"
    if status == "offloaded":
        return _OFFLOADED.format(kind=kind)
    if kind == "http" and name.startswith("requests.Session."):
        return _SESSION_FIX
    if kind == "http":
        verb = name.rpartition(".")[2]
        verb = verb if verb in ("get", "post", "put", "patch", "delete", "head", "options") \
            else "request"
        return _THREAD_FIXES["http"].format(verb=verb)
    return _THREAD_FIXES.get(kind, _THREAD_FIXES["configured"])
