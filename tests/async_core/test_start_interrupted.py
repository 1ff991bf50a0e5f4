"""A Ctrl-C that lands while the loop thread starts leaves one known loop, never an orphan."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_interrupt_during_start_leaves_one_registered_loop() -> None:
    code = textwrap.dedent("""
        import threading, _thread
        import async_core._loop as L
        from async_core import LoopState, default_loop
        lt = default_loop()
        real_main = L.LoopThread._main
        def slow_main(self, box, ready):
            # the starter is interrupted while it waits for the new thread to be ready
            _thread.interrupt_main()
            threading.Event().wait(0.2)
            real_main(self, box, ready)
        L.LoopThread._main = slow_main
        try:
            lt.start()
        except KeyboardInterrupt:
            print("interrupted")
        L.LoopThread._main = real_main
        assert lt.state is LoopState.RUNNING, lt.state
        lt.start()  # no second loop thread
        assert sum(t.name == "loopbridge-loop" for t in threading.enumerate()) == 1
        lt.stop(grace=1)
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.stdout.split() == ["interrupted", "ok"], done.stdout + done.stderr
