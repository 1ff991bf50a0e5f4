"""The registry of every lint code, gathered from the rule family modules.

Retired codes are listed in :data:`RETIRED` and never reused.
"""

from __future__ import annotations

import logging
from types import MappingProxyType

from . import (
    _rule_blocking,
    _rule_bridge,
    _rule_coroutines,
    _rule_files,
    _rule_transitive,
)
from ._model import Rule

__all__ = ["FAMILIES", "RETIRED", "RULES", "expand"]

logger = logging.getLogger(__name__)

#: Family name -> its rules, in code order.
FAMILIES: dict[str, tuple[Rule, ...]] = {
    "blocking": _rule_blocking.RULES,
    "transitive": _rule_transitive.RULES,
    "coroutines": _rule_coroutines.RULES,
    "bridge": _rule_bridge.RULES,
    "files": _rule_files.RULES,
}

#: Code -> rule.
RULES = MappingProxyType({rule.code: rule for rules in FAMILIES.values() for rule in rules})

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
            raise ValueError(f"unknown lint code or prefix {raw!r}; codes are LB101..LB905 "
                             "(see docs/lint.md)")
        selected |= matched
    return frozenset(selected)
