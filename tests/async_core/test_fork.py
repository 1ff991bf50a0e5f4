"""A forked child and its parent's loop: nothing of the parent's is closed, finalised or warned about.

Each case runs a real ``os.fork()`` in a subprocess with every warning an error (``-X dev -W
error``), after the parent made real HTTP calls to the test upstream (so its session holds a
pooled keep-alive connection), with the asyncio loop and with uvloop.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import Upstream

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import bridge.http as http
    url, child_calls = sys.argv[1], sys.argv[2] == "1"
    assert http.get(url, timeout=5).json()["ok"]
    assert http.get(url, timeout=5).json()["ok"]      # a pooled keep-alive connection now
    pid = os.fork()
    if pid == 0:
        if child_calls:
            assert http.get(url, timeout=5).json()["ok"]   # on the child's own loop and session
        sys.exit(0)                                        # a normal exit: finalisers, atexit, libc
    _, status = os.waitpid(pid, 0)
    assert http.get(url, timeout=5).json()["ok"]           # the parent's session still works
    print("child status", status)
    """
)
BAD = ("ResourceWarning", "Unclosed", "Exception ignored", "Traceback", "unclosed")


def _run(upstream: Upstream, uvloop: bool, child_calls: bool) -> subprocess.CompletedProcess[str]:
    env = {"LOOPBRIDGE_UVLOOP": "1" if uvloop else "0", "PYTHONPATH": ".", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", SCRIPT, upstream.url("/delay/1"), "1" if child_calls else "0"],
        capture_output=True, text=True, timeout=60, env=env,
    )


@pytest.mark.parametrize("uvloop", [False, True], ids=["asyncio", "uvloop"])
@pytest.mark.parametrize("child_calls", [False, True], ids=["child-idle", "child-calls"])
def test_forked_child_exits_without_touching_or_warning_about_the_parents_session(
    upstream: Upstream, uvloop: bool, child_calls: bool
) -> None:
    if uvloop and importlib.util.find_spec("uvloop") is None:
        pytest.fail("the uvloop case needs loopbridge[uvloop] (pip install 'loopbridge[uvloop]'; CI installs it)")
    before = set(upstream.peers)
    proc = _run(upstream, uvloop, child_calls)
    assert proc.returncode == 0, proc.stderr
    # status 0: the child exited normally (a signal such as SIGSEGV from libuv's exit would show here)
    assert proc.stdout.strip() == "child status 0", (proc.stdout, proc.stderr)
    for bad in BAD:
        assert bad not in proc.stderr, proc.stderr
    # the parent's three calls used one connection: the child closed nothing of the parent's
    new_peers = set(upstream.peers) - before
    assert len(new_peers) == (2 if child_calls else 1), new_peers
