"""What the rule families share: where a call runs, how a name is shown, how a finding is made.

Every rule family module exposes ``RULES`` (its codes, see :class:`~loopbridge.lint._model.Rule`)
and a ``check(fn, project, reach)`` generator over one function's findings; the engine calls
each family for each function of the reported modules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from ._index import CallSite, Ctx, FunctionInfo
from ._model import ChainLink, Finding
from ._resolve import Project

__all__ = ["display_name", "finding", "on_loop", "unawaited_calls"]

logger = logging.getLogger(__name__)


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
    return found is not None and found[0] == "eager"


def display_name(name: str) -> str:
    """Show a qualified name as people write it (``builtins.open`` -> ``open``)."""
    if name.startswith("builtins."):
        return name[len("builtins."):]
    if name.endswith(".__call__"):
        return name[: -len(".__call__")] + " wrapper"
    if name.endswith(".__enter__"):
        return "with " + name[: -len(".__enter__")]
    return name


def finding(fn: FunctionInfo, site: CallSite, code: str, message: str, key: str,
            chain: tuple[ChainLink, ...] = ()) -> Finding:
    """Build a finding at a call site of ``fn`` (1-based column)."""
    return Finding(fn.module.path, site.line, site.col + 1, code, message, chain,
                   scope=fn.qualname.partition(".")[2] or fn.qualname, key=key)
