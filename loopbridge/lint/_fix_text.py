"""The text side of ``--fix``: where functions are, where imports go, how columns convert.

Plain :mod:`ast` and string work (no libcst), shared by :mod:`loopbridge.lint._fix_apply`.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import tomllib
from collections.abc import Iterable

from ._facts import NOQA
from ._fixes import KEEP_TASK
from ._model import Finding
from ._newer import parse_newer

__all__ = ["OFFLOAD", "TASKS_MODULE", "TASKS_MODULE_SOURCE", "async_library", "char_position",
           "outer_spans", "prune_noqa", "task_home", "with_imports", "with_keep_task"]

#: How each async library runs a function in a worker thread (``await X(fn, *args)``).
OFFLOAD = {"asyncio": "asyncio.to_thread", "anyio": "anyio.to_thread.run_sync",
           "trio": "trio.to_thread.run_sync"}
#: A module that imports anyio or trio, or marks its tests to run on them.
_USES = {lib: re.compile(rf"^\s*(?:import|from)\s+{lib}\b|\bmark\.{lib}\b|\b{lib}_backend\b",
                         re.MULTILINE) for lib in ("anyio", "trio")}
_ASYNCIO = re.compile(r"^\s*(?:import|from)\s+asyncio\b", re.MULTILINE)

#: The set the LB310 helper keeps its tasks in.
_TASKS = "_loopbridge_tasks"
#: The LB310 helper, added once per module (``{tasks}`` / ``{keep}``: its two names).
_KEEP_TASK_SOURCE = (
    "#: Tasks started in this module, kept until they are done: the event loop holds a task\n"
    "#: only weakly, and one nothing references can be garbage-collected mid-flight.\n"
    "{tasks}: set[object] = set()\n"
    "\n"
    "\n"
    "def {keep}(task):\n"
    '    """Keep ``task`` referenced until it is done; return it."""\n'
    "    {tasks}.add(task)\n"
    "    task.add_done_callback({tasks}.discard)\n"
    "    return task\n"
)


def async_library(text: str, path: str | None = None) -> str:
    """The async library a module's coroutines run on: ``anyio``, ``trio`` or ``asyncio``.

    The module says it by importing anyio or trio (anyio first: anyio code runs on trio too),
    or by marking its tests (``pytest.mark.anyio``, an ``anyio_backend`` fixture); one that
    imports asyncio is asyncio code; a module that says nothing takes what the ``conftest.py`` files of its folders say, then what the
    project's dependencies name (``pyproject.toml``, ``setup.cfg``, ``setup.py``). Code
    written for anyio must not call ``asyncio.to_thread`` or ``asyncio.sleep``: under trio
    they fail.
    """
    for lib in ("anyio", "trio"):
        if _USES[lib].search(text):
            return lib
    if _ASYNCIO.search(text):
        return "asyncio"
    if path:
        folder = os.path.dirname(os.path.abspath(path))
        for _ in range(8):
            conftest = os.path.join(folder, "conftest.py")
            try:
                with open(conftest, encoding="utf-8", errors="replace") as fh:
                    said = fh.read()
            except OSError:
                said = ""
            for lib in ("anyio", "trio"):
                if said and _USES[lib].search(said):
                    return lib
            found = _declared(folder)
            if found is not None:
                return found
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    return "asyncio"


def _declared(folder: str) -> str | None:
    """At a project's root (``pyproject.toml`` or ``setup.cfg``): the library its runtime
    dependencies name (``anyio``, then ``trio``), else ``"asyncio"``; ``None`` elsewhere."""
    names: list[str] = []
    found = False
    try:
        with open(os.path.join(folder, "pyproject.toml"), "rb") as fh:
            data = tomllib.load(fh)
        found = True
        project = data.get("project", {})
        names += [str(d) for d in project.get("dependencies", ()) if isinstance(d, str)]
        poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
        names += [str(d) for d in poetry] if isinstance(poetry, dict) else []
    except (OSError, ValueError, AttributeError):
        pass
    config = configparser.ConfigParser()
    try:
        if config.read(os.path.join(folder, "setup.cfg"), encoding="utf-8"):
            found = True
            names += config.get("options", "install_requires", fallback="").split()
    except (configparser.Error, UnicodeDecodeError):
        pass
    if not found:
        return None
    for lib in ("anyio", "trio"):
        if any(re.match(rf"{lib}\b(?![-.])", name.strip().lower()) for name in names):
            return lib
    return "asyncio"


#: The module, one per package, that keeps the tasks the LB310 fix hands it.
TASKS_MODULE = "_loopbridge_tasks"
TASKS_MODULE_SOURCE = (
    '"""Tasks started in this package, kept until they are done.\n'
    "\n"
    "The event loop holds a task only weakly: one nothing references can be garbage-collected\n"
    "before it finishes. ``keep_task`` holds it in a set until it is done.\n"
    '"""\n'
    "\n"
    "_tasks: set[object] = set()\n"
    "\n"
    "\n"
    "def keep_task(task):\n"
    '    """Keep ``task`` referenced until it is done; return it."""\n'
    "    _tasks.add(task)\n"
    "    task.add_done_callback(_tasks.discard)\n"
    "    return task\n"
)


def task_home(path: str | None) -> tuple[str, int] | None:
    """Where a module inside a package imports the task helper from: the helper module's
    path at the top of its package, and the level of the relative import (``..`` is 2);
    ``None`` for a module outside any package (it gets the helper itself)."""
    if not path:
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isfile(os.path.join(folder, "__init__.py")):
        return None
    level = 1
    while os.path.isfile(os.path.join(os.path.dirname(folder), "__init__.py")) and level < 32:
        folder = os.path.dirname(folder)
        level += 1
    return os.path.join(folder, TASKS_MODULE + ".py"), level


def outer_spans(body: list[ast.stmt]) -> list[tuple[int, int]]:
    """Line spans of the function definitions not nested in another function."""
    spans: list[tuple[int, int]] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            spans.append((node.lineno, node.end_lineno or node.lineno))
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(node, name, None)
            if isinstance(inner, list):
                spans.extend(outer_spans(inner))
        for handler in getattr(node, "handlers", ()):
            spans.extend(outer_spans(handler.body))
    return spans


def char_position(lines: list[str], finding: Finding) -> tuple[int, int]:
    """ast columns count UTF-8 bytes; libcst columns count characters."""
    if not 0 < finding.line <= len(lines):
        return finding.line, finding.col - 1
    raw = lines[finding.line - 1].encode("utf-8", "surrogateescape")
    return finding.line, len(raw[: finding.col - 1].decode("utf-8", "ignore"))


def with_imports(lines: list[str], needs: Iterable[str],
                  ) -> tuple[list[str], dict[str, tuple[int, str]]]:
    """``lines`` with ``import NAME`` added for each needed name the module does not import.

    The new lines go just before the first top-level import after the docstring and
    ``from __future__`` imports (or after those when there is no import), in the file's own
    line ending. Only the head of the module, up to its first function or class, is parsed.
    Returns the new lines and, per name imported, the (1-based) line of the original it was
    inserted before and the text inserted.
    """
    if not needs:
        return lines, {}
    tree = _head(lines)
    if tree is None:
        return lines, {}
    present = {alias.name for node in tree.body if isinstance(node, ast.Import)
               for alias in node.names if alias.asname is None}
    missing = [name for name in sorted(needs) if name not in present]
    if not missing:
        return lines, {}
    body = tree.body
    index = 0
    while index < len(body) and (_is_docstring(body[index], index)
                                 or _is_future_import(body[index])):
        index += 1
    line = (body[index - 1].end_lineno or 0) + 1 if index else _past_comments(lines)
    for node in body[index:]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            line = node.lineno
            break
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    added = [f"import {name}{newline}" for name in missing]
    if line - 2 >= 0 and line - 2 < len(lines) and not lines[line - 2].endswith(("\n", "\r")):
        lines[line - 2] += newline  # the file's last line had no line ending
    return lines[:line - 1] + added + lines[line - 1:], {
        name: (line, text) for name, text in zip(missing, added, strict=True)}


def with_keep_task(lines: list[str], level: int = 0,
                   ) -> tuple[list[str], tuple[int, str] | None]:
    """``lines`` with the LB310 helper (:data:`~loopbridge.lint._fixes.KEEP_TASK`) added.

    With ``level`` (a module in a package), the helper is imported from the package's one
    :data:`TASKS_MODULE` (``from .._loopbridge_tasks import keep_task as ...``); without, it
    is defined in the module. Either goes after the module's first block of imports (after
    its docstring and ``from __future__`` imports when it has no import), so it exists before
    any code of the module runs. A module that already has it is left as it is (the fix is
    idempotent). Returns the new lines and the (1-based) line of the original the helper was
    inserted before with the text inserted, or ``None`` when nothing was added.
    """
    if any(line.startswith(f"def {KEEP_TASK}(") or
           (line.startswith("from .") and f" as {KEEP_TASK}" in line) for line in lines):
        return lines, None
    tree = _head(lines)
    if tree is None:
        return lines, None
    body = tree.body
    index = 0
    while index < len(body) and (_is_docstring(body[index], index)
                                 or _is_future_import(body[index])
                                 or isinstance(body[index], ast.Import | ast.ImportFrom)):
        index += 1
    line = (body[index - 1].end_lineno or 0) + 1 if index else _past_comments(lines)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if line - 2 >= 0 and line - 2 < len(lines) and not lines[line - 2].endswith(("\n", "\r")):
        lines[line - 2] += newline
    blank_after = 0
    while line - 1 + blank_after < len(lines) and not lines[line - 1 + blank_after].strip():
        blank_after += 1
    if level:
        text = (f"from {'.' * level}{TASKS_MODULE} import keep_task as {KEEP_TASK}{newline}")
        after = [] if line - 1 + blank_after >= len(lines) or blank_after \
            or lines[line - 1].startswith(("import ", "from ")) else [newline]
        return lines[:line - 1] + [text] + after + lines[line - 1:], (line, text + "".join(after))
    before = [newline] * 2 if line > 1 else []
    after = [] if line - 1 + blank_after >= len(lines) else [newline] * max(0, 2 - blank_after)
    source = _KEEP_TASK_SOURCE.format(tasks=_TASKS, keep=KEEP_TASK)
    added = before + [text + newline for text in source.splitlines()] + after
    return lines[:line - 1] + added + lines[line - 1:], (line, "".join(added))


def _past_comments(lines: list[str]) -> int:
    """The first line after the comments that open the file (``#!``, a coding line, a
    licence header), which must stay where they are; 1 when the file opens with code."""
    index = 0
    while index < len(lines) and lines[index].lstrip().startswith("#"):
        index += 1
    return index + 1


def _is_docstring(node: ast.stmt, index: int) -> bool:
    return index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
        and isinstance(node.value.value, str)


def _is_future_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


_STARTS = ("def ", "async def ", "class ", "@")


def _head(lines: list[str]) -> ast.Module | None:
    """The module's statements before its first top-level ``def``, ``class`` or decorator
    (the whole module when that part does not parse on its own)."""
    for index, line in enumerate(lines):
        if line.startswith(_STARTS):
            head = _parse("".join(lines[:index]))
            if head is not None:
                return head
            break  # e.g. the line was inside a multi-line string
    return _parse("".join(lines))


def _parse(text: str) -> ast.Module | None:
    """``ast.parse``, reading syntax newer than this interpreter too; ``None`` if invalid."""
    try:
        return ast.parse(text)
    except SyntaxError:
        return parse_newer(text, "<fix>")
    except (ValueError, RecursionError, MemoryError):
        return None


def prune_noqa(line: str, unused: Iterable[str]) -> tuple[int, int, str] | None:
    """Remove the ``unused`` codes from the ``# noqa`` comment of ``line``.

    Returns the 0-based character range of the line to replace and its replacement, or
    ``None`` when the line has no such comment. When no code is left the suppression goes
    (a bare ``# noqa`` would silence everything); words after it stay a comment.
    """
    drop = {code.upper() for code in unused}
    for match in NOQA.finditer(line):
        codes = match.group("codes")
        if not codes:
            continue
        names = [c for c in codes.replace(",", " ").split() if c]
        kept = [c for c in names if c.upper() not in drop]
        if len(kept) == len(names):
            continue
        start, end = match.start(), match.end()
        if kept:
            return start, end, f"# noqa: {', '.join(kept)}"
        rest = line[end:].rstrip("\r\n")
        if rest.strip():
            return start, end, "#"
        while start > 0 and line[start - 1] in " \t":
            start -= 1
        return start, end, ""
    return None
