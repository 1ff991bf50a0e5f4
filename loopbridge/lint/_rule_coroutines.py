"""LB3xx: a coroutine that is created and then dropped or misused instead of awaited.

A call to a coroutine function (a project ``async def``, a ``to_async`` wrapper, or a known
async API such as ``asyncio.sleep`` or ``aiohttp.ClientSession.get``) returns a coroutine
that does nothing until awaited. It is fine when awaited, returned, stored, used in
``async with``, or handed to any call (``create_task``, ``gather``, ``bridge.run`` ...) other
than one that only renders it (``print``, ``str``, a logger). It is a bug when the result is a
bare statement, assigned and never used, tested for truth, or formatted.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._index import CallSite, FunctionInfo
from ._model import Ctx, Finding, Rule
from ._resolve import Project
from ._rule_base import Checker, RuleFamily, display_name, finding

__all__ = ["FAMILY", "RULES", "check", "coroutine_names"]

RULES = (
    Rule("LB301", "coroutine-not-awaited", "a coroutine created as a bare statement and dropped",
         "add await, or schedule it with asyncio.create_task(...) and keep the task"),
    Rule("LB302", "coroutine-assigned-not-awaited",
         "a coroutine assigned to a name that is never awaited or handed on",
         "await the name later, or pass it to asyncio.gather / create_task"),
    Rule("LB303", "coroutine-as-condition",
         "a coroutine tested for truth (always true, never awaited)", "await it in the test"),
    Rule("LB304", "coroutine-formatted",
         "a coroutine passed to a logger, print or string formatting instead of its result",
         "await it first and format the result"),
    Rule("LB305", "coroutine-in-sync-function",
         "a coroutine function called from a plain function with no runner",
         "run it with bridge.run(...) (or asyncio.run at the top level), or make the caller "
         "async and await it"),
    Rule("LB311", "coroutine-awaited-on-some-paths",
         "a coroutine assigned to a name that is awaited only in some branches",
         "await it on every path (or close it with .close() where it is not wanted)"),
)

_HARMLESS = frozenset({Ctx.AWAIT, Ctx.RETURN, Ctx.STORE, Ctx.WITH, Ctx.OTHER})


def coroutine_names(project: Project) -> frozenset[str]:
    """Last name components that can denote a coroutine function (a cheap pre-filter)."""
    names = {fn.name for fn in project.functions.values() if fn.is_async or fn.decorators}
    names.update(n.rpartition(".")[2] for n in project.catalogue.async_names)
    names.add("__call__")
    return frozenset(names)


def coroutine_label(site: CallSite, project: Project) -> str | None:
    """``name()`` when the call at ``site`` creates a coroutine, else ``None``."""
    found = project.callee(site)
    if found is None:
        return None
    if found.kind in ("coro", "offloaded") and found.fn is not None:
        return f"{found.fn.display}()"
    if found.kind == "async":
        return f"{display_name(found.name)}()"
    return None


def check(fn: FunctionInfo, project: Project, names: frozenset[str],
          reads: dict[str, bool] | None = None) -> Iterator[Finding]:
    """Yield LB3xx findings for coroutines created in ``fn`` and not awaited."""
    reads = {} if reads is None else reads
    where = f"async {fn.display}()" if fn.is_async else (
        "module level" if fn.name == "<module>" else f"sync {fn.display}()")
    for site in fn.calls:
        ctx = site.ctx
        if ctx in _HARMLESS or site.target is None:
            continue
        if not fn.is_async and site.name not in names:
            continue
        label = coroutine_label(site, project)
        if label is None:
            continue
        key = label
        if ctx == Ctx.STMT:
            if fn.is_async:
                yield finding(fn, site, "LB301", f"{label} creates a coroutine that is never "
                              "awaited, so it never runs; add await, or schedule it with "
                              "asyncio.create_task(...) and keep the task", key)
            else:
                yield _in_sync(fn, site, label, where)
        elif ctx == Ctx.COND:
            yield _condition(fn, site, label)
        elif ctx == Ctx.FORMAT or (ctx == Ctx.ARG and _formats(fn, site.parent, project)):
            yield _formatted(fn, site, label)
        elif ctx == Ctx.ASSIGN:
            found = _assigned(fn, site, label, where, project)
            if found is not None:
                yield found
        elif ctx == Ctx.ATTR and site.assigned \
                and not _attribute_read(site.assigned, project, reads):
            if fn.is_async:
                yield finding(fn, site, "LB302", f"the coroutine from {label} is stored in the "
                              f"attribute {site.assigned!r}, which nothing awaits or hands on, "
                              "so it never runs; await it where it is assigned, or hand it to "
                              "asyncio.create_task and keep the task", label)
            else:
                yield _in_sync(fn, site, label, where)


def _attribute_read(name: str, project: Project, seen: dict[str, bool]) -> bool:
    """Whether any module of the run reads the attribute ``name`` in a way that can await or
    hand on what it holds (a read that is only tested or formatted does not count)."""
    known = seen.get(name)
    if known is None:
        word = f" {name} "
        known = seen[name] = any(word in module.attr_names
                                 for module in list(project.modules.values()))
    return known


def _formats(fn: FunctionInfo, parent: int, project: Project) -> bool:
    return 0 <= parent < len(fn.calls) and project.is_formatter(fn.calls[parent])


def _in_sync(fn: FunctionInfo, site: CallSite, label: str, where: str) -> Finding:
    return finding(fn, site, "LB305", f"{label} is a coroutine function called at {where} "
                   "with no runner, so it never runs; run it with bridge.run(...) or make the "
                   "caller async and await it", label)


def _condition(fn: FunctionInfo, site: CallSite, label: str) -> Finding:
    return finding(fn, site, "LB303", f"the coroutine from {label} is tested for truth: it is "
                   f"always true and never runs; write await {label} in the test", label)


def _formatted(fn: FunctionInfo, site: CallSite, label: str) -> Finding:
    return finding(fn, site, "LB304", f"the coroutine from {label} is formatted or logged "
                   "instead of its result, and never runs; await it first", label)


def _assigned(fn: FunctionInfo, site: CallSite, label: str, where: str,
              project: Project) -> Finding | None:
    name = site.assigned
    if not name or name in fn.captured:
        return None  # assigned through something the index does not follow
    uses = fn.uses.get(name, ())
    cond = fmt = value = None
    awaits: list[tuple[object, ...]] = []
    for use in uses:
        ctx, parent = use[0], use[1]
        if ctx == Ctx.COND:
            cond = cond or use
        elif ctx == Ctx.FORMAT or (ctx == Ctx.ARG and _formats(fn, parent, project)):
            fmt = fmt or use
        elif ctx == Ctx.AWAIT:
            awaits.append(use)
        elif ctx == Ctx.OTHER:
            value = value or use  # `data = fetch(); data["id"]`: used as the result it is not
        elif ctx != Ctx.STMT:
            return None
    if awaits:
        return _some_paths(fn, site, label, name, awaits)
    at = cond or fmt
    if at is not None:
        moved = CallSite(at[2], at[3], site.target, site.name, at[0], -1, -1, 0)
        return _condition(fn, moved, label) if at is cond else _formatted(fn, moved, label)
    if not fn.is_async:
        return _in_sync(fn, site, label, where)
    if value is not None:
        return finding(fn, site, "LB302", f"the coroutine from {label} is assigned to {name!r} "
                       f"and used as a value (line {value[2]}) without being awaited, so it "
                       "never runs; write await where it is assigned", label)
    return finding(fn, site, "LB302", f"the coroutine from {label} is assigned to {name!r} and "
                   "never awaited, so it never runs; await it, or hand it to asyncio.gather / "
                   "asyncio.create_task", label)


def _some_paths(fn: FunctionInfo, site: CallSite, label: str, name: str,
                awaits: list[tuple[object, ...]]) -> Finding | None:
    """LB311 when every ``await name`` sits in a branch that not every path takes."""
    where = (fn.assigned_at or {}).get(name)
    if not fn.is_async or where is None:
        return None  # assigned more than once, or not from a call: not judged
    paths = [use[4] for use in awaits if len(use) > 4]
    if len(paths) != len(awaits) or _all_paths(where, paths):  # type: ignore[arg-type]
        return None
    line = min(int(use[2]) for use in awaits)  # type: ignore[call-overload]
    return finding(fn, site, "LB311", f"the coroutine from {label} is assigned to {name!r} and "
                   f"awaited only in some branches (line {line}); on the other paths it never "
                   "runs: await it on every path, or close it where it is not wanted", label)


Branch = tuple[tuple[int, int], ...]


def _all_paths(start: Branch, paths: list[Branch]) -> bool:
    """Whether awaits at ``paths`` cover every path through the block at ``start``.

    A path that does not extend ``start`` (an await after the block the assignment is in)
    counts as covering: the analysis stays on the side of no finding.
    """
    depth = len(start)
    arms: dict[int, dict[int, list[Branch]]] = {}
    for path in paths:
        if len(path) <= depth or path[:depth] != start:
            return True
        block, arm = path[depth]
        arms.setdefault(block, {}).setdefault(arm, []).append(path)
    for by_arm in arms.values():
        then, other = by_arm.get(0), by_arm.get(1)
        if then and other and _all_paths(then[0][:depth + 1], then) \
                and _all_paths(other[0][:depth + 1], other):
            return True
    return False


def _start(project: Project) -> Checker:
    names = coroutine_names(project)
    reads: dict[str, bool] = {}
    return lambda fn: check(fn, project, names, reads)


FAMILY = RuleFamily("coroutines", RULES, _start)
