"""What the stall watchdog costs the loop: the same work with the watchdog off and on.

Two figures, each measured on the process's default loop with the modes taking turns batch
by batch (off, on, on, off, …, so a slow moment of the machine hits both) and compared as
medians (minimums are reported too):

- ``roundtrip``: microseconds per ``bridge.run(trivial())`` call from one caller thread;
- ``fanout``: wall time of one ``bridge.run`` of a coroutine awaiting
  ``asyncio.gather(*400 × asyncio.sleep(0.025))``.

"Off" means no watchdog at all (detached, no monitor thread); "on" is a watchdog at
``threshold_ms`` (default: the shipped default, 500 ms). A ratio of 1.00 means no cost; the
project's target is at most 1.03 on the round trip.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from typing import Any

from async_core import LoopThread, default_loop
from async_core._watchdog import attach_watchdog, detach_watchdog

from bridge import run

__all__ = ["run_watchdog_bench"]

logger = logging.getLogger(__name__)

_MODES = ("off", "on")


async def _trivial() -> int:
    return 1


def _roundtrip_us(calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        run(_trivial())
    return (time.perf_counter() - started) / calls * 1e6


async def _gather_sleeps(coroutines: int, sleep_s: float) -> None:
    # gather() is called here, on the loop: called in the sync caller it would bind its
    # future to a loop of the caller's thread
    await asyncio.gather(*(asyncio.sleep(sleep_s) for _ in range(coroutines)))


def _fanout_ms(coroutines: int, sleep_s: float) -> float:
    started = time.perf_counter()
    run(_gather_sleeps(coroutines, sleep_s))
    return (time.perf_counter() - started) * 1e3


def _set_mode(lt: LoopThread, mode: str, threshold_ms: float) -> None:
    if mode == "off":
        detach_watchdog(lt)
    else:
        attach_watchdog(lt, threshold_ms=threshold_ms)


def _figure(samples: dict[str, list[float]], unit: str) -> dict[str, Any]:
    off, on = statistics.median(samples["off"]), statistics.median(samples["on"])
    return {
        f"off_{unit}": round(off, 3),
        f"on_{unit}": round(on, 3),
        f"off_min_{unit}": round(min(samples["off"]), 3),
        f"on_min_{unit}": round(min(samples["on"]), 3),
        "ratio": round(on / off, 4) if off else float("nan"),
        # the fastest batch of each mode: what is left when other processes did not interfere
        "ratio_of_minimums": round(min(samples["on"]) / min(samples["off"]), 4) if min(samples["off"]) else float("nan"),
        "off_all": [round(v, 3) for v in samples["off"]],
        "on_all": [round(v, 3) for v in samples["on"]],
    }


def run_watchdog_bench(
    repeat: int = 5,
    *,
    calls: int = 3000,
    batches: int = 4,
    coroutines: int = 400,
    sleep_s: float = 0.025,
    fanout_runs: int = 4,
    threshold_ms: float = 500.0,
) -> dict[str, Any]:
    """Measure the watchdog's overhead; returns figures and on/off ratios (medians).

    Each mode gets ``repeat × batches`` batches of ``calls`` round trips and
    ``repeat × fanout_runs`` fan-outs, the modes taking turns batch by batch (off on on off …).
    The default loop is stopped and restarted with its own configuration at the end.

    Example::

        >>> figures = run_watchdog_bench(repeat=3)          # doctest: +SKIP
        >>> figures["roundtrip"]["ratio"]                   # doctest: +SKIP
        1.004
    """
    if repeat < 1 or calls < 1 or batches < 1 or fanout_runs < 1 or coroutines < 1:
        raise ValueError("repeat, calls, batches, fanout_runs and coroutines must all be >= 1.")
    lt = default_loop()
    config = lt.config
    lt.stop()
    lt.configure(config.replace(watchdog_ms=0, strict=False))  # we attach/detach by hand
    lt.start()
    round_trip: dict[str, list[float]] = {mode: [] for mode in _MODES}
    fan_out: dict[str, list[float]] = {mode: [] for mode in _MODES}
    try:
        _roundtrip_us(min(calls, 500))  # warm up: first calls pay for imports and caches
        # ABBA order, switching mode every batch: the machine's slow moments (other processes)
        # last seconds, so both modes must take turns within them
        for index in range(repeat * max(batches, fanout_runs)):
            for mode in _MODES if index % 2 == 0 else tuple(reversed(_MODES)):
                _set_mode(lt, mode, threshold_ms)
                if index < repeat * batches:
                    round_trip[mode].append(_roundtrip_us(calls))
                if index < repeat * fanout_runs:
                    fan_out[mode].append(_fanout_ms(coroutines, sleep_s))
    finally:
        lt.stop()
        lt.configure(config)
    roundtrip, fanout = _figure(round_trip, "us"), _figure(fan_out, "ms")
    logger.info("watchdog bench: round trip x%.3f, fan-out x%.3f", roundtrip["ratio"], fanout["ratio"])
    return {
        "threshold_ms": threshold_ms,
        "repeat": repeat,
        "roundtrip": {"calls": calls, "batches": batches, **roundtrip},
        "fanout": {"coroutines": coroutines, "sleep_s": sleep_s, "runs": fanout_runs, **fanout},
        "ratios": {"round trip, on ÷ off": roundtrip["ratio"], "fan-out, on ÷ off": fanout["ratio"]},
    }
