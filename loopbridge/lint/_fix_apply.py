"""``--fix`` / ``--diff``: rewrite the fixable calls with libcst, keeping layout and comments.

Only files with a fixable finding are parsed (libcst is much slower than :mod:`ast`, so the
lint itself never loads it). In each file a finding is matched to its call by position (the
start of the callee, as :mod:`ast` reports it), then the call is rewritten only where the
rewrite is plain to read and certainly valid: a call that is an expression statement, the
value of an assignment or of a ``return``, directly in the body of the ``async def`` (not in a
lambda, a comprehension, a decorator or a default). Anything else is left as it is and stays
reported. A rewritten file must compile, or it is left untouched. ``import asyncio`` (and
``import bridge.http`` for the HTTP fix) is added when the module lacks it.

Every fix is idempotent: the rewritten call is awaited, so it is never reported again.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from ._config import LintConfig
from ._engine import LintResult
from ._fileio import read_bytes, write_text
from ._fixes import Fix, plan_fix
from ._model import Finding

__all__ = ["FixOutcome", "apply_fixes", "fix_source"]

_BOM = b"\xef\xbb\xbf"
#: requests verb -> the names its 2nd, 3rd ... positional parameters have (made keywords).
_POSITIONAL = {"get": ("params",), "post": ("data", "json"), "put": ("data",),
               "patch": ("data",), "delete": (), "head": (), "options": ()}
_STATEMENT_PARENTS = (cst.Expr, cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Return)
_BARRIERS = (cst.Lambda, cst.GeneratorExp, cst.ListComp, cst.SetComp, cst.DictComp,
             cst.ClassDef, cst.Decorator, cst.Parameters, cst.Param)


@dataclass(slots=True)
class FixOutcome:
    """What a fix run did: findings fixed, files changed, and the unified diff."""

    fixed: int = 0
    files: int = 0
    diff: str = ""
    fixed_findings: list[Finding] = field(default_factory=list)


def apply_fixes(result: LintResult, config: LintConfig, *, unsafe: bool,
                write: bool) -> FixOutcome:
    """Fix ``result``'s findings file by file; write the files when ``write`` is true."""
    del config  # the findings already carry everything the fixes need
    by_path: dict[str, list[tuple[Finding, Fix]]] = {}
    for finding in result.findings:
        fix = plan_fix(finding)
        if fix is not None and (fix.safe or unsafe):
            by_path.setdefault(finding.path, []).append((finding, fix))
    outcome = FixOutcome()
    diffs: list[str] = []
    for path in sorted(by_path):
        try:
            data = read_bytes(path)
            text = data.removeprefix(_BOM).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # only UTF-8 files are rewritten; the findings stay reported
        new_text, fixed = fix_source(text, by_path[path])
        if not fixed:
            continue
        outcome.fixed += len(fixed)
        outcome.files += 1
        outcome.fixed_findings.extend(fixed)
        diffs.append("".join(difflib.unified_diff(
            text.splitlines(keepends=True), new_text.splitlines(keepends=True),
            fromfile=f"a/{path}", tofile=f"b/{path}")))
        if write:
            write_text(path, ("\ufeff" if data.startswith(_BOM) else "") + new_text)
    outcome.diff = "".join(diffs)
    return outcome


def fix_source(text: str, planned: Sequence[tuple[Finding, Fix]]) -> tuple[str, list[Finding]]:
    """Apply the planned fixes to one module's text; return the new text and what was fixed."""
    try:
        module = cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return text, []
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    starts: dict[tuple[int, int], list[cst.CSTNode]] = {}
    ends: dict[cst.CSTNode, tuple[int, int]] = {}
    for node, where in positions.items():
        if isinstance(node, cst.Call):
            start = positions[node.func].start
            starts.setdefault((start.line, start.column), []).append(node)
            ends[node] = (where.end.line, where.end.column)
        elif isinstance(node, cst.Name):
            starts.setdefault((where.start.line, where.start.column), []).append(node)
    lines = text.splitlines(keepends=True)
    groups: dict[tuple[int, int], list[tuple[Finding, Fix]]] = {}
    for finding, fix in planned:
        groups.setdefault(_char_position(lines, finding), []).append((finding, fix))
    edits: dict[cst.CSTNode, tuple[Fix, bool]] = {}
    fixed: list[Finding] = []
    for position, items in groups.items():
        nodes = sorted(starts.get(position, []), key=lambda n: ends.get(n, (0, 0)),
                       reverse=True)  # outermost call first
        chosen = _choose(nodes, items, parents)
        if chosen is not None:
            target, chained, fix = chosen
            edits[target] = (fix, chained)
            fixed.extend(finding for finding, _ in items)
    if not edits:
        return text, []
    transformer = _Rewriter(edits)
    new_module = wrapper.module.visit(transformer)
    new_module = _add_imports(new_module, transformer.needs)
    new_text = new_module.code
    try:
        compile(new_text, "<fixed>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError):
        return text, []
    return new_text, fixed


def _char_position(lines: list[str], finding: Finding) -> tuple[int, int]:
    """ast columns count UTF-8 bytes; libcst columns count characters."""
    if not 0 < finding.line <= len(lines):
        return finding.line, finding.col - 1
    raw = lines[finding.line - 1].encode("utf-8", "surrogateescape")
    return finding.line, len(raw[: finding.col - 1].decode("utf-8", "ignore"))


_Parents = Mapping[cst.CSTNode, cst.CSTNode]


def _choose(nodes: list[cst.CSTNode], items: list[tuple[Finding, Fix]],
            parent_of: _Parents) -> tuple[cst.CSTNode, bool, Fix] | None:
    """The node to rewrite for the findings at one position, whether the blocking call is
    inside it (``open(p).read()`` runs whole in the thread, through a lambda), and the fix.

    ``nodes`` are the calls whose callee starts at the position (outermost first: in
    ``open(p).read()`` both calls start at ``open``) and the names that start there.
    """
    fixes = [fix for _, fix in items]
    if len({fix.kind for fix in fixes}) != 1:
        return None
    fix = next((f for f in fixes if not f.safe), fixes[0])
    calls = [n for n in nodes if isinstance(n, cst.Call)]
    names = [n for n in nodes if isinstance(n, cst.Name)]
    if fix.kind == "await" and not fix.safe and not calls and names:
        name: cst.CSTNode = names[0]
        return (name, False, fix) if _awaitable_here(name, parent_of) else None
    if not calls:
        return None
    wanted = {_last_name(finding.key) for finding, _ in items}
    flagged = [n for n in calls if _callee_name(n) in wanted] or calls[-1:]
    if fix.kind == "await" and not fix.safe:
        target = flagged[-1]
        return (target, True, fix) if _awaitable_here(target, parent_of) else None
    for node in calls:  # outermost first: the statement-level call
        if _statement_value(node, parent_of) and _in_async_body(node, parent_of):
            chained = flagged != [node]
            if not chained or fix.kind == "to_thread":
                return node, chained, fix
            return None
    return None


def _last_name(key: str) -> str:
    """The callee's own name in a finding key (``ssl.SSLContext.wrap_socket`` -> ``wrap_socket``)."""
    key = key.removesuffix(".__call__")
    return key.rpartition(".")[2]


def _callee_name(node: cst.CSTNode) -> str:
    func = node.func if isinstance(node, cst.Call) else None
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return ""


def _statement_value(node: cst.CSTNode, parents: _Parents) -> bool:
    parent = parents.get(node)
    return isinstance(parent, _STATEMENT_PARENTS) and getattr(parent, "value", None) is node


def _awaitable_here(node: cst.CSTNode, parents: _Parents) -> bool:
    parent = parents.get(node)
    if isinstance(parent, cst.Attribute | cst.Subscript) and parent.value is node:
        return False
    if isinstance(parent, cst.Call) and parent.func is node:
        return False
    if isinstance(parent, cst.Await):
        return False
    return _in_async_body(node, parents)


def _in_async_body(node: cst.CSTNode, parents: _Parents) -> bool:
    current = parents.get(node)
    while current is not None:
        if isinstance(current, _BARRIERS):
            return False
        if isinstance(current, cst.FunctionDef):
            return current.asynchronous is not None
        current = parents.get(current)
    return False


def _dotted(name: str) -> cst.BaseExpression:
    parts = name.split(".")
    expr: cst.BaseExpression = cst.Name(parts[0])
    for part in parts[1:]:
        expr = cst.Attribute(value=expr, attr=cst.Name(part))
    return expr


def _await(expr: cst.BaseExpression) -> cst.Await:
    return cst.Await(expression=expr)


def _comma() -> cst.Comma:
    return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


class _Rewriter(cst.CSTTransformer):
    """Replace each chosen node by its fixed form (built from the updated node)."""

    def __init__(self, edits: dict[cst.CSTNode, tuple[Fix, bool]]) -> None:
        super().__init__()
        self.edits = edits
        self.needs: set[str] = set()

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name,
                   ) -> cst.BaseExpression:
        if original_node in self.edits:
            return _await(updated_node)
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call,
                   ) -> cst.BaseExpression:
        edit = self.edits.get(original_node)
        if edit is None:
            return updated_node
        fix, chained = edit
        built = self._build(fix, updated_node, chained=chained)
        return updated_node if built is None else built

    def _build(self, fix: Fix, call: cst.Call, *, chained: bool) -> cst.BaseExpression | None:
        if fix.kind == "await":
            return _await(call)
        if fix.kind == "sleep":
            self.needs.add("asyncio")
            return _await(call.with_changes(func=_dotted("asyncio.sleep")))
        if fix.kind == "await_arg":
            first = call.args[0] if call.args else None
            if first is None or first.keyword is not None or first.star:
                return None
            return _await(first.value)
        if fix.kind == "bridge_http":
            built = _bridge_http(call)
            if built is not None:
                self.needs.add("bridge.http")
                return _await(built)
            fix = Fix("to_thread", False, fix.title)
        self.needs.add("asyncio")
        to_thread = _dotted("asyncio.to_thread")
        if chained:
            body = cst.Lambda(params=cst.Parameters(), body=call)
            return _await(cst.Call(func=to_thread, args=[cst.Arg(body)]))
        head = cst.Arg(call.func, comma=_comma() if call.args else cst.MaybeSentinel.DEFAULT)
        return _await(cst.Call(func=to_thread, args=[head, *call.args]))


def _bridge_http(call: cst.Call) -> cst.Call | None:
    func = call.func
    verb = func.attr.value if isinstance(func, cst.Attribute) else \
        func.value if isinstance(func, cst.Name) else ""
    args = list(call.args)
    if any(arg.star for arg in args):
        return None
    if verb == "get":
        return call.with_changes(func=_dotted("bridge.http.async_get"))
    if verb == "request":
        return call.with_changes(func=_dotted("bridge.http.async_request"))
    names = _POSITIONAL.get(verb)
    positional = [arg for arg in args if arg.keyword is None]
    if names is None or not positional or len(positional) > 1 + len(names):
        return None
    rebuilt: list[cst.Arg] = [cst.Arg(cst.SimpleString(f'"{verb.upper()}"'), comma=_comma())]
    for index, arg in enumerate(args):
        if arg.keyword is None and index > 0:
            arg = arg.with_changes(keyword=cst.Name(names[index - 1]),
                                   equal=cst.AssignEqual(
                                       whitespace_before=cst.SimpleWhitespace(""),
                                       whitespace_after=cst.SimpleWhitespace("")))
        rebuilt.append(arg)
    return call.with_changes(func=_dotted("bridge.http.async_request"), args=rebuilt)


def _has_import(module: cst.Module, name: str) -> bool:
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    if alias.asname is None and _name_of(alias.name) == name:
                        return True
    return False


def _name_of(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_name_of(node.value)}.{node.attr.value}"
    return ""


def _add_imports(module: cst.Module, needs: Iterable[str]) -> cst.Module:
    missing = [name for name in sorted(needs) if not _has_import(module, name)]
    if not missing:
        return module
    body = list(module.body)
    index = 0
    for i, statement in enumerate(body):
        if _is_docstring(statement, i) or _is_future_import(statement):
            index = i + 1
            continue
        break
    for i in range(index, len(body)):
        if _is_import(body[i]):
            index = i
            break
    new = [cst.parse_statement(f"import {name}\n") for name in missing]
    if index < len(body) and isinstance(body[index], cst.SimpleStatementLine | cst.BaseCompoundStatement):
        # the blank lines before the statement we insert ahead of now go before the import
        following = body[index]
        new[0] = new[0].with_changes(leading_lines=following.leading_lines)  # type: ignore[union-attr]
        body[index] = following.with_changes(leading_lines=())
    return module.with_changes(body=body[:index] + new + body[index:])


def _is_docstring(statement: cst.CSTNode, index: int) -> bool:
    return index == 0 and isinstance(statement, cst.SimpleStatementLine) and \
        len(statement.body) == 1 and isinstance(statement.body[0], cst.Expr) and \
        isinstance(statement.body[0].value, cst.SimpleString | cst.ConcatenatedString)


def _is_future_import(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name)
        and small.module.value == "__future__" for small in statement.body)


def _is_import(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(small, cst.Import | cst.ImportFrom) for small in statement.body)
