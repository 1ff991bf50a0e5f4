"""A downstream project using the public API type-checks under ``mypy --strict`` and ``pyright``.

``downstream/app.py`` is written as a user would write it; its ``assert_type`` lines are the
inferred types a user's checker must see (``run(coroutine returning int)`` is ``int``). Errors
inside loopbridge's own modules are not the user's: as for an installed package, only the
downstream file is judged. A copy with one wrong ``assert_type`` must fail, so a checker that
silently accepts everything cannot pass these tests.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
APP = HERE / "downstream" / "app.py"
# requests ships its own types from 2.32 on; at an older floor a user's mypy finds none (their
# choice: types-requests), which is not what this test judges: our API's types
MYPY_INI = """\
[mypy]
strict = True

[mypy-async_core.*,bridge.*,loopbridge.*]
ignore_errors = True

[mypy-requests.*]
ignore_missing_imports = True
"""
WRONG = 'assert_type(run(count_sites("abc")), int)'


def _mypy(target: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    ini = tmp_path / "mypy.ini"
    ini.write_text(MYPY_INI)
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ini), "--cache-dir", str(tmp_path / "cache"), str(target)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def _pyright(target: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("pyright", path=str(Path(sys.executable).parent)) or shutil.which("pyright")
    assert exe, "pyright is not installed: pip install -e '.[test]' installs it (it needs node on PATH)"
    return subprocess.run([exe, "--pythonpath", sys.executable, str(target)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)


def _wrong_copy(tmp_path: Path) -> Path:
    source = APP.read_text()
    assert WRONG in source
    wrong = tmp_path / "wrong_app.py"
    wrong.write_text(source.replace(WRONG, WRONG.replace(", int)", ", str)")))
    return wrong


def test_downstream_app_passes_mypy_strict(tmp_path: Path) -> None:
    proc = _mypy(APP, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_sees_a_wrong_inferred_type(tmp_path: Path) -> None:
    proc = _mypy(_wrong_copy(tmp_path), tmp_path)
    assert proc.returncode != 0 and "assert-type" in proc.stdout, proc.stdout


@pytest.mark.timeout(300)
def test_downstream_app_passes_pyright() -> None:
    proc = _pyright(APP)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 errors" in proc.stdout


@pytest.mark.timeout(300)
def test_pyright_sees_a_wrong_inferred_type(tmp_path: Path) -> None:
    proc = _pyright(_wrong_copy(tmp_path))
    assert proc.returncode != 0 and "assert_type" in proc.stdout, proc.stdout
