"""The registry of rule families, and the table of every lint code derived from it.

:data:`FAMILIES` is the one list of families: the engine starts each of them for a run and
:data:`RULES` is built from their rules. Retired codes are listed in :data:`RETIRED` and never
reused.
"""

from __future__ import annotations

from types import MappingProxyType

from . import (
    _rule_blocking,
    _rule_bridge,
    _rule_coroutines,
    _rule_files,
    _rule_libraries,
    _rule_lost,
    _rule_suppressions,
    _rule_transitive,
)
from ._model import Rule
from ._rule_base import Family

__all__ = ["FAMILIES", "RETIRED", "RULES", "expand"]

#: Every rule family, in code order.
FAMILIES: tuple[Family, ...] = (
    _rule_blocking.FAMILY,
    _rule_transitive.FAMILY,
    _rule_coroutines.FAMILY,
    _rule_lost.FAMILY,
    _rule_bridge.FAMILY,
    _rule_libraries.FAMILY,
    _rule_suppressions.FAMILY,
    _rule_files.FAMILY,
)

#: Code -> rule.
RULES: MappingProxyType[str, Rule] = MappingProxyType(
    {rule.code: rule for family in FAMILIES for rule in family.rules})

#: Codes that existed once and must never be given a new meaning.
RETIRED: frozenset[str] = frozenset()


def expand(selectors: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Expand prefixes (``LB``, ``LB1``, ``LB10``, ``ALL``) to the codes they select.

    Raises:
        ValueError: a selector matches no code.
    """
    selected: set[str] = set()
    for raw in selectors:
        selector = raw.strip().upper()
        if not selector:
            continue
        if selector == "ALL":
            selector = "LB"
        matched = {code for code in RULES if code.startswith(selector)}
        if not matched:
            raise ValueError(f"unknown lint code or prefix {raw!r}; codes are "
                             f"{min(RULES)}..{max(RULES)} (loopbridge lint --list-rules, "
                             "docs/lint.md)")
        selected |= matched
    return frozenset(selected)
