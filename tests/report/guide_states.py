"""legacy_app before and after each migration step, rebuilt from today's code, and the
figures of ``loopbridge report`` for each (the worked example in ``docs/migrating.md``).

The states are copies of ``legacy_app`` with the later steps taken out by syntax-tree edits:

- before / step 1: no ``async def`` probe routes, and the check-all job has only the
  requests checker (``LoopBridge(app)`` moves no IO, so step 1 reports the same figures);
- step 2: the check loop also on ``bridge.http.map`` (the ``bridge`` checker);
- step 3: today's ``legacy_app``, with the ``async def`` probe routes.
"""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path
from typing import Any

from loopbridge.lint import LintConfig
from loopbridge.report import build_report

__all__ = ["STATES", "figures", "render_table", "write_state"]

REPO = Path(__file__).resolve().parents[2]
STATES = ("before / step 1", "step 2", "step 3")
_ROUTES = (("POST /check-all", "views.check_all"), ("POST /sites/<id>/probe", "views.probe"))


def _drop_function(source: str, name: str, path: str) -> str:
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            lines = source.splitlines(keepends=True)
            return "".join(lines[:first - 1] + lines[node.end_lineno or node.lineno:])
    raise AssertionError(f"{path} has no function {name}() any more: update "
                         "tests/report/guide_states.py and the example in docs/migrating.md")


def _only_legacy_checker(source: str, path: str) -> str:
    tree = ast.parse(source)
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "CHECKERS" and node.value is not None:
            lines = source.splitlines(keepends=True)
            start, end = node.value.lineno, node.value.end_lineno or node.value.lineno
            head = lines[start - 1][:node.value.col_offset]
            tail = lines[end - 1][node.value.end_col_offset or 0:]
            middle = head + '{"legacy": check_sites_legacy}' + tail
            return "".join(lines[:start - 1] + [middle] + lines[end:])
    raise AssertionError(f"{path} has no CHECKERS table any more: update "
                         "tests/report/guide_states.py and the example in docs/migrating.md")


def write_state(root: Path, state: str) -> Path:
    """Copy legacy_app under ``root`` as it was in ``state``; return ``root``."""
    app = root / "legacy_app"
    shutil.copytree(REPO / "legacy_app", app,
                    ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "schema"))
    if state == STATES[2]:
        return root
    for name in ("views.py", "api.py"):
        path = app / name
        path.write_text(_drop_function(path.read_text(encoding="utf-8"), "probe", name))
    if state == STATES[0]:
        path = app / "checkers.py"
        text = _drop_function(path.read_text(encoding="utf-8"), "check_sites_bridge",
                              "checkers.py")
        path.write_text(_only_legacy_checker(text, "checkers.py"))
    return root


def figures(root: Path) -> dict[str, Any]:
    """The example's figures for the app copied under ``root``."""
    cwd = os.getcwd()
    os.chdir(root)
    try:
        report = build_report(["legacy_app"], LintConfig(root=str(root)))
    finally:
        os.chdir(cwd)
    routes = {r.endpoint: r for r in report.routes}
    reached = {key for r in report.routes for key in r.sites}
    status = {s.id: s.status for s in report.sites}
    out: dict[str, Any] = {
        "routes_clean": f"{report.headline['routes_clean']} of {report.headline['routes']}",
        "reached_on_loop": f"{sum(1 for k in reached if status.get(k) == 'migrated')} of "
                           f"{len(reached)}",
    }
    for label, endpoint in _ROUTES:
        route = routes.get(endpoint)
        if route is None:
            out[label] = "—"
            continue
        c = route.counts
        out[label] = (f"{route.view_kind}: {c['migrated']} on the loop, {c['blocking']} blocking, "
                      f"{c['offloaded']} offloaded")
    return out


def render_table(rows: dict[str, dict[str, Any]]) -> str:
    """The Markdown table the guide shows."""
    head = ("| state | routes with no blocking IO | IO call sites reached from routes, on the "
            "loop | " + " | ".join(label for label, _ in _ROUTES) + " |")
    lines = [head, "|" + "---|" * (3 + len(_ROUTES))]
    for state, row in rows.items():
        lines.append(f"| {state} | {row['routes_clean']} | {row['reached_on_loop']} | "
                     + " | ".join(row[label] for label, _ in _ROUTES) + " |")
    return "\n".join(lines) + "\n"
