"""Every stall over the threshold is reported whatever its phase, with its true duration.

The blocks start at phases spread over the watchdog's tick step and its monitor's look period,
so a stall that begins just after the loop last ran and one that begins just before its next
look are both covered. The true duration is what the blocking code measures around itself.
"""

from __future__ import annotations

import asyncio
import time

import pytest

import bridge

from .conftest import THRESHOLD_MS, Watched

pytestmark = pytest.mark.loopbridge_nostrict

PHASES = 10
#: spreads the starts over ~140 ms: many tick steps (5 ms) and more than one monitor period
PHASE_STEP_S = 0.0137


async def block_at_phase(offset_s: float, block_s: float) -> float:
    """Wait ``offset_s`` on the loop, then block it for ``block_s``; return how long the loop
    truly ran nothing else: from the block's start to the first callback after it (on a busy
    machine the loop thread may wait for a CPU after the block, and that is stall too)."""
    await asyncio.sleep(offset_s)
    loop = asyncio.get_running_loop()
    resumed: asyncio.Future[float] = loop.create_future()
    started = time.perf_counter()
    time.sleep(block_s)  # BLOCK: deliberately, for a measured time  # noqa
    loop.call_soon(lambda: resumed.set_result(time.perf_counter()))
    return await resumed - started


def tolerance_ms(true_ms: float) -> float:
    return max(0.05 * true_ms, 10.0)


@pytest.mark.parametrize("factor", [1.1, 1.2, 2.0])
def test_every_stall_over_the_threshold_is_reported_with_its_duration(watched: Watched, factor: float) -> None:
    block_s = factor * THRESHOLD_MS / 1000.0
    misses: list[str] = []
    unblamed: list[str] = []
    for phase in range(PHASES):
        before = len(watched.settle())
        true_ms = bridge.run(block_at_phase(phase * PHASE_STEP_S, block_s), timeout=10) * 1000.0
        new = watched.settle()[before:]
        if len(new) != 1:
            misses.append(f"phase {phase}: {len(new)} reports for a {true_ms:.1f} ms block")
            continue
        report = new[0]
        if abs(report.duration_ms - true_ms) > tolerance_ms(true_ms):
            misses.append(f"phase {phase}: reported {report.duration_ms:.1f} ms for a {true_ms:.1f} ms block")
        if report.blamed is None or report.blamed.function != "block_at_phase":
            unblamed.append(f"phase {phase}: blamed {report.blamed!r}")
    assert not misses, "\n".join(misses)
    # the blame needs the monitor thread to get a CPU during the stall: on an overloaded
    # machine it may miss one short stall, never most of them
    assert len(unblamed) <= 1, "\n".join(unblamed)


def test_a_stall_under_the_threshold_is_never_reported(watched: Watched) -> None:
    block_s = 0.7 * THRESHOLD_MS / 1000.0
    wrong: list[str] = []
    under = 0
    for phase in range(PHASES):
        before = len(watched.settle())
        true_ms = bridge.run(block_at_phase(phase * PHASE_STEP_S, block_s), timeout=10) * 1000.0
        new = watched.settle()[before:]
        # on an overloaded machine the loop may wait past the threshold for a CPU after the
        # block: then it did stall that long, and a report is right
        if true_ms <= THRESHOLD_MS:
            under += 1
            if new:
                wrong.append(f"phase {phase}: {[r.duration_ms for r in new]} ms reported for a {true_ms:.1f} ms stall")
    assert not wrong, "\n".join(wrong)
    assert under >= PHASES - 2, "the machine is too busy for this test to mean anything"
