"""The one interface of a rule family, and what the families share.

A rule family is one module ``_rule_<name>.py`` that exposes ``FAMILY``, an object of the
:class:`Family` protocol (usually a :class:`RuleFamily`): its name, its rules (codes, summaries
and generic fixes, see :class:`~loopbridge.lint._model.Rule`), and ``start(project)``, which
prepares what the family needs for one run (the transitive family's reachability, the
coroutine family's name filter) and returns a :data:`Checker`, or ``None`` for a family whose
findings come from elsewhere (LB9xx come from reading and parsing files). The engine starts
every family in :data:`~loopbridge.lint._codes.FAMILIES` once per run and calls each checker
for each function of the reported modules (``<module>`` bodies included); a checker decides
for itself which functions it looks at. The codes table is derived from the same registry.

Helpers here: :func:`unawaited_calls`, :func:`on_loop`, :func:`display_name`, :func:`finding`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from ._index import CallSite, FunctionInfo
from ._model import ChainLink, Ctx, Finding, Rule
from ._resolve import Project

__all__ = ["Checker", "Family", "RuleFamily", "display_name", "finding", "on_loop",
           "unawaited_calls"]

#: One function in, its findings out (for one run, over one :class:`Project`).
Checker = Callable[[FunctionInfo], Iterable[Finding]]


class Family(Protocol):
    """What the engine and the codes table need from a rule family."""

    @property
    def name(self) -> str:
        """Short family name (``blocking``, ``transitive`` ...)."""

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every code of the family, in code order."""

    def start(self, project: Project) -> Checker | None:
        """Prepare one run over ``project``; ``None`` if the family checks no functions."""


@dataclass(frozen=True, slots=True)
class RuleFamily:
    """A :class:`Family` made of a name, rules and a start function."""

    name: str
    rules: tuple[Rule, ...]
    starter: Callable[[Project], Checker | None]

    def start(self, project: Project) -> Checker | None:
        """Prepare one run over ``project`` (see :class:`Family`)."""
        return self.starter(project)


def unawaited_calls(fn: FunctionInfo) -> Iterator[CallSite]:
    """The calls of an ``async def`` that are not awaited and resolve to a name (none otherwise)."""
    if not fn.is_async:
        return
    for site in fn.calls:
        if site.ctx != Ctx.AWAIT and site.target is not None:
            yield site


def on_loop(site: CallSite, fn: FunctionInfo, project: Project) -> bool:
    """Whether a call inside ``fn``'s body runs when the body runs (not in a deferred lambda).

    A lambda's body runs only when the lambda is called: handed to ``map``/``sorted`` it runs
    at once, handed to ``asyncio.to_thread``, an executor or anything else it is not counted.
    """
    lam = site.lam
    if lam == -1:
        return True
    if lam < 0 or lam >= len(fn.calls):
        return False
    found = project.callee(fn.calls[lam])
    return found is not None and found.kind == "eager"


def display_name(name: str) -> str:
    """Show a qualified name as people write it (``builtins.open`` -> ``open``)."""
    if name.startswith("builtins."):
        return name[len("builtins."):]
    if name.endswith(".__call__"):
        return name[: -len(".__call__")] + " wrapper"
    if name.endswith(".__enter__"):
        return "with " + name[: -len(".__enter__")]
    if name.endswith((".__iter__", ".__next__")):
        return "iterating " + name.rpartition(".")[0]
    return name


def finding(fn: FunctionInfo, site: CallSite, code: str, message: str, key: str,
            chain: tuple[ChainLink, ...] = ()) -> Finding:
    """Build a finding at a call site of ``fn`` (1-based column)."""
    return Finding(fn.module.path, site.line, site.col + 1, code, message, chain,
                   scope=fn.qualname.partition(".")[2] or fn.qualname, key=key)
