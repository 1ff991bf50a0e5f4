"""The command: formats, selection, statistics, exit codes, noqa, config and baselines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from loopbridge.lint._cli import lint_command

BLOCKING = textwrap.dedent("""\
    import time
    import requests


    def helper(url):
        return requests.get(url)


    async def main(url):
        time.sleep(1)
        return helper(url)
""")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp project directory (cwd) with one blocking module and a pyproject.toml."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "app.py").write_text(BLOCKING)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(lint_command, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_lint_command_is_a_click_command_named_lint() -> None:
    assert isinstance(lint_command, click.Command) and lint_command.name == "lint"


def test_text_output_is_sorted_path_line_col_code_message_and_exit_1(project: Path) -> None:
    code, out, err = invoke("app.py")
    assert code == 1
    lines = out.splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [["app.py:10:5:", "LB102"],
                                                          ["app.py:11:12:", "LB201"]]
    assert "main() → helper() → requests.get  (app.py:6)" in lines[1]
    assert "2 finding(s) in 1 file(s)" in err


def test_clean_tree_exits_0(project: Path) -> None:
    (project / "app.py").write_text("async def main():\n    return 1\n")
    assert invoke()[0] == 0


def test_default_path_is_the_current_directory(project: Path) -> None:
    code, out, _ = invoke()
    assert code == 1 and "app.py:10:5: LB102" in out


def test_usage_errors_exit_2(project: Path) -> None:
    assert invoke("--select", "XX9")[0] == 2
    assert invoke("missing_dir")[0] == 2
    assert invoke("--format", "yaml")[0] == 2


def test_select_and_ignore_filter_by_code_and_prefix(project: Path) -> None:
    assert "LB201" not in invoke("--select", "LB1")[1]
    code, out, _ = invoke("--ignore", "LB102,LB2")
    assert code == 0 and out == ""
    assert "LB102" in invoke("--select", "LB2", "--extend-select", "LB102")[1]


def test_statistics_counts_codes(project: Path) -> None:
    out = invoke("--statistics")[1]
    assert "     1  LB102  time.sleep in a coroutine" in out
    assert "     1  LB201  " in out


def test_json_format_carries_the_chain(project: Path) -> None:
    document = json.loads(invoke("--format", "json")[1])
    transitive = next(f for f in document["findings"] if f["code"] == "LB201")
    assert transitive["path"] == "app.py" and transitive["line"] == 11
    assert [hop["line"] for hop in transitive["chain"]] == [11, 6]


def test_sarif_format_is_2_1_0_with_related_locations(project: Path) -> None:
    document = json.loads(invoke("--format", "sarif")[1])
    assert document["version"] == "2.1.0"
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert {r["ruleId"] for r in results} == {"LB102", "LB201"}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
    transitive = next(r for r in results if r["ruleId"] == "LB201")
    related = transitive["relatedLocations"]
    assert [r["physicalLocation"]["region"]["startLine"] for r in related] == [11, 6]
    assert all(r["message"]["text"] for r in related)


def test_github_format_emits_error_annotations(project: Path) -> None:
    out = invoke("--format", "github")[1].splitlines()
    assert out[0].startswith("::error file=app.py,line=10,col=5,title=LB102 blocking-sleep::")
    assert all("\n" not in line for line in out)


def test_noqa_suppresses_and_is_counted(project: Path) -> None:
    (project / "app.py").write_text(BLOCKING.replace("time.sleep(1)", "time.sleep(1)  # noqa: LB102"))
    _, out, err = invoke()
    assert "LB102" not in out and "1 suppressed by noqa" in err


def test_config_excludes_ignores_and_per_file_ignores(project: Path) -> None:
    (project / "vendored").mkdir()
    (project / "vendored" / "x.py").write_text(BLOCKING)
    (project / "scripts").mkdir()
    (project / "scripts" / "y.py").write_text(BLOCKING)
    (project / "pyproject.toml").write_text(textwrap.dedent("""\
        [tool.loopbridge.lint]
        exclude = ["vendored/**"]
        ignore = ["LB201"]
        per-file-ignores = { "scripts/*.py" = ["LB1"] }
    """))
    out = invoke()[1]
    assert out.splitlines() == [line for line in out.splitlines() if line.startswith("app.py")]
    assert "LB102" in out and "LB201" not in out
    assert "vendored" not in invoke("vendored/x.py")[1]
    assert invoke("--isolated", "vendored/x.py")[0] == 1


def test_config_adds_blocking_names_and_safe_names(project: Path) -> None:
    (project / "app.py").write_text(textwrap.dedent("""\
        import geo
        import requests

        def helper(url):
            return requests.get(url)

        async def main(url):
            geo.resolve(url)
            helper(url)
    """))
    (project / "pyproject.toml").write_text(textwrap.dedent("""\
        [tool.loopbridge.lint]
        blocking = { "geo.resolve" = "await geo.resolve_async(...)" }
        safe = ["app.helper"]
    """))
    _, out, _ = invoke()
    assert [line.split()[1] for line in out.splitlines()] == ["LB109"]
    assert "geo.resolve_async" in out


def test_an_unknown_code_names_the_range_of_codes_there_are(project: Path) -> None:
    from loopbridge.lint import RULES

    code, _, err = invoke("--select", "LB999")
    assert code == 2 and "unknown lint code or prefix 'LB999'" in err
    assert f"codes are LB101..{max(RULES)} " in err and max(RULES) >= "LB906"


def test_invalid_config_is_a_usage_error(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.loopbridge.lint]\nselct = ['LB']\n")
    code, _, err = invoke()
    assert code == 2 and "unknown key" in err


@pytest.mark.parametrize(("setting", "expected"), [
    ('blocking = ["geo.resolve"]', 'blocking must be a table of qualified name = "what to use '
                                   'instead", e.g. blocking = { "pkg.fetch" = '),
    ('blocking = { "geo.resolve" = 1 }', "got a table with a value that is not a string"),
    ("select = { LB1 = true }", 'select must be a list of strings, e.g. select = ["LB1"'),
    ('per-file-ignores = ["x.py"]', "per-file-ignores must be a table of glob = list of codes"),
    ('per-file-ignores = { "x.py" = 3 }', 'per-file-ignores."x.py" must be a list of strings'),
    ('max-file-size = "big"', "max-file-size must be a positive integer (bytes)"),
    ("max-file-size = 0", "max-file-size must be a positive integer (bytes)"),
    ('follow-imports = "yes"', "follow-imports must be true or false; got a string"),
])
def test_config_of_the_wrong_shape_is_refused_with_the_expected_shape(
        project: Path, setting: str, expected: str) -> None:
    (project / "pyproject.toml").write_text(f"[tool.loopbridge.lint]\n{setting}\n")
    code, out, err = invoke()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and expected in err, err


def test_huge_file_is_one_finding_and_the_run_goes_on(project: Path) -> None:
    (project / "big.py").write_text("x = 1\n" * 200)
    (project / "pyproject.toml").write_text("[tool.loopbridge.lint]\nmax-file-size = 1000\n")
    out = invoke()[1]
    assert "big.py:1:1: LB903" in out and "app.py:10:5: LB102" in out


def test_baseline_reports_only_new_findings_and_survives_unrelated_edits(project: Path) -> None:
    assert invoke("--write-baseline", "lint-baseline.json")[0] == 0
    assert invoke("--baseline", "lint-baseline.json") == (0, "", invoke("--baseline", "lint-baseline.json")[2])
    shifted = "import os\n\n\ndef unrelated():\n    return os.getpid()\n\n\n" + BLOCKING
    (project / "app.py").write_text(shifted + "\n\nasync def later():\n    time.sleep(2)\n")
    code, out, err = invoke("--baseline", "lint-baseline.json")
    assert code == 1
    assert [line.split()[1] for line in out.splitlines()] == ["LB102"]
    assert "later()" in out and "2 in baseline" in err


def test_baseline_counts_duplicates_in_the_same_function(project: Path) -> None:
    invoke("--write-baseline", "b.json")
    (project / "app.py").write_text(BLOCKING.replace("time.sleep(1)", "time.sleep(1)\n    time.sleep(1)"))
    out = invoke("--baseline", "b.json")[1]
    assert len(out.splitlines()) == 1


def test_bad_baseline_is_a_usage_error(project: Path) -> None:
    (project / "b.json").write_text("{}")
    assert invoke("--baseline", "b.json")[0] == 2


def test_output_file_and_exit_zero(project: Path) -> None:
    code, out, _ = invoke("--exit-zero", "-o", "report.txt")
    assert code == 0 and out == ""
    assert "LB102" in (project / "report.txt").read_text()


def test_list_rules_names_every_code() -> None:
    out = invoke("--list-rules")[1]
    assert "LB101" in out and "LB905" in out


def test_python_dash_m_runs_the_same_command(project: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "loopbridge.lint", "--format", "json", "app.py"],
                          capture_output=True, text=True, timeout=60, cwd=project, check=False,
                          env={**os.environ, "PYTHONWARNINGS": "error"})
    assert done.returncode == 1, done.stderr
    assert {f["code"] for f in json.loads(done.stdout)["findings"]} == {"LB102", "LB201"}


def test_virtualenvs_are_skipped_by_marker_and_a_package_named_venv_is_linted(
        project: Path) -> None:
    env = project / "my-env" / "lib" / "site-packages"
    env.mkdir(parents=True)
    (project / "my-env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (env / "dep.py").write_text(BLOCKING)
    (project / "venv").mkdir()
    (project / "venv" / "__init__.py").write_text(BLOCKING)
    out = invoke()[1]
    assert "venv/__init__.py:10:5: LB102" in out and "dep.py" not in out
