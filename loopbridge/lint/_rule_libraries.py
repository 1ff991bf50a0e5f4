"""LB203, LB312: what the lint learned by reading an installed library's source.

The transitive and coroutine rules judge a call the same way whether the function it reaches
was written in the project or read from a library (see :mod:`loopbridge.lint._libindex`). A
finding that rests on a library module is given a code of its own, so a team can select,
ignore or baseline library knowledge apart from the catalogue's:

- LB203 (instead of LB201/LB202): a coroutine calls a function whose blocking chain goes
  through a library's code (``SSHClient.exec_command() → … → socket.socket.recv``);
- LB312 (instead of LB301-LB311): the coroutine never awaited comes from a library's
  coroutine function (``bot.send_message(...)`` with no ``await``).

The message names the distribution and version the fact was learned from. :func:`relabel`
wraps the checkers of a run; the family itself checks nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._facts import FunctionInfo
from ._model import Finding, Rule
from ._resolve import Project
from ._rule_base import Checker, RuleFamily

__all__ = ["FAMILY", "RULES", "relabel"]

RULES = (
    Rule("LB203", "library-blocking-call",
         "a call from a coroutine to a function that blocks through an installed library's "
         "code (learned from its source), with the chain",
         "await bridge.to_async(fn)(...) / asyncio.to_thread(fn, ...), or use the library's "
         "async API"),
    Rule("LB312", "library-coroutine-not-awaited",
         "a coroutine from an installed library's coroutine function (learned from its source "
         "or stubs) is never awaited", "add await (or schedule it with asyncio.create_task "
         "and keep the task)"),
)

_TRANSITIVE = frozenset({"LB201", "LB202"})
_COROUTINE = frozenset({"LB301", "LB302", "LB303", "LB304", "LB305", "LB306", "LB307",
                        "LB308", "LB309", "LB311"})


def _learned(project: Project, qualname: str) -> object | None:
    fn = project.functions.get(qualname)
    if fn is None:
        return None
    return _origin(project).get(fn.module.modname)


def _origin(project: Project) -> Mapping[str, Any]:
    return project.origin


def _chain_origin(project: Project, key: str) -> object | None:
    for qualname in key.split(" → ")[:-1]:
        found = _learned(project, qualname)
        if found is not None:
            return found
    return None


def _site_origin(project: Project, fn: FunctionInfo, found: Finding) -> object | None:
    """The distribution of the coroutine function a LB3xx finding is about, if a library's:
    the call at the finding's position, else (a finding moved to where the coroutine is
    tested or formatted) a call of ``fn`` to the function the finding names."""
    origin = _origin(project)
    fallback = None
    for site in fn.calls:
        callee = project.callee(site) if site.target is not None else None
        if callee is None or callee.fn is None:
            continue
        dist = origin.get(callee.fn.module.modname)
        if dist is None:
            continue
        if site.line == found.line and site.col + 1 == found.col:
            return dist
        if fallback is None and f"{callee.fn.display}()" == found.key:
            fallback = dist
    return fallback


def _moved(found: Finding, code: str, dist: object) -> Finding:
    # LB312 keeps the shape it was found in (``LB301:Bot.send_message()``): the fixes and
    # the baseline tell a dropped coroutine from a tested one
    key = f"{found.code}:{found.key}" if code == "LB312" else found.key
    return Finding(found.path, found.line, found.col, code,
                   f"{found.message} [learned from the installed source of {dist}]",
                   found.chain, found.scope, key)


def _relabelled(findings: Iterable[Finding], fn: FunctionInfo,
                project: Project) -> Iterator[Finding]:
    for found in findings:
        dist = None
        if found.code in _TRANSITIVE:
            dist = _chain_origin(project, found.key)
            code = "LB203"
        elif found.code in _COROUTINE:
            dist = _site_origin(project, fn, found)
            code = "LB312"
        yield found if dist is None else _moved(found, code, dist)


def relabel(checker: Checker, project: Project) -> Checker:
    """Wrap a checker so that findings resting on a library module get the library codes."""
    return lambda fn: _relabelled(checker(fn), fn, project)


def _start(project: Project) -> None:
    return None


FAMILY = RuleFamily("libraries", RULES, _start)
