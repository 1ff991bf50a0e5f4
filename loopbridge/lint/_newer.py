"""Read files written for a newer Python than the one running the lint.

``ast`` parses only the grammar of the running interpreter. When it refuses a file, the
concrete-syntax parser used for ``--fix`` (libcst, imported only here and only then) is tried:
if it reads the file, the constructs newer than the interpreter are rewritten in place into
forms ``ast`` accepts and that mean the same for the lint, and the result is parsed again.

What is rewritten (no line is added or removed, so every line number stays true; a column on
a rewritten line can be off by the few characters removed or added):

- ``except A, B:`` / ``except* A, B:`` (3.14) -> ``except (A, B):``;
- ``type X[T] = ...`` (3.12) -> ``X = ...``;
- type parameters ``def f[T](...)`` / ``class C[T]:`` (3.12) -> dropped;
- template strings ``t"..."`` (3.14) -> ``f"..."``.

Anything else the running ``ast`` refuses (f-strings nesting the same quotes, PEP 701, on an
interpreter before 3.12; syntax newer than the installed libcst) stays LB901, with the reason.
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["downgrade", "parse_newer"]


def downgrade(text: str) -> str | None:
    """``text`` with newer constructs rewritten for the running ``ast``, or ``None``.

    ``None`` when libcst is not installed, cannot read the file either, or nothing it reads
    needed a rewrite (the file is then simply not valid Python).
    """
    try:
        import libcst as cst
    except ImportError:  # the lint runs without the fix extra
        return None
    try:
        module = cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None
    changer = _changer(cst)
    rewritten = module.visit(changer)
    if not changer.changed:
        return None
    code = rewritten.code
    return code if isinstance(code, str) else None


def _changer(cst: Any) -> Any:
    class Downgrade(cst.CSTTransformer):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.changed = False

        def _parens(self, node: Any) -> Any:
            kind = node.type
            if isinstance(kind, cst.Tuple) and not kind.lpar:
                self.changed = True
                return node.with_changes(type=kind.with_changes(
                    lpar=[cst.LeftParen()], rpar=[cst.RightParen()]))
            return node

        def leave_ExceptHandler(self, original: Any, updated: Any) -> Any:
            return self._parens(updated)

        def leave_ExceptStarHandler(self, original: Any, updated: Any) -> Any:
            return self._parens(updated)

        def leave_TypeAlias(self, original: Any, updated: Any) -> Any:
            self.changed = True
            return cst.Assign(targets=[cst.AssignTarget(target=updated.name)],
                              value=updated.value, semicolon=updated.semicolon)

        def leave_FunctionDef(self, original: Any, updated: Any) -> Any:
            return self._untyped(updated)

        def leave_ClassDef(self, original: Any, updated: Any) -> Any:
            return self._untyped(updated)

        def _untyped(self, node: Any) -> Any:
            if node.type_parameters is None:
                return node
            self.changed = True
            return node.with_changes(type_parameters=None,
                                     whitespace_after_type_parameters=cst.SimpleWhitespace(""))

        def leave_TemplatedString(self, original: Any, updated: Any) -> Any:
            self.changed = True
            start = updated.start.replace("t", "f").replace("T", "F")
            parts = [cst.FormattedStringText(p.value) if isinstance(p, cst.TemplatedStringText)
                     else cst.FormattedStringExpression(
                         expression=p.expression, conversion=p.conversion,
                         format_spec=None)
                     for p in updated.parts]
            return cst.FormattedString(parts=parts, start=start, end=updated.end,
                                       lpar=updated.lpar, rpar=updated.rpar)

    return Downgrade()


def parse_newer(text: str, shown: str) -> ast.Module | None:
    """Parse ``text`` after :func:`downgrade`, or ``None`` when that does not make it parse."""
    lowered = downgrade(text)
    if lowered is None:
        return None
    try:
        return ast.parse(lowered, shown)
    except (SyntaxError, ValueError):
        return None
