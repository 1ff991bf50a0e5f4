"""The worked example in docs/migrating.md: the figures of each migration step stay true."""

from __future__ import annotations

import re
from pathlib import Path

from loopbridge.report import build_report

from .conftest import REPO
from .guide_states import STATES, figures, render_table, write_state

GUIDE = REPO / "docs" / "migrating.md"


def _between(text: str, name: str) -> str:
    found = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.DOTALL)
    assert found is not None, f"docs/migrating.md lost its <!-- {name} --> markers"
    return found.group(1)


def test_guide_table_matches_a_report_of_each_step(tmp_path: Path) -> None:
    rows = {state: figures(write_state(tmp_path / f"s{i}", state))
            for i, state in enumerate(STATES)}
    fresh = render_table(rows)
    shown = _between(GUIDE.read_text(encoding="utf-8"), "report-example")
    assert shown == fresh, ("the report example in docs/migrating.md is out of date; "
                            "paste this table:\n" + fresh)


def test_guide_names_the_step_the_report_ranks_first() -> None:
    report = build_report(["legacy_app"])
    first = report.steps[0]
    shown = _between(GUIDE.read_text(encoding="utf-8"), "report-example-first-step")
    assert f"{first.function}() at {first.site.split(':')[0]}: {first.call} " \
           f"[{first.kind}, {first.status}]" in shown
    assert "bridge.http.map" in first.change and "bridge.http.map" in shown
