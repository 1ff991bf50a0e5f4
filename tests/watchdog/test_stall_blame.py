"""The pure half of the watchdog (``async_core._stall``): blame across samples, waiting loops."""

from __future__ import annotations

import asyncio.base_events
import selectors
import threading

import pytest

from async_core._stall import StallSampler, is_waiting

pytestmark = pytest.mark.loopbridge_nostrict

USER = (__file__, 10, "check_site")
LOOP = (asyncio.base_events.__file__, 1922, "BaseEventLoop._run_once")
SELECT = (selectors.__file__, 468, "EpollSelector.select")
THREAD = (threading.__file__, 975, "Thread.run")
APP_MAIN = ("/srv/app/server.py", 40, "serve")  # user code that calls loop.run_forever()


def test_a_loop_in_its_selector_is_waiting_even_under_user_frames() -> None:
    assert is_waiting([SELECT, LOOP, APP_MAIN])
    # uvloop waits in C under loop internals only, where a C callback blocking looks the same
    assert not is_waiting([LOOP, THREAD])
    assert not is_waiting([USER, LOOP, APP_MAIN])
    assert not is_waiting([])


def test_samples_of_a_waiting_loop_lose_to_any_sample_of_code_running() -> None:
    sampler = StallSampler(start=0.0, threshold_ms=100, thread_name="loop")
    sampler.add([USER, LOOP, APP_MAIN], "Task-1", "check_site")
    sampler.add([SELECT, LOOP, APP_MAIN], None, None)  # the stall ended as it was sampled
    sampler.add([SELECT, LOOP, APP_MAIN], None, None)
    report = sampler.report(150.0, ongoing=False)
    assert not sampler.all_waiting
    assert report.blamed is not None and report.blamed.function == "check_site"
    assert (report.samples, report.blamed_samples) == (1, 1)
    assert report.task == "Task-1"


def test_a_stall_whose_every_sample_shows_the_loop_waiting_is_flagged() -> None:
    sampler = StallSampler(start=0.0, threshold_ms=100, thread_name="loop")
    assert not sampler.all_waiting  # no sample: nothing is known, the stall stands
    sampler.add([SELECT, LOOP, APP_MAIN], None, None)
    assert sampler.all_waiting
    sampler.add([LOOP, THREAD], None, None)
    assert not sampler.all_waiting


def test_a_stack_of_loop_internals_only_still_makes_a_report() -> None:
    sampler = StallSampler(start=0.0, threshold_ms=100, thread_name="loop")
    sampler.add([LOOP, THREAD], None, None)  # uvloop running a C callback that blocks
    report = sampler.report(700.0, ongoing=False)
    assert report.blamed is not None and report.blamed.kind == "internal"
    assert report.samples == report.blamed_samples == 1
