"""The watchdog overhead benchmark runs and reports the figures the bench report reads."""

from __future__ import annotations

import math

import pytest

from async_core import default_loop
from loopbridge.bench.watchdog import run_watchdog_bench

pytestmark = pytest.mark.loopbridge_nostrict


def test_watchdog_bench_reports_on_off_ratios_and_restores_the_loop() -> None:
    config = default_loop().config
    result = run_watchdog_bench(repeat=2, calls=50, batches=1, coroutines=20, sleep_s=0.005, fanout_runs=1)
    for figure in ("roundtrip", "fanout"):
        assert math.isfinite(result[figure]["ratio"]) and result[figure]["ratio"] > 0
    assert len(result["roundtrip"]["off_all"]) == len(result["roundtrip"]["on_all"]) == 2
    assert result["roundtrip"]["on_min_us"] <= result["roundtrip"]["on_us"]
    assert set(result["ratios"]) == {"round trip, on ÷ off", "fan-out, on ÷ off"}
    assert default_loop().config == config


def test_watchdog_bench_refuses_empty_runs() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        run_watchdog_bench(repeat=0)
