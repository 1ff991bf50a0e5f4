"""The libcst side of ``--fix``: positions and parents in one walk, code where it sits.

libcst finds a node's position by generating the code of the whole tree; recording each
node's parent in that same pass (:class:`_Recorder`) saves the second walk a parent map would
cost. The code of a rebuilt node is generated with the indentation of the blocks around it,
so that its continuation lines splice back into the text unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import libcst as cst
from libcst.metadata import CodeRange, ParentNodeProvider, PositionProvider

try:  # libcst's code generation state: the fast path (one walk, code generated in place)
    from libcst._nodes.internal import CodegenState
    from libcst.metadata.position_provider import PositionProvidingCodegenState
except ImportError:  # a libcst that moved them: the public API below, slower, same results
    CodegenState = PositionProvidingCodegenState = None  # type: ignore[assignment,misc]

__all__ = ["ASYNC_ROOT", "SYNC_ROOT", "ParentMap", "code_in_place", "indents_around",
           "line_offsets", "outermost_edited", "positions_and_parents"]

ParentMap = Mapping[cst.CSTNode, cst.CSTNode]


def outermost_edited(node: cst.CSTNode, edits: Mapping[cst.CSTNode, object],
                     parents: ParentMap) -> cst.CSTNode:
    """The outermost node to rewrite that holds ``node`` (``node`` itself when none does)."""
    outer = node
    current = parents.get(node)
    while current is not None:
        if current in edits:
            outer = current
        current = parents.get(current)
    return outer


def indents_around(module: cst.Module, node: cst.CSTNode, parents: ParentMap) -> list[str]:
    """The indentation of the blocks around ``node``, outermost first."""
    indents: list[str] = []
    current = parents.get(node)
    while current is not None:
        if isinstance(current, cst.IndentedBlock | cst.Match):
            indents.append(module.default_indent if current.indent is None else current.indent)
        current = parents.get(current)
    return indents[::-1]


def code_in_place(module: cst.Module, node: cst.CSTNode, indents: list[str]) -> str:
    """The code of ``node`` where it sits: its continuation lines keep the block's indent.

    Without libcst's internals the code is generated as the public API does, without the
    blocks' indentation: a node spanning several lines inside a block then does not match its
    text, and the caller leaves it alone (reported, not fixed) rather than guess.
    """
    if CodegenState is not None:
        try:
            state = CodegenState(default_indent=module.default_indent,
                                 default_newline=module.default_newline, indent_tokens=list(indents))
            node._codegen(state)
            return "".join(state.tokens)
        except (AttributeError, TypeError):  # internals changed shape
            pass
    return module.code_for_node(node)


def line_offsets(text: str) -> list[int]:
    """The offset in ``text`` where each line starts, as libcst counts lines."""
    return [0] + [match.end() for match in _NEWLINE.finditer(text)]


#: The line endings libcst counts (unlike str.splitlines, not form feeds or U+2028).
_NEWLINE = re.compile(r"\r\n?|\n")


def _recorder_class() -> type | None:
    if PositionProvidingCodegenState is None:
        return None

    class Recorder(PositionProvidingCodegenState):  # type: ignore[misc,valid-type]
        """libcst's position-recording code generation that also records each node's parent."""

        nodes: list[cst.CSTNode]
        parents: dict[cst.CSTNode, cst.CSTNode]

        def before_codegen(self, node: cst.CSTNode) -> None:
            stack = self.nodes
            if stack:
                self.parents[node] = stack[-1]
            stack.append(node)
            super().before_codegen(node)

        def after_codegen(self, node: cst.CSTNode) -> None:
            super().after_codegen(node)
            self.nodes.pop()

    return Recorder


_Recorder: Any = _recorder_class()


def positions_and_parents(module: cst.Module,
                          ) -> tuple[Mapping[cst.CSTNode, CodeRange],
                                     dict[cst.CSTNode, cst.CSTNode]]:
    """Every node's position (as :class:`PositionProvider` gives it) and parent, in one walk.

    Positions come from a code generation pass; recording parents in the same pass saves a
    second walk of the tree, the largest part of the cost of a fix after the parse.
    """
    if _Recorder is not None:
        try:
            provider = PositionProvider()
            state = _Recorder(default_indent=module.default_indent,
                              default_newline=module.default_newline, provider=provider)
            state.nodes = []
            state.parents = {}
            module._codegen(state)
            positions = cast("Mapping[cst.CSTNode, CodeRange]", provider._computed)
            parents: dict[cst.CSTNode, cst.CSTNode] = state.parents
            return positions, parents
        except (AttributeError, TypeError):  # internals changed shape: the public API
            pass
    wrapper = cst.metadata.MetadataWrapper(module, unsafe_skip_copy=True)
    return wrapper.resolve(PositionProvider), dict(wrapper.resolve(ParentNodeProvider))


def _root(is_async: bool) -> cst.FunctionDef:
    """A function to stand for the one statements are cut out of (only its kind matters):
    the parent given to a module made of statements taken from a function's body."""
    return cst.FunctionDef(name=cst.Name("_"), params=cst.Parameters(),
                           body=cst.IndentedBlock(body=[cst.SimpleStatementLine([cst.Pass()])]),
                           asynchronous=cst.Asynchronous() if is_async else None)


ASYNC_ROOT = _root(True)
SYNC_ROOT = _root(False)
