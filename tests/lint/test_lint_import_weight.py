"""The lint is pure static analysis: loading it never loads the runtime or the web stack."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Top-level packages the lint must never load (the runtime, its stack, the app, and libcst,
#: which only --fix, --diff and the fixes of the json and sarif formats use).
HEAVY = ("aiohttp", "flask", "asgiref", "async_core", "bridge", "legacy_app", "libcst")


def _heavy_in(loaded: list[str]) -> list[str]:
    return sorted({name for name in loaded if name.split(".")[0] in HEAVY})


def test_import_loopbridge_lint_loads_no_runtime() -> None:
    code = ("import sys, loopbridge.lint, loopbridge.lint.flake8_plugin; "
            "print('\\n'.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert "loopbridge.lint._engine" in out
    assert _heavy_in(out) == []


@pytest.mark.parametrize("args", [["--help"], ["--list-rules"]])
def test_python_m_loopbridge_lint_loads_no_runtime(args: list[str]) -> None:
    # -X importtime lists every module the real command imports, on stderr.
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "loopbridge.lint", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "LB101" in proc.stdout or "Usage" in proc.stdout
    imported = [line.rpartition("|")[2].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:") and "|" in line]
    assert "loopbridge.lint._cli" in imported
    assert _heavy_in(imported) == []
