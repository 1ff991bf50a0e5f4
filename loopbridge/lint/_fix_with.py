"""``--fix``: a ``with`` block whose header blocks moves to a worker thread as a whole.

``with open(path) as fh: data = fh.read()`` in a coroutine blocks twice, opening and reading;
offloading each call would leave the ``open`` on the loop (it sits in the ``with`` header) and
hand a file object between threads. The block becomes a nested function run in a thread::

    def _blocking_io():
        with open(path) as fh:
            data = fh.read()
        return data
    data = await asyncio.to_thread(_blocking_io)

with the module's own async library (``anyio.to_thread.run_sync`` in anyio code). Names the
block assigns and the function reads elsewhere are returned from it. A block that awaits,
returns, yields, breaks out of a loop around it, rebinds a name the function already had, or
holds a string spanning lines is left as it is (its findings stay reported). Plain
:mod:`ast` and text work, no libcst.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ._fix_text import OFFLOAD
from ._fixes import Fix
from ._model import Finding

__all__ = ["Block", "with_blocks"]

#: Fix kinds a block can own: the calls inside it simply run in the thread with it.
_MOVABLE = frozenset({"to_thread", "bridge_http", "sleep"})
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_LEAVES = (ast.Await, ast.AsyncFor, ast.AsyncWith, ast.Yield, ast.YieldFrom, ast.Return,
           ast.Global, ast.Nonlocal)
_NAME = "_blocking_io"


@dataclass(slots=True)
class Block:
    """One ``with`` statement (1-based inclusive lines) and the text that replaces it."""

    first: int
    last: int
    text: str
    owned: list[Finding] = field(default_factory=list)
    needs: set[str] = field(default_factory=set)


def with_blocks(text: str, planned: Sequence[tuple[Finding, Fix]], lib: str,
                ) -> tuple[list[Block], list[Finding]]:
    """The ``with`` blocks to offload whole (each holds a planned finding in its header),
    and the findings of blocks that cannot move: those are not fixed call by call either
    (the file would be opened on the loop and read in a thread)."""
    movable = [(finding, fix) for finding, fix in planned if fix.kind in _MOVABLE]
    if not movable:
        return [], []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [], []
    lines = text.splitlines(keepends=True)
    starts = {(f.line, f.col - 1) for f, _ in movable}
    blocks: list[Block] = []
    held: list[Finding] = []
    taken: list[tuple[int, int]] = []
    candidates = sorted(_candidates(tree, starts), key=lambda c: c[0].lineno)
    for node, function in candidates:
        first, last = node.lineno, node.end_lineno or node.lineno
        if any(a <= first <= b for a, b in taken):
            continue  # inside a block already offloaded with the one around it
        block = _block(node, function, lines, text, planned, lib)
        if block is not None:
            blocks.append(block)
        else:
            held.extend(f for f, fix in movable if first <= f.line <= last)
        taken.append((first, last))
    return blocks, held


def _candidates(tree: ast.Module, starts: set[tuple[int, int]],
                ) -> Iterator[tuple[ast.With, ast.AsyncFunctionDef]]:
    for function in ast.walk(tree):
        if not isinstance(function, ast.AsyncFunctionDef):
            continue
        for node in _own_statements(function.body):
            if isinstance(node, ast.With) and any(
                    (call.lineno, call.col_offset) in starts for item in node.items
                    for call in ast.walk(item.context_expr) if isinstance(call, ast.Call)):
                yield node, function


def _own_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of a function body, nested blocks included, not nested functions."""
    for node in body:
        yield node
        if isinstance(node, _NESTED):
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(node, name, None)
            if isinstance(inner, list):
                yield from _own_statements(inner)
        for handler in getattr(node, "handlers", ()):
            yield from _own_statements(handler.body)
        for case in getattr(node, "cases", ()):
            yield from _own_statements(case.body)


def _walk_own(node: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk`` that does not enter nested functions, lambdas or classes."""
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, _NESTED):
                todo.append(child)


def _leaves_the_block(node: ast.With) -> bool:
    """Whether control can leave the block other than by its end (or it awaits)."""
    loops = [n for n in _walk_own(node) if isinstance(n, ast.For | ast.While)]
    inner = {id(n) for loop in loops for n in _walk_own(loop) if n is not loop}
    for child in _walk_own(node):
        if isinstance(child, _LEAVES):
            return True
        if isinstance(child, ast.Break | ast.Continue) and id(child) not in inner:
            return True
    return False


def _names(nodes: Iterator[ast.AST]) -> tuple[set[str], set[str]]:
    stored: set[str] = set()
    loaded: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else stored).add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            loaded.add(node.target.id)  # `total += n` reads it too
        elif isinstance(node, ast.alias):
            stored.add((node.asname or node.name).partition(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stored.add(node.name)
    return stored, loaded


def _block(node: ast.With, function: ast.AsyncFunctionDef, lines: list[str], text: str,
           planned: Sequence[tuple[Finding, Fix]], lib: str) -> Block | None:
    first, last = node.lineno, node.end_lineno or node.lineno
    owned = [finding for finding, _ in planned if first <= finding.line <= last]
    if any(fix.kind not in _MOVABLE for finding, fix in planned if first <= finding.line <= last):
        return None
    if _leaves_the_block(node) or any(
            isinstance(n, ast.Constant | ast.JoinedStr) and n.lineno != n.end_lineno
            for n in _walk_own(node)):
        return None
    head = lines[first - 1]
    indent = head[: len(head) - len(head.lstrip(" \t"))]
    if len(indent) != node.col_offset or any(
            line.strip() and not line.startswith(indent) for line in lines[first - 1:last]):
        return None
    inside = list(_walk_own(node))
    stored, loaded = _names(iter(inside))
    inside_ids = {id(n) for n in inside}
    outside = [n for n in _walk_own(function) if id(n) not in inside_ids and n is not function]
    stored_outside, loaded_outside = _names(iter(outside))
    args = function.args
    params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    if stored & loaded & (stored_outside | params):
        return None  # the nested function would read its own, still unbound, local
    returned = sorted(stored & loaded_outside)
    name = _free_name(text)
    body = node.body[0]
    step = body.col_offset - node.col_offset if body.lineno != node.lineno else 4
    unit = " " * step if step > 0 else "    "
    newline = "\r\n" if head.endswith("\r\n") else "\n"
    moved = [unit + line if line.strip() else line for line in lines[first - 1:last]]
    if not moved[-1].endswith(("\n", "\r")):
        moved[-1] += newline
    out = [f"{indent}def {name}():{newline}", *moved]
    if returned:
        out.append(f"{indent}{unit}return {', '.join(returned)}{newline}")
    target = f"{', '.join(returned)} = " if returned else ""
    out.append(f"{indent}{target}await {OFFLOAD[lib]}({name}){newline}")
    check = "async def _check():\n" + "".join(
        "    " + line[len(indent):] if line.strip() else line for line in out)
    try:
        compile(check, "<fixed>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    new = "".join(out)
    if not lines[last - 1].endswith(("\n", "\r")):
        new = new[: -len(newline)]
    return Block(first, last, new, owned, {lib})


def _free_name(text: str) -> str:
    """``_blocking_io``, or with a number when the module already uses that name."""
    name, number = _NAME, 1
    while name in text:
        number += 1
        name = f"{_NAME}_{number}"
    return name
