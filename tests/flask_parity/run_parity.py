"""Run Flask's own test suite twice — as is, and with LoopBridge on every app — and compare.

Usage: ``python tests/flask_parity/run_parity.py FLASK_SOURCE_DIR`` with the interpreter of a
virtualenv that has this project, and a pytest Flask's suite supports, installed. Exit 0 when
the extension breaks no test that passes without it and Flask's coroutines really ran on the
shared loop; 1 otherwise. ``.ci/run`` fetches the source of the installed Flask version.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run_suite(source: Path, report: Path, with_extension: bool) -> tuple[set[str], set[str], int]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:loopbridge",
           f"--junitxml={report}"]
    if with_extension:
        cmd += ["-p", "loopbridge_everywhere"]
    proc = subprocess.run([*cmd, "tests"], cwd=source, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(HERE)})
    if not report.exists():
        raise SystemExit(f"Flask's suite did not run:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    passed, failed = set(), set()
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(name)
        elif case.find("skipped") is None:
            passed.add(name)
    match = re.search(r"loopbridge-bridged-coroutines: (\d+)", proc.stdout)
    return passed, failed, int(match.group(1)) if match else 0


def main(argv: list[str]) -> int:
    """Compare the two runs; print what differs."""
    if len(argv) != 2 or not (Path(argv[1]) / "tests").is_dir():
        print("usage: run_parity.py FLASK_SOURCE_DIR (the unpacked Flask sdist, with its tests/)")
        return 2
    source = Path(argv[1]).resolve()
    base_pass, base_fail, _ = _run_suite(source, source / "plain.xml", with_extension=False)
    ext_pass, ext_fail, bridged = _run_suite(source, source / "loopbridge.xml", with_extension=True)
    broken = sorted(base_pass - ext_pass)
    print(f"Flask's suite as is: {len(base_pass)} passed, {len(base_fail)} failed")
    print(f"with LoopBridge on every app: {len(ext_pass)} passed, {len(ext_fail)} failed, "
          f"{bridged} coroutines run on the shared loop")
    for name in sorted(base_fail):
        print(f"  fails without the extension too (not ours): {name}")
    for name in broken:
        print(f"  BROKEN by the extension: {name}")
    if broken or not base_pass or bridged == 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
