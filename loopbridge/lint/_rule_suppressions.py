"""LB8xx: suppressions that suppress nothing, and the filter that applies suppressions.

A ``# noqa: LB102`` left behind after the call it silenced was fixed hides the next real
finding on that line; ruff calls it RUF100. :func:`apply_suppressions` applies ``# noqa``
marks and ``per-file-ignores`` to a run's findings and reports every LB code named in a real
``# noqa`` comment that silenced nothing on its line (LB801). A code is judged only when it is
enabled for that file, so ``--select LB1`` never calls a ``# noqa: LB201`` unused; a bare
``# noqa`` and other tools' codes are never judged. Stale baseline entries are the baseline's
business (see :mod:`loopbridge.lint._baseline`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from . import _codes  # the registry imports this module: read it at call time only
from ._facts import ModuleIndex
from ._model import Finding, Rule
from ._rule_base import RuleFamily

__all__ = ["FAMILY", "RULES", "apply_suppressions"]

RULES = (
    Rule("LB801", "unused-noqa", "a # noqa comment names an LB code that suppresses nothing on "
         "its line", "remove the code from the comment (or the whole comment)"),
)

#: No function checker: LB801 comes from applying suppressions to a run's findings.
FAMILY = RuleFamily("suppressions", RULES, lambda project: None)

_PerFile = list[tuple[re.Pattern[str], tuple[str, ...]]]


def apply_suppressions(found: Iterable[Finding], modules: Iterable[ModuleIndex],
                       enabled: frozenset[str],
                       per_file_ignores: Iterable[tuple[str, tuple[str, ...]]],
                       ) -> tuple[list[Finding], int]:
    """Drop findings not enabled, ignored for their file, or silenced by ``# noqa``.

    Returns the kept findings (sorted, unique, LB801 included when enabled) and how many a
    ``# noqa`` silenced.
    """
    per_file: _PerFile = [(re.compile(fnmatch.translate(glob)), tuple(c.upper() for c in codes))
                          for glob, codes in per_file_ignores]
    by_path = {module.path: module for module in modules}
    kept: list[Finding] = []
    used: set[tuple[str, int, str]] = set()
    suppressed = 0
    for item in found:
        if item.code not in enabled or _ignored_for_file(item.path, item.code, per_file):
            continue
        module = by_path.get(item.path)
        codes = module.noqa.get(item.line, ()) if module is not None else ()
        if codes is None:
            suppressed += 1
            continue
        matched = [code for code in codes if item.code.startswith(code)]
        if matched:
            used.update((item.path, item.line, code) for code in matched)
            suppressed += 1
            continue
        kept.append(item)
    if "LB801" in enabled:
        for module in by_path.values():
            for unused in _unused(module, used, enabled, per_file):
                if not _ignored_for_file(unused.path, unused.code, per_file):
                    kept.append(unused)
    return sorted(set(kept)), suppressed


def _unused(module: ModuleIndex, used: set[tuple[str, int, str]], enabled: frozenset[str],
            per_file: _PerFile) -> Iterable[Finding]:
    for line, col in module.noqa_cols.items():
        codes = module.noqa.get(line)
        if not codes or any("LB801".startswith(code) for code in codes):
            continue
        unused, raw = [], []
        for code in sorted(codes):
            if not code.startswith("LB") or (module.path, line, code) in used:
                continue
            known = [c for c in _codes.RULES if c.startswith(code)]
            judged = {c for c in known if c in enabled
                      and not _ignored_for_file(module.path, c, per_file)}
            if known and not judged:
                continue  # not checked in this run: cannot tell whether it would suppress
            unused.append(code if known else f"{code} (no such code)")
            raw.append(code)
        if unused:
            names = ", ".join(unused)
            yield Finding(module.path, line, col, "LB801",
                          f"# noqa: {names} suppresses nothing on this line; remove "
                          f"{'it' if len(unused) == 1 else 'them'} from the comment so the "
                          "next real finding here is not hidden", key=",".join(raw))


def _ignored_for_file(path: str, code: str, per_file: _PerFile) -> bool:
    for pattern, codes in per_file:
        if pattern.match(path) and any(code.startswith(c) for c in codes):
            return True
    return False
