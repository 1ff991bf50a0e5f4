"""The plugin loads in every pytest run of every project that installs loopbridge: it must cost
nothing there. Until a test run opts in, none of the runtime is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.loopbridge_nostrict

HEAVY = ("aiohttp", "flask", "asgiref", "async_core", "bridge")

CONFTEST = """
import json
import sys


def pytest_collection_finish(session):
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    with open("modules.json", "w") as out:
        json.dump({"loaded": loaded, "plugin": "loopbridge.pytest_plugin" in sys.modules}, out)
"""

TESTS = """
import pytest


@pytest.mark.loopbridge_nostrict
def test_one():
    assert 1 + 1 == 2
"""


def collect_only(tmp_path: Path, *args: str) -> dict[str, object]:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_tiny.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, object] = json.loads((tmp_path / "modules.json").read_text())
    return data


def test_the_inert_plugin_imports_none_of_the_runtime(tmp_path: Path) -> None:
    data = collect_only(tmp_path)
    assert data["plugin"] is True, "the plugin was not loaded through its entry point"
    loaded = set(data["loaded"])  # type: ignore[call-overload]
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_its_markers_and_options_do_not_import_the_runtime_either(tmp_path: Path) -> None:
    # collection with the strict flag decides plans only; the runtime comes with the first test
    data = collect_only(tmp_path, "--loopbridge-strict")
    loaded = set(data["loaded"])  # type: ignore[call-overload]
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
