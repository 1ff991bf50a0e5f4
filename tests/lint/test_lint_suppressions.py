"""Suppression hygiene: unused ``# noqa: LB...`` (LB801), stale baseline entries, pruning."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from loopbridge.lint import LintConfig, lint_source
from loopbridge.lint._cli import lint_command

APP = textwrap.dedent("""\
    import time
    import requests


    async def one():
        time.sleep(1)


    async def two(url):
        return requests.get(url)
""")


def codes(source: str, **config: object) -> list[tuple[int, str]]:
    found = lint_source(textwrap.dedent(source), "m.py", LintConfig(**config))  # type: ignore[arg-type]
    return [(f.line, f.code) for f in found]


def test_used_noqa_is_silent_and_unused_one_is_lb801() -> None:
    assert codes("""\
        import asyncio, time
        async def f():
            time.sleep(1)  # noqa: LB102
            await asyncio.sleep(1)  # noqa: LB102
        """) == [(4, "LB801")]


def test_lb801_names_only_the_unused_codes_of_a_comment() -> None:
    found = lint_source("import time\nasync def f():\n    time.sleep(1)  # noqa: LB102, LB301\n")
    assert [(f.line, f.col, f.code) for f in found] == [(3, 20, "LB801")]
    assert "# noqa: LB301 suppresses nothing" in found[0].message


def test_codes_not_checked_in_the_run_are_not_judged() -> None:
    source = "async def f():\n    x = 1  # noqa: LB201\n    return x\n"
    assert codes(source, select=("LB1", "LB8")) == []
    assert codes(source, ignore=("LB2",)) == []
    assert codes(source) == [(2, "LB801")]
    assert codes(source, ignore=("LB801",)) == []


def test_bare_noqa_other_tools_codes_and_strings_are_not_judged() -> None:
    assert codes("""\
        x = 1  # noqa
        y = 2  # noqa: E501
        z = "# noqa: LB101"
        w = '''
        # noqa: LB102
        '''
        """) == []


def test_unknown_lb_code_in_noqa_is_reported_as_such() -> None:
    found = lint_source("x = 1  # noqa: LB999\n")
    assert [f.code for f in found] == ["LB801"] and "LB999 (no such code)" in found[0].message


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "other.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(lint_command, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _entries(path: Path) -> list[dict[str, object]]:
    return json.loads(path.read_text(encoding="utf-8"))["findings"]  # type: ignore[no-any-return]


def test_fixed_finding_leaves_a_stale_entry_that_prune_removes(project: Path) -> None:
    assert invoke("--write-baseline", "b.json")[0] == 0
    assert len(_entries(project / "b.json")) == 4
    (project / "app.py").write_text(APP.replace("time.sleep(1)", "pass"))
    code, out, err = invoke("--baseline", "b.json")
    assert code == 0 and out == ""
    assert "stale baseline entry: app.py: LB102 in one (time.sleep)" in err
    assert "1 stale baseline entry (remove with --prune-baseline)" in err
    assert len(_entries(project / "b.json")) == 4  # reported, not touched
    code, _, err = invoke("--baseline", "b.json", "--prune-baseline")
    assert code == 0 and "1 stale baseline entry pruned" in err
    assert sorted((e["path"], e["code"]) for e in _entries(project / "b.json")) == [
        ("app.py", "LB101"), ("other.py", "LB101"), ("other.py", "LB102")]
    code, _, err = invoke("--baseline", "b.json")
    assert code == 0 and "stale" not in err and "3 in baseline" in err


def test_prune_leaves_entries_of_files_and_codes_not_checked(project: Path) -> None:
    invoke("--write-baseline", "b.json")
    (project / "app.py").write_text("x = 1\n")
    (project / "other.py").write_text("y = 1\n")
    invoke("app.py", "--baseline", "b.json", "--prune-baseline", "--select", "LB102")
    # app.py's LB102 went; its LB101 (not selected) and other.py's (not linted) stay
    assert sorted((e["path"], e["code"]) for e in _entries(project / "b.json")) == [
        ("app.py", "LB101"), ("other.py", "LB101"), ("other.py", "LB102")]


def test_entries_of_deleted_files_are_stale(project: Path) -> None:
    invoke("--write-baseline", "b.json")
    (project / "other.py").unlink()
    code, _, err = invoke("app.py", "--baseline", "b.json", "--prune-baseline")
    assert code == 0 and "2 stale baseline entries pruned" in err
    assert {e["path"] for e in _entries(project / "b.json")} == {"app.py"}


def test_prune_baseline_without_baseline_is_a_usage_error(project: Path) -> None:
    code, _, err = invoke("--prune-baseline")
    assert code == 2 and "--prune-baseline needs --baseline" in err


def test_duplicate_entries_beyond_the_findings_are_stale(project: Path) -> None:
    (project / "app.py").write_text(APP.replace("time.sleep(1)", "time.sleep(1)\n    time.sleep(2)"))
    invoke("--write-baseline", "b.json")
    (project / "app.py").write_text(APP)
    code, _, err = invoke("--baseline", "b.json", "--prune-baseline")
    assert code == 0 and "1 stale baseline entry pruned" in err
    assert len(_entries(project / "b.json")) == 4
