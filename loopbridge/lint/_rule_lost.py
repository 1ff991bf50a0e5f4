"""LB306-LB310: coroutines lost on the way (containers, sync calls, helpers, callbacks), tasks dropped.

The LB301-LB305 family judges a coroutine where it is created. These rules follow it one
step further, to where it is lost:

- LB306: put into a list, set, dict or generator (a literal, a comprehension, ``append`` /
  ``add`` / ``d[k] = ...``) that is never awaited, gathered, returned or handed on;
- LB307: handed to a plain function that cannot await it (``json.dumps``, ``len``, an
  executor's ``submit``, a ``Thread`` target, ``asyncio.to_thread``);
- LB308: returned by a plain helper (``def make(): return ping()``) whose result the caller
  drops;
- LB309: created in a lambda given as a callback (``signal.signal``, ``loop.call_soon``,
  ``atexit.register`` ...), which throws the lambda's result away, or a coroutine function
  handed to such a callback taker or to a thread runner (``pool.submit(ping)``) itself;
- LB310: the task of ``asyncio.create_task`` / ``ensure_future`` / ``loop.create_task`` not
  kept: the loop keeps only a weak reference, so the task can be collected mid-flight.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._facts import ARG0, ARG1, HAS_ARGS, PASSED
from ._index import GROW_METHODS, CallSite, FunctionInfo, Value
from ._model import Ctx, Finding, Rule
from ._resolve import Project
from ._rule_base import Checker, RuleFamily, display_name, finding
from ._rule_coroutines import coroutine_label, coroutine_names

__all__ = ["FAMILY", "RULES", "check"]

RULES = (
    Rule("LB306", "coroutine-stored-never-gathered",
         "a coroutine put in a list, set, dict or generator that is never awaited, gathered "
         "or handed on", "await the items (await asyncio.gather(*items)) or hand the "
         "container to code that does"),
    Rule("LB307", "coroutine-into-sync-call",
         "a coroutine handed to a plain function that cannot await it (json.dumps, len, an "
         "executor, a thread, asyncio.to_thread)",
         "await it and pass the result; to run it concurrently use asyncio.create_task"),
    Rule("LB308", "coroutine-from-helper-dropped",
         "the coroutine returned by a plain helper function is dropped by the caller",
         "await the helper's result, or make the helper async and await it"),
    Rule("LB309", "coroutine-in-callback",
         "a callback (a lambda, or a coroutine function handed over) makes a coroutine; the "
         "caller drops it", "schedule it with asyncio.create_task (keeping the task) inside the "
         "callback, or register a plain function"),
    Rule("LB310", "task-not-kept",
         "the task from asyncio.create_task / ensure_future is dropped and can be garbage "
         "collected mid-flight", "keep a reference (a set, discarded in add_done_callback), "
         "or use asyncio.TaskGroup"),
)

#: Plain functions that take values and cannot await them (a coroutine given to them is lost).
_SINKS = frozenset({
    "builtins.len", "builtins.list", "builtins.tuple", "builtins.set", "builtins.frozenset",
    "builtins.dict", "builtins.sorted", "builtins.sum", "builtins.min", "builtins.max",
    "builtins.any", "builtins.all", "builtins.int", "builtins.float", "builtins.iter",
    "builtins.next", "builtins.enumerate", "builtins.zip", "builtins.callable",
    "json.dumps", "json.dump", "pickle.dumps", "pickle.dump", "copy.copy", "copy.deepcopy",
})
#: Functions that take a *callable* (in the argument position flagged here) and pass their
#: other arguments on to it: a coroutine is lost only where the callable is expected
#: (``pool.submit(ping())``), not as an argument handed on (``pool.submit(asyncio.run, c)``).
_CALLABLE_TAKERS = {
    "threading.Thread": ARG0, "threading.Timer": ARG1, "atexit.register": ARG0,
    "signal.signal": ARG1, "concurrent.futures.Executor.submit": ARG0,
    "concurrent.futures.ThreadPoolExecutor.submit": ARG0,
    "concurrent.futures.ProcessPoolExecutor.submit": ARG0, "asyncio.to_thread": ARG0,
    "asyncio.AbstractEventLoop.run_in_executor": ARG1,
    "asyncio.AbstractEventLoop.call_soon": ARG0, "asyncio.AbstractEventLoop.call_later": ARG1,
    "asyncio.AbstractEventLoop.call_soon_threadsafe": ARG0,
}
#: Uses of a container that keep it without awaiting its items.
_IDLE = frozenset({Ctx.GROW, Ctx.STMT, Ctx.COND, Ctx.FORMAT, Ctx.LISTED})
#: Uses of a name that take it as the value it is (not awaiting or handing it on).
_VALUE_USES = frozenset({Ctx.OTHER, Ctx.COND, Ctx.FORMAT, Ctx.STMT})
#: Calls that only measure a container handed to them (its items are never awaited).
_MEASURES = frozenset({"builtins.len", "builtins.bool", "builtins.id", "sys.getsizeof"})
#: Calls that consume the items of an iterable as values (a coroutine there is lost):
#: ``any(map(check, urls))`` is always true and awaits nothing.
_CONSUMERS = frozenset({"builtins.any", "builtins.all", "builtins.sum", "builtins.sorted",
                        "builtins.min", "builtins.max", "builtins.set", "builtins.frozenset",
                        "builtins.dict", "builtins.len"})
#: Calls by which a function tells a coroutine function or a coroutine from a plain callable
#: (a scheduling helper that calls them accepts both).
_AWAITABLE_TESTS = frozenset({"iscoroutinefunction", "iscoroutine", "isawaitable",
                              "isasyncgenfunction", "markcoroutinefunction", "ensure_future",
                              "create_task"})
#: Registrars whose callback's return value is thrown away (by qualified name).
_CALLBACK_TAKERS = frozenset({"signal.signal", "atexit.register", "threading.Thread",
                              "threading.Timer"})
#: ... and by method name (loop and future methods, whatever the receiver's type).
_CALLBACK_METHODS = frozenset({"call_soon", "call_later", "call_at", "call_soon_threadsafe",
                               "add_signal_handler", "add_done_callback", "add_reader",
                               "add_writer"})
#: Functions that schedule a coroutine as a task the loop holds only weakly.
_TASK_FACTORIES = frozenset({"asyncio.create_task", "asyncio.ensure_future",
                             "asyncio.AbstractEventLoop.create_task",
                             "asyncio.BaseEventLoop.create_task"})


class _Run:
    """What one run needs: the project, the name pre-filter, the coroutine-returning helpers."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.helpers: dict[str, str] = {}
        # resolving can index imported modules on demand, which adds functions: iterate a copy
        for fn in list(project.functions.values()):
            label = self._helper_label(fn)
            if label is not None:
                self.helpers[fn.qualname] = label
        names = set(coroutine_names(project))
        names.update(q.rpartition(".")[2] for q in self.helpers)
        names.update(("create_task", "ensure_future"))
        self.names = frozenset(names)

    def _helper_label(self, fn: FunctionInfo) -> str | None:
        ret = fn.ret
        if fn.is_async or fn.has_yield or ret is None or ret[0] != "r":
            return None
        if self.project.function_kind(fn) != "sync":
            return None
        return self.label(ret[1])

    def label(self, target: Value) -> str | None:
        """``name()`` when calling ``target`` creates a coroutine, else ``None``."""
        if target is None:
            return None
        return coroutine_label(CallSite(0, 0, target, "", 0, -1, -1, 0), self.project)

    def name_of(self, site: CallSite) -> str:
        """The qualified name a call site invokes, or ``""``."""
        if site.target is None:
            return ""
        meaning = self.project.meaning(site.target)
        return meaning.name if meaning is not None else ""


def check(fn: FunctionInfo, run: _Run) -> Iterator[Finding]:
    """Yield LB306-LB310 findings for the calls of ``fn``."""
    calls = fn.calls
    for site in calls:
        if site.target is None or site.name not in run.names or site.ctx == Ctx.AWAIT:
            continue
        if site.name in ("create_task", "ensure_future"):
            found = _task(fn, site, run)
            if found is not None:
                yield found
            continue
        label = run.label(site.target)
        if label is not None:
            found = _lost(fn, site, label, run)
            if found is not None:
                yield found
            continue
        callee = run.project.callee(site)
        if callee is not None and callee.fn is not None and callee.fn.qualname in run.helpers \
                and _dropped(fn, site, as_value=True):
            name = callee.fn.display
            yield finding(fn, site, "LB308", f"{name}() returns the coroutine of "
                          f"{run.helpers[callee.fn.qualname]} and the result is dropped, so it "
                          f"never runs; await {name}(...) (or make {name} async)", f"{name}()")


def _dropped(fn: FunctionInfo, site: CallSite, as_value: bool = False) -> bool:
    """A bare statement, or assigned to a name never used (with ``as_value``: or used only as
    a value, ``data["id"]``, tested or formatted, never awaited or handed on)."""
    if site.ctx == Ctx.STMT:
        return True
    if site.ctx != Ctx.ASSIGN or not site.assigned or site.assigned in fn.captured:
        return False
    uses = fn.uses.get(site.assigned)
    if not uses:
        return True
    return as_value and all(use[0] in _VALUE_USES for use in uses)


def _lost(fn: FunctionInfo, site: CallSite, label: str, run: _Run) -> Finding | None:
    calls = fn.calls
    parent = calls[site.parent] if 0 <= site.parent < len(calls) else None
    name = ""
    if site.flags & PASSED == 0 and 0 <= site.lam == site.parent < len(calls) \
            and calls[site.lam].name in ("map", "filter"):
        return _mapped(fn, site, label, calls[site.lam], run)
    if site.ctx == Ctx.STORE and site.assigned.startswith("["):
        return _unkept(fn, site, label, parent, run)
    if site.ctx == Ctx.STORE:
        name = site.assigned
    elif site.ctx == Ctx.ARG and parent is not None and parent.name in GROW_METHODS \
            and parent.owner in fn.uses:
        name = parent.owner
    if name:
        if not _used(fn, name, run):
            return finding(fn, site, "LB306", f"the coroutine from {label} is stored in "
                           f"{name!r}, which is never awaited, gathered or handed on, so it "
                           f"never runs; await asyncio.gather(*{name})", label)
        return None
    if site.ctx == Ctx.ARG and parent is not None and _sink(parent, run, site.flags):
        sink = display_name(run.name_of(parent)) or parent.name
        return finding(fn, site, "LB307", f"the coroutine from {label} is handed to {sink}(), "
                       "which cannot await it, so it never runs; await it and pass the result",
                       label)
    if site.flags & PASSED and 0 <= site.lam < len(calls) and _takes_callable(calls[site.lam], run):
        taker = display_name(run.name_of(calls[site.lam])) or calls[site.lam].name
        return finding(fn, site, "LB309", f"{label[:-2]} is a coroutine function handed to {taker}(), "
                       "which calls it and drops the coroutine it returns, so it never runs; await "
                       "it on the loop, or hand over a plain function that schedules it with "
                       "asyncio.create_task (and keeps the task)", label)
    if site.ctx == Ctx.RETURN and not site.flags & PASSED and 0 <= site.lam < len(calls) \
            and _takes_callback(calls[site.lam], run) \
            and not _accepts_coroutines(calls[site.lam], run):
        taker = display_name(run.name_of(calls[site.lam])) or calls[site.lam].name
        return finding(fn, site, "LB309", f"the lambda given to {taker}() "
                       f"returns the coroutine of {label}, which the caller drops, so it never "
                       "runs; schedule it with asyncio.create_task (and keep the task)", label)
    return None


def _unkept(fn: FunctionInfo, site: CallSite, label: str, parent: CallSite | None,
            run: _Run) -> Finding | None:
    """LB306 for an item of a container literal no name keeps: a bare statement, a test,
    formatted, or handed to a call that only measures or prints it, or to ``gather`` whole."""
    if site.assigned == "[arg]":
        if parent is None:
            return None
        taker = run.name_of(parent)
        if taker == "asyncio.gather":
            return finding(fn, site, "LB306", f"the coroutine from {label} is in a container "
                           "handed whole to asyncio.gather(), which cannot await its items (it "
                           "wants them unpacked), so it never runs; write asyncio.gather(*items)",
                           label)
        if taker not in _MEASURES and not run.project.is_formatter(parent):
            return None
        how = f"only measured by {display_name(taker)}()" if taker in _MEASURES else "only printed"
    else:
        how = "not kept by anything"
    return finding(fn, site, "LB306", f"the coroutine from {label} is put in a container that is "
                   f"{how}, so it never runs; await the items (asyncio.gather(*items))", label)


def _mapped(fn: FunctionInfo, site: CallSite, label: str, mapper: CallSite,
            run: _Run) -> Finding | None:
    """``filter(async_pred, xs)`` tests coroutines for truth (every item passes);
    ``any(map(async_fn, xs))`` and other consumers take coroutines as values."""
    if mapper.name == "filter" and mapper.flags & HAS_ARGS and run.name_of(mapper) == \
            "builtins.filter":
        return finding(fn, site, "LB303", f"filter() calls the coroutine function {label[:-2]}: "
                       "each coroutine it makes is tested for truth (always true) and never "
                       "runs, so every item passes; await the checks, then filter the results",
                       label)
    calls = fn.calls
    if mapper.ctx != Ctx.ARG or not 0 <= mapper.parent < len(calls):
        return None
    consumer = calls[mapper.parent]
    taker = run.name_of(consumer)
    if taker not in _CONSUMERS and not (consumer.name == "join" and not taker):
        return None
    shown = display_name(taker) if taker else "str.join"
    return finding(fn, site, "LB307", f"map() calls the coroutine function {label[:-2]} and "
                   f"{shown}() takes the coroutines as values, so they never run; await them "
                   f"(await asyncio.gather(*map(...))) and pass the results", label)


def _used(fn: FunctionInfo, name: str, run: _Run, seen: frozenset[str] = frozenset()) -> bool:
    """Whether a container is ever used in a way that can await its items.

    A loop over it (``for c in pending``) awaits them only if the loop's name for an item is
    itself used that way; printing or logging each item awaits nothing.
    """
    if name in fn.captured:
        return True
    calls = fn.calls
    for use in fn.uses.get(name, ()):
        ctx, parent = use[0], use[1]
        if ctx in _IDLE:
            continue
        if ctx == Ctx.ITER:
            item = use[5]
            if item is not None and item not in seen and _used(fn, item, run, seen | {name}):
                return True
            continue
        if ctx == Ctx.ARG and 0 <= parent < len(calls) and (
                run.project.is_formatter(calls[parent]) or _sink(calls[parent], run)):
            continue
        return True
    return False


def _sink(site: CallSite, run: _Run, position: int = 0) -> bool:
    """Whether ``site`` loses a coroutine given to it (``position``: the argument's flags)."""
    if run.project.is_formatter(site):
        return False  # LB304 reports these
    name = run.name_of(site)
    if name in _SINKS:
        return True
    wanted = _CALLABLE_TAKERS.get(name)
    if wanted is None:
        callee = run.project.callee(site)
        wanted = ARG0 if callee is not None and callee.kind == "offload" else 0
    return bool(wanted and position & wanted)


def _takes_callback(site: CallSite, run: _Run) -> bool:
    return site.name in _CALLBACK_METHODS or run.name_of(site) in _CALLBACK_TAKERS


def _takes_callable(site: CallSite, run: _Run) -> bool:
    """Whether ``site`` calls a function handed to it and drops what it returns: a callback
    registrar, or a runner that calls it in a thread (``submit``, ``run_in_executor``).

    A project function of that name that tells coroutine functions apart
    (``iscoroutinefunction``, ``iscoroutine``, or schedules what it is given) accepts them.
    """
    if not (_takes_callback(site, run) or run.name_of(site) in _CALLABLE_TAKERS):
        return False
    return not _accepts_coroutines(site, run)


def _accepts_coroutines(site: CallSite, run: _Run) -> bool:
    callee = run.project.callee(site)
    if callee is None or callee.fn is None:
        return False
    if callee.kind in ("coro", "other"):
        return True  # an async scheduler awaits what it is given
    seen: set[str] = set()
    todo = [callee.fn]
    while todo and len(seen) < 16:  # the helper and what it calls, a few levels down
        helper = todo.pop()
        if helper.qualname in seen:
            continue
        seen.add(helper.qualname)
        for inner in helper.calls:
            if inner.name in _AWAITABLE_TESTS:
                return True
            found = run.project.callee(inner) if inner.target is not None else None
            if found is not None and found.fn is not None and found.kind == "sync":
                todo.append(found.fn)
    return False


def _task(fn: FunctionInfo, site: CallSite, run: _Run) -> Finding | None:
    name = run.name_of(site)
    if name not in _TASK_FACTORIES or not _dropped(fn, site):
        return None
    shown = display_name(name)
    return finding(fn, site, "LB310", f"the task from {shown}() is not kept: the loop holds "
                   "tasks only weakly, so it can be garbage-collected before it finishes; keep "
                   "a reference (add it to a set and discard it in add_done_callback) or use "
                   "asyncio.TaskGroup", shown)


def _start(project: Project) -> Checker:
    run = _Run(project)
    return lambda fn: check(fn, run)


FAMILY = RuleFamily("lost", RULES, _start)
