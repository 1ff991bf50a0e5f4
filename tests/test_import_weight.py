"""The tools stay light: `loopbridge --help`, `import loopbridge` and the inert entry points load
no runtime (aiohttp, Flask, asgiref, async_core, bridge); `import bridge` loads the runtime as
before. Each check runs in a fresh interpreter, with ``-X importtime`` listing what it imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("aiohttp", "flask", "asgiref", "async_core", "bridge", "legacy_app", "werkzeug")


def _imported(args: list[str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    names = {line.rpartition("|")[2].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return proc, names


def _heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in HEAVY)


def test_loopbridge_help_loads_no_runtime() -> None:
    proc, names = _imported(["-c", "from loopbridge.cli import main; main(['--help'])"])
    assert "lint" in proc.stdout and "bench" in proc.stdout, proc.stdout + proc.stderr[-1000:]
    assert "loopbridge.cli" in names
    assert _heavy(names) == []


@pytest.mark.parametrize("module", ["loopbridge", "loopbridge.cli", "loopbridge.pytest_plugin",
                                    "loopbridge.lint.flake8_plugin", "loopbridge.bench"])
def test_tool_modules_load_no_runtime(module: str) -> None:
    proc, names = _imported(["-c", f"import {module}"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert module in names
    assert _heavy(names) == []


def test_the_bridge_names_are_reachable_from_loopbridge_lazily() -> None:
    code = ("import sys, loopbridge; assert 'bridge' not in sys.modules; "
            "from loopbridge import run, LoopBridge, to_sync, to_async, http; import bridge; "
            "assert run is bridge.run and LoopBridge is bridge.LoopBridge and http is bridge.http; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_an_unknown_name_on_loopbridge_is_a_clear_attribute_error() -> None:
    import loopbridge

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        loopbridge.nope  # noqa: B018


def test_import_bridge_still_loads_the_runtime() -> None:
    proc, names = _imported(["-c", "import bridge"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {"async_core", "aiohttp", "asgiref", "flask"} <= {n.split(".")[0] for n in names}
