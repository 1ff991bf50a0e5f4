"""Hostile input for ``loopbridge lint``: it never hangs and never crashes with a traceback.

Every case runs the real command in a subprocess with a hard timeout (a FIFO opened for
reading blocks until a writer comes, so a regression would hang, not fail). A user error is
one line on standard error and exit 2; exit 1 is kept for "findings", which CI acts on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BLOCKING = "import time\n\n\nasync def main():\n    time.sleep(1)\n"
BAD_NAME = os.fsdecode(b"bad\xff.py")


def lint(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "loopbridge.lint", "--isolated", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=30,
                          errors="surrogateescape")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("loopbridge lint: error: "), proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(BLOCKING)
    return tmp_path


def _baseline(path: Path, findings: object) -> str:
    path.write_text(json.dumps({"tool": "loopbridge-lint", "version": 1, "findings": findings}))
    return path.name


# -- N: only regular files are linted ------------------------------------------------------

def test_fifo_named_py_in_a_directory_is_skipped_not_opened(tree: Path) -> None:
    os.mkfifo(tree / "pipe.py")
    proc = lint(tree, ".")
    assert proc.returncode == 1
    assert "pipe.py" not in proc.stdout and "app.py:5:5: LB102" in proc.stdout
    assert "in 1 file(s)" in proc.stderr


def test_fifo_named_on_the_command_line_is_lb904_without_hanging(tree: Path) -> None:
    os.mkfifo(tree / "pipe.py")
    proc = lint(tree, "pipe.py")
    assert proc.returncode == 1
    assert proc.stdout.startswith("pipe.py:1:1: LB904") and "not a regular file" in proc.stdout


def test_device_symlinked_as_py_is_not_read(tree: Path) -> None:
    (tree / "zero.py").symlink_to("/dev/zero")
    proc = lint(tree, ".")
    assert proc.returncode == 1 and "zero.py" not in proc.stdout
    proc = lint(tree, "zero.py")
    assert "zero.py:1:1: LB904" in proc.stdout


def test_fifo_as_baseline_or_config_is_an_error_not_a_hang(tree: Path) -> None:
    os.mkfifo(tree / "fifo.json")
    assert_one_line_error(lint(tree, ".", "--baseline", "fifo.json"), "not a regular file")
    os.mkfifo(tree / "pyproject.toml")
    proc = subprocess.run([sys.executable, "-m", "loopbridge.lint", "--config", "pyproject.toml",
                           "."], cwd=tree, capture_output=True, text=True, timeout=30)
    assert "Traceback" not in proc.stderr
    assert_one_line_error(proc, "not a regular file")


# -- O: bad input is one line and exit 2 ---------------------------------------------------

@pytest.mark.parametrize("findings", [3, "x", {"a": 1}, [[1, 2]], [{"fingerprint": [1]}],
                                      [{"fingerprint": 5}], [None], [{"path": "app.py"}]])
def test_baseline_with_a_wrong_shape_is_exit_2(tree: Path, findings: object) -> None:
    name = _baseline(tree / "b.json", findings)
    assert_one_line_error(lint(tree, ".", "--baseline", name), "b.json")


@pytest.mark.parametrize("content", [b"[]", b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000,
                                     b'{"tool": "loopbridge-lint", "version": [1]}', b""])
def test_baseline_that_is_not_a_baseline_is_exit_2(tree: Path, content: bytes) -> None:
    (tree / "b.json").write_bytes(content)
    assert_one_line_error(lint(tree, ".", "--baseline", "b.json"), "b.json")


def test_output_file_in_a_missing_directory_is_exit_2(tree: Path) -> None:
    assert_one_line_error(lint(tree, ".", "-o", "nodir/x.txt"), "nodir/x.txt")


def test_write_baseline_in_a_missing_directory_is_exit_2(tree: Path) -> None:
    assert_one_line_error(lint(tree, ".", "--write-baseline", "nodir/b.json"), "nodir/b.json")


@pytest.mark.parametrize("content", [b"tool = 3\n", b"[tool]\nloopbridge = 'x'\n",
                                     b"\xff\xfe[tool]\n", b"[tool.loopbridge.lint]\nselect = 3\n",
                                     b"x = " + b"[" * 50_000 + b"]" * 50_000 + b"\n"])
def test_bad_pyproject_is_exit_2(tree: Path, content: bytes) -> None:
    (tree / "pyproject.toml").write_bytes(content)
    proc = subprocess.run([sys.executable, "-m", "loopbridge.lint", "."], cwd=tree,
                          capture_output=True, text=True, timeout=30)
    assert "Traceback" not in proc.stderr
    assert_one_line_error(proc, "pyproject.toml")


def test_undecodable_file_name_round_trips_through_baseline_and_reports(tree: Path) -> None:
    (tree / BAD_NAME).write_text(BLOCKING)
    written = lint(tree, ".", "--write-baseline", "b.json")
    assert written.returncode == 0, written.stderr
    entries = json.loads((tree / "b.json").read_text(encoding="utf-8"))["findings"]
    assert sorted(entry["path"] for entry in entries) == ["app.py", BAD_NAME]
    proc = lint(tree, ".", "--baseline", "b.json")
    assert proc.returncode == 0 and "2 in baseline" in proc.stderr
    for fmt in ("json", "sarif"):
        proc = lint(tree, ".", "--format", fmt, "-o", f"out.{fmt}")
        assert proc.returncode == 1, proc.stderr
        document = json.loads((tree / f"out.{fmt}").read_text(encoding="utf-8"))
        assert BAD_NAME in json.dumps(document, ensure_ascii=False)
    proc = lint(tree, ".", "-o", "out.txt")
    assert proc.returncode == 1
    assert os.fsencode(BAD_NAME) + b":5:5: LB102" in (tree / "out.txt").read_bytes()
