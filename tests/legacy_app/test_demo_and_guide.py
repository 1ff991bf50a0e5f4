"""The demo command end to end, and the migration guide kept in step with the code."""

from __future__ import annotations

import difflib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from legacy_app import checkers

# The monitor's tests run in loopbridge strict mode: a stalled loop fails the test.
pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=250)

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"


def test_guide_shows_the_real_diff_between_the_two_checkers() -> None:
    before = inspect.getsource(checkers.check_sites_legacy).splitlines(keepends=True)
    after = inspect.getsource(checkers.check_sites_bridge).splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(before, after, "legacy_app/checkers.py (before)",
                                        "legacy_app/checkers.py (after)"))
    assert diff.strip() in GUIDE.read_text(encoding="utf-8"), (
        "docs/migrating.md no longer shows the diff between the checkers; paste this:\n" + diff)
    changed = [line for line in diff.splitlines()[2:] if line[:1] in "+-"]
    # 18: the legacy loop sits inside ``with session:``, so its unchanged lines count as changed
    assert len(changed) <= 18, "the migration of the check loop should stay a few lines"


def test_guide_shows_the_session_mount_as_the_code_has_it() -> None:
    from legacy_app import ssrf

    source = inspect.getsource(ssrf.monitor_session)
    text = GUIDE.read_text(encoding="utf-8")
    for line in ('adapter = http.LoopBridgeAdapter(block_private=guard.block_private, allow=allow)',
                 'session.mount("http://", adapter)', 'session.mount("https://", adapter)'):
        assert line in source and line in text, line


def test_guide_covers_the_four_steps() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for heading in ("## Step 1: add `LoopBridge(app)`", "## Step 2: move one hot loop to `bridge.http.map`",
                    "## Step 3: write new routes as `async def`", "## Step 4: `loopbridge lint` in CI"):
        assert heading in text


def test_demo_check_once_runs_both_checkers_and_exits_cleanly(tmp_path: Path) -> None:
    cmd = [sys.executable, "-W", "error", "-m", "legacy_app.demo", "--port", "0", "--sites", "40",
           "--latency-ms", "5", "--db", str(tmp_path / "demo.sqlite3"), "--check-once"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False,
                            env=dict(os.environ, PYTHONDEVMODE="0"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Uptime monitor: http://127.0.0.1:" in out and "Simulator: http://127.0.0.1:" in out
    assert "check-all with the legacy checker ... 40 sites in" in out
    assert "check-all with the bridge checker ... 40 sites in" in out
    assert "faster" in out and out.rstrip().endswith("stopped")
    for bad in ("Traceback", "Unclosed", "Task was destroyed", "Warning"):
        assert bad not in result.stderr, result.stderr


def test_demo_serves_at_once_and_shows_the_first_checks_progress(tmp_path: Path) -> None:
    """The page answers while the first check-all still runs, and the run's progress is visible.

    The first run is the legacy checker's (one site after the other, each result stored as it
    comes): 40 sites at 200 ms keep it running for 8 s, long enough to be seen half done however
    slowly the test starts polling. The bridged run that follows stores its results together
    when the batch ends, so it has no half-done state to see.
    """
    import selectors
    import signal
    import time

    import requests

    cmd = [sys.executable, "-m", "legacy_app.demo", "--port", "0", "--sites", "40", "--latency-ms", "200",
           "--db", str(tmp_path / "demo.sqlite3")]
    errors = open(tmp_path / "demo.stderr", "w+", encoding="utf-8")  # noqa: SIM115 - closed below
    # stderr to a file: a full pipe would block the demo's threads on their first log line
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stdout is not None
    try:
        url, head = "", []
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and sel.select(deadline - time.monotonic()):
                line = proc.stdout.readline()
                head.append(line)
                if line.startswith("Uptime monitor: "):
                    url = line.split()[2].rstrip("/")
                if not line or line.startswith("Open "):
                    break
        assert url, "the demo never printed its URL"
        assert requests.get(url + "/", timeout=10).status_code == 200
        seen: list[tuple[int, int]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            runs = requests.get(url + "/api/runs", params={"limit": 1}, timeout=10).json()["runs"]
            if runs and runs[0]["checker"] == "legacy" and runs[0]["status"] == "running":
                seen.append((runs[0]["recorded"], runs[0]["planned"]))
                if "Check in progress" in requests.get(url + "/", timeout=10).text and seen[-1][0] > 0:
                    break
            time.sleep(0.05)
        assert seen and 0 < seen[-1][0] < seen[-1][1] == 40, seen
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate(timeout=10)
        errors.seek(0)
        err = errors.read()
        errors.close()
    assert proc.returncode == 0, err
    assert "the first checks run in the background" in "".join(head) and out.rstrip().endswith("stopped")
    for bad in ("Traceback", "Unclosed", "Task was destroyed"):
        assert bad not in err, err
