"""The facts the index keeps per module: call sites, functions, classes, ``# noqa`` marks.

These are plain slotted records (no tree is kept); :mod:`loopbridge.lint._index` fills them in one
walk and :mod:`loopbridge.lint._resolve` and the rules read them.
"""

from __future__ import annotations

import io
import re
import tokenize
from typing import Any

__all__ = [
    "ARG0",
    "ARG1",
    "GUARDED",
    "HAS_ARGS",
    "LOGGER_NAME",
    "LOG_METHODS",
    "NONBLOCKING",
    "PASSED",
    "NOQA",
    "CallSite",
    "ClassInfo",
    "FunctionInfo",
    "ModuleIndex",
    "Value",
    "noqa_comments",
    "parse_noqa",
]


Value = tuple[Any, ...] | None

#: Call-site flag: called with ``block=False`` / ``timeout=0`` (a non-blocking variant).
NONBLOCKING = 1
#: Call-site flag: called with at least one argument.
HAS_ARGS = 2
#: Call-site flag: the call runs only behind a type guard (``if isinstance(fp, str):``) or in
#: debug-only code (``if __debug__:``, ``if loop.get_debug():``): a blocking call there does not
#: make the enclosing helper a blocking one for callers (no LB2xx chain goes through it).
GUARDED = 4
#: Call-site flags: the call is written as the first (or the ``target=`` / ``func=``
#: keyword) / the second positional argument of the call around it.
ARG0 = 8
ARG1 = 16
#: Call-site flag: not a call written in the code but a function passed as a callable
#: (``loop.call_soon(fn)``, ``Thread(target=fn)``): recorded as a call its taker makes, as
#: ``lambda *a: fn(*a)`` would be.
PASSED = 32

#: Names a logger goes by (``log``, ``logger``, ``_log``, ``app_logger``) and its methods: a
#: call of one of these methods on such a name only renders its arguments.
LOGGER_NAME = re.compile(r"_*(?:\w+_)?(?:log|logger|logging)", re.IGNORECASE)
LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical",
                         "log", "fatal"})

_NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
#: A ``# noqa`` comment with its optional codes (group ``codes``).
NOQA = _NOQA


class CallSite:
    """One call expression inside a function."""

    __slots__ = (
        "assigned",
        "col",
        "ctx",
        "flags",
        "lam",
        "line",
        "name",
        "owner",
        "parent",
        "target",
    )

    def __init__(self, line: int, col: int, target: Value, name: str, ctx: int, parent: int,
                 lam: int, flags: int) -> None:
        self.line = line
        self.col = col
        self.target = target
        self.name = name
        self.ctx = ctx
        self.parent = parent
        self.lam = lam
        self.flags = flags
        self.assigned = ""
        self.owner = ""


class FunctionInfo:
    """A function or method (or ``<module>``, the module body) and the calls it makes."""

    __slots__ = (
        "assigned_at",
        "calls",
        "captured",
        "cls",
        "col",
        "decorators",
        "deco_values",
        "display",
        "end",
        "has_yield",
        "is_async",
        "line",
        "module",
        "name",
        "qualname",
        "ret",
        "ret_ann",
        "uses",
        "yielded",
    )

    def __init__(self, qualname: str, name: str, module: ModuleIndex, line: int, col: int,
                 is_async: bool, cls: str | None) -> None:
        self.qualname = qualname
        self.name = name
        self.module = module
        self.line = line
        self.end = line
        self.col = col
        self.is_async = is_async
        self.cls = cls
        self.decorators: list[Value] = []
        #: The decorators as values of what they apply (``@retry(3)`` is ``("r", retry)``),
        #: outermost first: what the function's name is bound to is their result.
        self.deco_values: list[Value] | tuple[()] = ()
        self.calls: list[CallSite] = []
        #: name -> uses ``(ctx, parent, line, col, branch)``; ``branch`` is the path of
        #: conditional blocks (``(block, arm)`` pairs) the use sits in.
        self.uses: dict[str, list[tuple[Any, ...]]] = {}
        #: name -> the branch path of its one assignment from a call (``None``: assigned twice).
        self.assigned_at: dict[str, tuple[tuple[int, int], ...] | None] | None = None
        self.ret: Value = None
        self.ret_ann: Value = None
        self.has_yield = False
        #: The value of the first ``yield`` (a ``@contextmanager`` gives it to ``with ... as``).
        self.yielded: Value = None
        self.display = name
        self.captured: set[str] = set()


class ClassInfo:
    """A class: its bases, its methods and the types of attributes assigned on ``self``."""

    __slots__ = ("attrs", "bases", "methods", "qualname")

    def __init__(self, qualname: str) -> None:
        self.qualname = qualname
        self.bases: list[Value] = []
        self.methods: dict[str, str] = {}
        self.attrs: dict[str, Value] = {}


class ModuleIndex:
    """The facts of one module; ``path`` is the path as reported in findings."""

    __slots__ = (
        "attr_loads",
        "attr_names",
        "bindings",
        "classes",
        "errors",
        "functions",
        "is_package",
        "modname",
        "noqa",
        "noqa_cols",
        "path",
        "star_imports",
    )

    def __init__(self, modname: str, path: str, is_package: bool) -> None:
        self.modname = modname
        self.path = path
        self.is_package = is_package
        self.bindings: dict[str, Value] = {}
        self.star_imports: list[str] = []
        self.functions: dict[str, FunctionInfo] = {}
        self.classes: dict[str, ClassInfo] = {}
        self.noqa: dict[int, frozenset[str] | None] = {}
        #: Lines whose ``# noqa: LB...`` is a real comment (not text in a string) -> its column.
        self.noqa_cols: dict[int, int] = {}
        self.errors: list[tuple[int, int, str, str]] = []
        #: Attribute names read in this module (``x.name``) in a way that can await or hand
        #: on what they hold (not only tested or printed), while it is indexed; then
        #: :attr:`attr_names` keeps them as one string (``" a b c "``), a fraction of the memory.
        self.attr_loads: set[str] = set()
        self.attr_names = " "


def parse_noqa(source: str) -> dict[int, frozenset[str] | None]:
    """Map line number to the codes its ``# noqa`` comment names (``None`` for a bare noqa)."""
    found: dict[int, frozenset[str] | None] = {}
    if "noqa" not in source and "NOQA" not in source:
        return found
    for match in _NOQA.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        codes = match.group("codes")
        found[line] = frozenset(c.upper() for c in re.split(r"[,\s]+", codes) if c) if codes else None
    return found


def noqa_comments(source: str, marks: dict[int, frozenset[str] | None]) -> dict[int, int]:
    """Lines among ``marks`` that name an LB code in a real ``#`` comment -> 1-based column.

    Only these are judged for LB801 (a ``# noqa: LB...`` inside a string or docstring is text,
    not a suppression). The source is tokenized only when such a mark exists.
    """
    wanted = {line for line, codes in marks.items()
              if codes is not None and any(code.startswith("LB") for code in codes)}
    if not wanted:
        return {}
    found: dict[int, int] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type != tokenize.COMMENT or token.start[0] not in wanted:
                continue
            match = _NOQA.search(token.string)
            if match is not None:
                found[token.start[0]] = token.start[1] + 1 + match.start()
    except (tokenize.TokenError, SyntaxError):
        return {}
    return found
