"""``--fix`` / ``--diff``: rewrite the fixable calls with libcst, keeping layout and comments.

Only files with a fixable finding are parsed (libcst is much slower than :mod:`ast`, so the
lint itself never loads it). In each file a finding is matched to its call by position (the
start of the callee, as :mod:`ast` reports it), then the call is rewritten only where the
rewrite is plain to read and certainly valid: a call that is an expression statement, the
value of an assignment or of a ``return``, directly in the body of the ``async def`` (not in a
lambda, a comprehension, a decorator or a default); a dropped task (LB310) is kept in any
function. Anything else is left as it is and stays reported. A rewritten file must compile, or
it is left untouched. ``import asyncio`` (or the module's own async library, and ``import
bridge.http`` for the HTTP fix) is added when the module lacks it, and the task helper once
per module (imported from one helper module per package). A blocking ``with`` header moves to
a thread with its whole block (:mod:`loopbridge.lint._fix_with`).

Every fix is idempotent: the rewritten call is awaited (or its task kept), so it is never
reported again.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import CodeRange

from ._config import LintConfig
from ._engine import LintResult
from ._fileio import read_bytes, write_text
from ._fix_cst import (
    ASYNC_ROOT,
    SYNC_ROOT,
    ParentMap,
    code_in_place,
    indents_around,
    line_offsets,
    outermost_edited,
    positions_and_parents,
)
from ._fix_text import (
    OFFLOAD,
    async_library,
    char_position,
    outer_spans,
    prune_noqa,
    with_imports,
    TASKS_MODULE_SOURCE,
    task_home,
    with_keep_task,
)
from ._fix_with import with_blocks
from ._fixes import KEEP_TASK, Edit, Fix, Suggestion, plan_fix
from ._model import Finding
from ._newer import parse_newer

__all__ = ["FixOutcome", "apply_fixes", "fix_source", "suggest_fixes"]

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
    helpers: set[str] = set()
    for path in sorted(by_path):
        try:
            data = read_bytes(path)
            text = data.removeprefix(_BOM).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # only UTF-8 files are rewritten; the findings stay reported
        new_text, fixed = fix_source(text, by_path[path], result.spans.get(path),
                                     helpers=helpers)
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
    for helper in sorted(helpers):  # one task helper per package, made once
        if os.path.exists(helper):
            continue
        shown = os.path.relpath(helper) if not os.path.relpath(helper).startswith("..") \
            else helper
        diffs.append("".join(difflib.unified_diff(
            [], TASKS_MODULE_SOURCE.splitlines(keepends=True), fromfile="/dev/null",
            tofile=f"b/{shown}")))
        if write:
            write_text(helper, TASKS_MODULE_SOURCE)
    outcome.diff = "".join(diffs)
    return outcome


def suggest_fixes(findings: Iterable[Finding],
                  spans: Mapping[str, list[tuple[int, int]]]) -> dict[Finding, Suggestion]:
    """The fix of each fixable finding (safe and unsafe) as edits, changing no file."""
    by_path: dict[str, list[tuple[Finding, Fix]]] = {}
    for finding in findings:
        fix = plan_fix(finding)
        if fix is not None:
            by_path.setdefault(finding.path, []).append((finding, fix))
    suggestions: dict[Finding, Suggestion] = {}
    for path, planned in sorted(by_path.items()):
        try:
            text = read_bytes(path).removeprefix(_BOM).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        edits: dict[Finding, list[Edit]] = {}
        helpers: set[str] = set()
        fix_source(text, planned, spans.get(path), edits, helpers=helpers)
        plans = dict(planned)
        for finding, own in edits.items():
            made = [Edit(helper, 1, 1, 1, 1, TASKS_MODULE_SOURCE) for helper in sorted(helpers)
                    if plans[finding].kind == "keep_task" and not os.path.exists(helper)]
            suggestions[finding] = Suggestion(plans[finding], tuple(own + made))
    return suggestions


def fix_source(text: str, planned: Sequence[tuple[Finding, Fix]],
               spans: list[tuple[int, int]] | None = None,
               edits: dict[Finding, list[Edit]] | None = None,
               path: str | None = None,
               helpers: set[str] | None = None) -> tuple[str, list[Finding]]:
    """Apply the planned fixes to one module's text; return the new text and what was fixed.

    Only the outermost ``def`` around each finding goes through libcst (cut out of the file,
    dedented, fixed, indented back and spliced in): the cost follows the code that changes,
    not the size of the file. ``spans`` are the line spans of the functions not nested in
    another function, as the lint indexed them (found with :mod:`ast` when not given).
    Missing imports are added as lines of text. ``edits``, when given, receives for each
    fixed finding the edits that fix it, in the coordinates of ``text``. The new code uses
    the module's own async library (:func:`~loopbridge.lint._fix_text.async_library`, which
    reads ``path``'s folders when the module itself does not say). A module in a package
    imports the task helper from its package's one helper module, whose path is added to
    ``helpers`` (the caller creates it).
    """
    lib = async_library(text, path if path is not None else
                        (planned[0][0].path if planned else None))
    if spans is None:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            newer = parse_newer(text, "<fix>")  # newer syntax keeps its line numbers
            if newer is None:
                return text, []
            tree = newer
        spans = outer_spans(tree.body)
    lines = text.splitlines(keepends=True)
    regions: dict[tuple[int, int], list[tuple[Finding, Fix]]] = {}
    comments = [(finding, fix) for finding, fix in planned if fix.kind == "noqa"]
    blocks, held = with_blocks(text, [(f, x) for f, x in planned if x.kind != "noqa"], lib)
    in_blocks = {id(finding) for block in blocks for finding in block.owned}
    in_blocks.update(id(finding) for finding in held)
    for finding, fix in planned:
        if fix.kind == "noqa" or id(finding) in in_blocks:
            continue
        region = next((span for span in spans if span[0] <= finding.line <= span[1]), None)
        if region is not None:
            regions.setdefault(region, []).append((finding, fix))
    fixed: list[Finding] = []
    needs: set[str] = set()
    found: dict[Finding, tuple[list[Edit], set[str]]] = {}
    for (first, last), items in sorted(regions.items(), reverse=True):
        done = _fix_region(lines, first, last, items, needs, found, lib)
        fixed.extend(done)
    # the other fixes keep the line count, so the blocks' lines are still where they were
    for block in sorted(blocks, key=lambda b: b.first, reverse=True):
        lines[block.first - 1:block.last] = block.text.splitlines(keepends=True)
        needs |= block.needs
        fixed.extend(block.owned)
        edit = Edit(block.owned[0].path, block.first, 1, block.last + 1, 1, block.text)
        for finding in block.owned:
            found[finding] = ([edit], set(block.needs))
    for finding, _ in comments:  # comments last: a code fix never moves a line's comment
        if not 0 < finding.line <= len(lines):
            continue
        pruned = prune_noqa(lines[finding.line - 1], finding.key.split(","))
        if pruned is not None:
            start, end, new = pruned
            old = lines[finding.line - 1]
            lines[finding.line - 1] = old[:start] + new + old[end:]
            found[finding] = ([Edit(finding.path, finding.line, start + 1, finding.line, end + 1,
                                    new)], set())
            fixed.append(finding)
    if not fixed:
        return text, []
    new_lines, added = with_imports(lines, needs - {KEEP_TASK})
    if KEEP_TASK in needs:
        home = task_home(path if path is not None else (planned[0][0].path if planned else None))
        new_lines, helper = with_keep_task(new_lines, home[1] if home is not None else 0)
        if home is not None and helpers is not None:
            helpers.add(home[0])
        if helper is not None:
            line, content = helper
            imported = [at for at, _ in added.values() if at < line]
            added[KEEP_TASK] = (line - len(imported), content)  # the original's line
    if edits is not None:
        for finding, (own, wanted) in found.items():
            inserts: dict[int, str] = {}
            for name in sorted(wanted, key=lambda n: (n == KEEP_TASK, n)):
                if name in added:
                    line, content = added[name]
                    inserts[line] = inserts.get(line, "") + content
            edits[finding] = own + [Edit(finding.path, line, 1, line, 1, content)
                                    for line, content in sorted(inserts.items())]
    return "".join(new_lines), fixed


def _fix_region(lines: list[str], first: int, last: int, items: list[tuple[Finding, Fix]],
                needs: set[str], edits: dict[Finding, tuple[list[Edit], set[str]]],
                lib: str = "asyncio") -> list[Finding]:
    """Fix one function in place in ``lines`` (1-based inclusive span); return what was fixed."""
    segment = lines[first - 1:last]
    head = segment[0]
    indent = head[: len(head) - len(head.lstrip(" \t"))]
    if any(line.strip() and not line.startswith(indent) for line in segment):
        return []  # a string or continuation line left of the def: not cut out safely
    dedented = [line.removeprefix(indent) for line in segment]
    shift = len(indent.encode("utf-8"))
    local = [(dataclasses.replace(finding, line=finding.line - first + 1,
                                  col=finding.col - shift), fix, finding)
             for finding, fix in items]
    new_text, done, used, replaced = _fix_function_text("".join(dedented), local, lib)
    new_lines = new_text.splitlines(keepends=True)
    if not done or len(new_lines) != len(segment):
        return []
    try:  # the region is one whole statement: if it compiles, so does the file around it
        compile(new_text, "<fixed>", "exec", dont_inherit=True)
    except SyntaxError:
        if parse_newer(new_text, "<fixed>") is None:  # not merely newer than this Python
            return []
    except (ValueError, RecursionError, MemoryError):
        return []
    lines[first - 1:last] = [indent + new if old.startswith(indent) else new
                             for old, new in zip(segment, new_lines, strict=True)]
    needs.update(used)
    width = len(indent)
    fixed_segment = lines[first - 1:first - 1 + len(segment)]
    for owners, (line, col, end_line, end_col), wanted in replaced:
        # the new code is read back from the fixed lines: everything after the old node on
        # its last line is unchanged, so it marks where the new node ends
        suffix = segment[end_line - 1][end_col + width:]
        joined = "".join(fixed_segment[line - 1:end_line])
        if not joined.endswith(suffix) or end_col + width > len(segment[end_line - 1]) \
                or joined[:col + width] != segment[line - 1][:col + width]:
            continue  # another edit on the same line moved things: no edit to offer
        content = joined[col + width:len(joined) - len(suffix)]
        edit = Edit(owners[0].path, line + first - 1, col + width + 1, end_line + first - 1,
                    end_col + width + 1, content)
        for owner in owners:
            own = edits.setdefault(owner, ([], set()))
            own[0].append(edit)
            own[1].update(wanted)
    return done


_Replaced = list[tuple[list[Finding], tuple[int, int, int, int], set[str]]]


_Planned = list[tuple[Finding, Fix, Finding]]
_Fixed = tuple[str, list[Finding], set[str], _Replaced]
#: Compound statements: a finding in one of these is found in its body or in its header.
_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor,
             ast.While, ast.With, ast.AsyncWith, ast.Try, ast.TryStar, ast.Match)


def _fix_function_text(text: str, planned: _Planned, lib: str = "asyncio") -> _Fixed:
    """Rewrite the planned calls of one (dedented) function.

    Most findings sit in a simple statement (a call, an assignment, a ``return``): then only
    the lines of those statements go through libcst, each group on its own, with the
    function around them known from :mod:`ast`, so the cost follows the statements that
    change rather than the size of the function. A finding in a statement's header (an
    ``if`` test, a ``with`` item), statements that share lines, or anything unusual sends the
    whole function through libcst instead.
    """
    groups = _statement_groups(text, planned)
    if groups is None:
        return _fix_module_text(text, planned, lib=lib)
    lines = text.splitlines(keepends=True)
    fixed: list[Finding] = []
    needs: set[str] = set()
    replaced: _Replaced = []
    for (first, last, is_async), items in groups.items():
        segment = lines[first - 1:last]
        head = segment[0]
        indent = head[: len(head) - len(head.lstrip(" \t"))]
        shift = len(indent.encode("utf-8"))
        local = [(dataclasses.replace(finding, line=finding.line - first + 1,
                                      col=finding.col - shift), fix, original)
                 for finding, fix, original in items]
        new_text, done, used, spots = _fix_module_text(
            "".join(line.removeprefix(indent) for line in segment), local,
            ASYNC_ROOT if is_async else SYNC_ROOT, lib)
        new_lines = new_text.splitlines(keepends=True)
        if not done or len(new_lines) != len(segment):
            continue
        lines[first - 1:last] = [indent + line for line in new_lines]
        fixed.extend(done)
        needs |= used
        width = len(indent)
        replaced.extend((owners, (line + first - 1, col + width, end_line + first - 1,
                                  end_col + width), wanted)
                        for owners, (line, col, end_line, end_col), wanted in spots)
    return "".join(lines), fixed, needs, replaced


def _statement_groups(text: str, planned: _Planned,
                      ) -> dict[tuple[int, int, bool], _Planned] | None:
    """The planned findings by the lines of the simple statement that holds each (and
    whether its function is async), or ``None`` when that cannot be done cleanly."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # e.g. syntax newer than this Python: the whole function goes
    lines = text.splitlines(keepends=True)
    groups: dict[tuple[int, int, bool], _Planned] = {}
    for item in planned:
        found = _statement_at(tree.body, item[0].line, item[0].col - 1, None)
        if found is None:
            return None
        statement, function = found
        first, last = statement.lineno, statement.end_lineno or statement.lineno
        head = lines[first - 1]
        indent = head[: len(head) - len(head.lstrip(" \t"))]
        if any(line.strip() and not line.startswith(indent) for line in lines[first - 1:last]):
            return None
        groups.setdefault((first, last, isinstance(function, ast.AsyncFunctionDef)),
                          []).append(item)
    spans = sorted((first, last) for first, last, _ in groups)
    if any(a[1] >= b[0] for a, b in itertools.pairwise(spans)):
        return None  # statements that share a line
    return groups


def _statement_at(body: list[ast.stmt], line: int, col: int,
                  function: ast.AST | None) -> tuple[ast.stmt, ast.AST] | None:
    """The simple statement at (line, byte column) and the function whose body holds it."""
    for node in body:
        if not (node.lineno, node.col_offset) <= (line, col) \
                <= (node.end_lineno or node.lineno, node.end_col_offset or 0):
            continue
        if not isinstance(node, _COMPOUND):
            return (node, function) if function is not None else None
        if isinstance(node, ast.ClassDef):
            return None
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node
        inner: list[list[ast.stmt]] = [getattr(node, name, []) for name in
                                       ("body", "orelse", "finalbody")]
        inner.extend(handler.body for handler in getattr(node, "handlers", ()))
        inner.extend(case.body for case in getattr(node, "cases", ()))
        for block in inner:
            found = _statement_at(block, line, col, function)
            if found is not None:
                return found
        return None  # in the header of a compound statement
    return None


def _fix_module_text(text: str, planned: _Planned, root: cst.FunctionDef | None = None,
                     lib: str = "asyncio") -> _Fixed:
    """Rewrite the planned calls of a (small) module text with libcst.

    The tree is walked once, by a code generation that records each node's position and
    parent; only the subtrees that change are rebuilt, and their new code is spliced into the
    text (the rest of the text is never regenerated). Returns the new text, the (original)
    findings fixed, the imports needed, and for each rewritten node the findings it fixes,
    its range (1-based lines, 0-based character columns) and the imports its new code needs.
    """
    try:
        module = cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return text, [], set(), []
    positions, parents = positions_and_parents(module)
    if root is not None:
        parents[module] = root  # the text is statements cut out of this function's body
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
    groups: dict[tuple[int, int], list[tuple[Finding, Fix, Finding]]] = {}
    for item in planned:
        groups.setdefault(char_position(lines, item[0]), []).append(item)
    edits: dict[cst.CSTNode, tuple[Fix, bool]] = {}
    owners: dict[cst.CSTNode, list[Finding]] = {}
    for position, items in groups.items():
        nodes = sorted(starts.get(position, []), key=lambda n: ends.get(n, (0, 0)),
                       reverse=True)  # outermost call first
        chosen = _choose(nodes, [(local, fix) for local, fix, _ in items], parents)
        if chosen is not None:
            target, chained, fix = chosen
            edits[target] = (fix, chained)
            owners[target] = [original for _, _, original in items]
    if not edits:
        return text, [], set(), []
    return _splice(text, module, edits, owners, positions, parents, lib)


def _splice(text: str, module: cst.Module, edits: dict[cst.CSTNode, tuple[Fix, bool]],
            owners: dict[cst.CSTNode, list[Finding]],
            positions: Mapping[cst.CSTNode, CodeRange], parents: ParentMap,
            lib: str = "asyncio") -> tuple[str, list[Finding], set[str], _Replaced]:
    """Rebuild each outermost node to rewrite (with the ones it holds) and splice its code."""
    offsets = line_offsets(text)
    transformer = _Rewriter(edits, lib)
    pieces: list[tuple[int, int, str]] = []
    replaced: _Replaced = []
    outermost = [node for node in edits if outermost_edited(node, edits, parents) is node]
    holders: set[cst.CSTNode] = set()
    for node in edits:
        outer = outermost_edited(node, edits, parents)
        if outer is not node:
            owners[outer].extend(owners[node])  # rebuilt with the node that holds it
            holders.add(outer)
    for node in outermost:
        where = positions[node]
        first = offsets[where.start.line - 1] + where.start.column
        last = offsets[where.end.line - 1] + where.end.column
        indents = indents_around(module, node, parents)
        if where.start.line != where.end.line and code_in_place(module, node, indents) != \
                text[first:last]:
            continue  # positions and code disagree: leave this call alone
        transformer.needs = set()
        if node in holders:  # rebuild the edits inside it too
            built = node.visit(transformer)
        elif isinstance(node, cst.Call):
            built = transformer.leave_Call(node, node)
        else:
            built = node.visit(transformer)
        if built is node or not isinstance(built, cst.CSTNode):
            continue
        pieces.append((first, last, code_in_place(module, built, indents)))
        replaced.append((owners[node], (where.start.line, where.start.column, where.end.line,
                                        where.end.column), transformer.needs))
    fixed: list[Finding] = []
    needs: set[str] = set()
    for owned, _, wanted in replaced:
        fixed.extend(owned)
        needs |= wanted
    for first, last, code in sorted(pieces, reverse=True):
        text = text[:first] + code + text[last:]
    return text, fixed, needs, replaced


def _choose(nodes: list[cst.CSTNode], items: list[tuple[Finding, Fix]],
            parent_of: ParentMap) -> tuple[cst.CSTNode, bool, Fix] | None:
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
    if fix.kind == "keep_task":  # in any function: a sync callback drops its task too
        target = flagged[0]
        if _statement_value(target, parent_of) and _in_function_body(target, parent_of):
            return target, False, fix
        return None
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


def _statement_value(node: cst.CSTNode, parents: ParentMap) -> bool:
    parent = parents.get(node)
    return isinstance(parent, _STATEMENT_PARENTS) and getattr(parent, "value", None) is node


def _awaitable_here(node: cst.CSTNode, parents: ParentMap) -> bool:
    parent = parents.get(node)
    if isinstance(parent, cst.Attribute | cst.Subscript) and parent.value is node:
        return False
    if isinstance(parent, cst.Call) and parent.func is node:
        return False
    if isinstance(parent, cst.Await):
        return False
    return _in_async_body(node, parents)


def _in_async_body(node: cst.CSTNode, parents: ParentMap) -> bool:
    function = _enclosing_function(node, parents)
    return function is not None and function.asynchronous is not None


def _in_function_body(node: cst.CSTNode, parents: ParentMap) -> bool:
    return _enclosing_function(node, parents) is not None


def _enclosing_function(node: cst.CSTNode, parents: ParentMap) -> cst.FunctionDef | None:
    """The ``def`` whose own body holds ``node`` (``None`` past a lambda, class, default ...)."""
    current = parents.get(node)
    while current is not None:
        if isinstance(current, _BARRIERS):
            return None
        if isinstance(current, cst.FunctionDef):
            return current
        current = parents.get(current)
    return None


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
    """Replace each chosen node by its fixed form (built from the updated node).

    ``needs`` collects the imports (and the task helper) the new code uses.
    """

    def __init__(self, edits: dict[cst.CSTNode, tuple[Fix, bool]], lib: str = "asyncio",
                 ) -> None:
        super().__init__()
        self.edits = edits
        self.lib = lib
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
            self.needs.add(self.lib)
            return _await(call.with_changes(func=_dotted(f"{self.lib}.sleep")))
        if fix.kind == "keep_task":
            self.needs.add(KEEP_TASK)
            return cst.Call(func=cst.Name(KEEP_TASK), args=[cst.Arg(call)])
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
        self.needs.add(self.lib)
        to_thread = _dotted(OFFLOAD[self.lib])
        if chained:
            body = cst.Lambda(params=cst.Parameters(), body=call)
            return _await(cst.Call(func=to_thread, args=[cst.Arg(body)]))
        if self.lib != "asyncio" and any(arg.keyword is not None or arg.star == "**"
                                         for arg in call.args):
            # anyio's and trio's run_sync pass positional arguments only
            self.needs.add("functools")
            bound = cst.Call(func=_dotted("functools.partial"), args=[
                cst.Arg(call.func, comma=_comma()), *call.args])
            return _await(cst.Call(func=to_thread, args=[cst.Arg(bound)]))
        head = cst.Arg(call.func, comma=_comma() if call.args else cst.MaybeSentinel.DEFAULT)
        return _await(cst.Call(func=to_thread, args=[head, *call.args]))


def _bridge_http(call: cst.Call) -> cst.Call | None:
    func = call.func
    verb = func.attr.value if isinstance(func, cst.Attribute) else \
        func.value if isinstance(func, cst.Name) else ""
    args = list(call.args)
    if any(arg.star or (arg.keyword is not None and arg.keyword.value == "stream")
           for arg in args):
        return None  # bridge.http reads the whole body: a streamed response stays requests'
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
