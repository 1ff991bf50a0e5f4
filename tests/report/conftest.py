"""Shared helpers for the report tests: the corpus app and a run of the command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from loopbridge.report._cli import report_command

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
SHOP = "tests/report/corpus/shop"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Paths in reports are shown relative to the working directory: run from the repo root."""
    monkeypatch.chdir(REPO)
    yield


def run_report(*args: str) -> Result:
    """Run ``loopbridge report`` in-process (the CLI, its exit code and its output)."""
    return CliRunner().invoke(report_command, list(args), catch_exceptions=False)


def report_json(*args: str) -> dict[str, Any]:
    result = run_report(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data
