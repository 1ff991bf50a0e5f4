"""Whole-program checks: the standard library, flake8, pre-commit, and the project itself."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

import loopbridge.lint
from loopbridge.lint import LintConfig, lint_paths

REPO = Path(__file__).resolve().parents[2]


def test_the_whole_standard_library_lints_without_crashing_in_bounded_time() -> None:
    stdlib = sysconfig.get_paths()["stdlib"]
    config = LintConfig(root=stdlib, exclude=("site-packages", "dist-packages"))
    started = time.perf_counter()
    result = lint_paths([stdlib], config)
    elapsed = time.perf_counter() - started
    assert result.files > 1000 and result.lines > 500_000
    assert elapsed < 120, f"stdlib lint took {elapsed:.1f}s"
    crashes = [f for f in result.findings if f.code == "LB906"]
    assert crashes == []


def test_flake8_runs_the_plugin_and_applies_noqa(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("import time\n\n\nasync def f():\n    time.sleep(1)\n"
                      "    time.sleep(2)  # noqa: LB102\n")
    done = subprocess.run([sys.executable, "-m", "flake8", "--select", "LB", str(source)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{source}:5:5: LB102 ")


def test_flake8_plugin_stays_idle_when_other_codes_are_selected() -> None:
    from types import SimpleNamespace

    from loopbridge.lint.flake8_plugin import LoopbridgeFlake8

    try:
        LoopbridgeFlake8.parse_options(SimpleNamespace(select=["ASYNC"], extend_select=None))
        assert LoopbridgeFlake8.active is False
        LoopbridgeFlake8.parse_options(SimpleNamespace(select=None, extend_select=None))
        assert LoopbridgeFlake8.active is True
    finally:
        LoopbridgeFlake8.active = True


def test_pre_commit_hook_is_declared() -> None:
    text = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert "id: loopbridge-lint" in text and "types: [python]" in text


def test_public_names_are_exported() -> None:
    assert sorted(loopbridge.lint.__all__) == [
        "ChainLink", "ConfigError", "Finding", "LintConfig", "LintResult", "RULES", "Rule",
        "lint_paths", "lint_source", "load_config",
    ]


def test_catalogue_entries_have_codes_reasons_and_remedies() -> None:
    from loopbridge.lint._catalogue import default_catalogue

    catalogue = default_catalogue()
    assert len(catalogue.blocking) > 300
    for entry in catalogue.blocking.values():
        assert entry.code in loopbridge.lint.RULES and entry.why and entry.instead


@pytest.mark.selflint
def test_project_lints_itself_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "loopbridge.lint", "async_core", "bridge",
                           "legacy_app"], capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONWARNINGS": "error"}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
