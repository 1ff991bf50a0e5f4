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


# a CPU-bound stall in library code (a large multipart parse): the samples land on many inner
# lines, one of them under a finalizer the garbage collector ran there
LIB = "/venv/lib/python3.11/site-packages/werkzeug/sansio/multipart.py"
PARSE = (LIB, 120, "MultipartDecoder.next_event")
INNER = [(LIB, 200 + n, "MultipartDecoder._parse_part") for n in range(4)]
COLLECTOR = ("/venv/lib/python3.11/site-packages/werkzeug/datastructures/file_storage.py", 90, "FileStorage.__del__")
FROZEN = ("<frozen importlib._bootstrap>", 1000, "_find_and_load")
FORM = ("/venv/lib/python3.11/site-packages/werkzeug/formparser.py", 300, "MultiPartParser.parse")


def test_a_cpu_bound_stall_blames_the_frame_most_samples_contain_not_a_finalizer() -> None:
    sampler = StallSampler(start=0.0, threshold_ms=100, thread_name="loop")
    sampler.add([COLLECTOR, INNER[0], PARSE, FORM, LOOP], None, None)  # a collection ran here
    for inner in INNER[1:]:
        sampler.add([inner, PARSE, FORM, LOOP], None, None)
    sampler.add([FROZEN, (LIB, 400, "MultipartDecoder.close"), FORM, LOOP], None, None)
    report = sampler.report(900.0, ongoing=False)
    assert report.blamed is not None
    # FORM is in every sample, PARSE in 4 of 5: both named, the inner lines (1 each) not at all
    assert (report.blamed.lineno, report.blamed_samples, report.samples) == (300, 5, 5)
    assert report.runner_up is not None
    assert (report.runner_up.lineno, report.runner_up.function) == (120, "MultipartDecoder.next_event")
    assert report.runner_up_samples == 4
    assert f"close behind, {LIB}:120 in MultipartDecoder.next_event in 4 of 5" in report.format()
    assert "__del__" not in report.format() and "<frozen" not in report.format()


def test_the_caller_in_user_code_takes_the_blame_when_most_samples_contain_it() -> None:
    user_caller = (__file__, 50, "handle_upload")
    sampler = StallSampler(start=0.0, threshold_ms=100, thread_name="loop")
    sampler.add([COLLECTOR, (__file__, 70, "helper"), user_caller, LOOP], None, None)
    for inner in INNER:
        sampler.add([inner, PARSE, user_caller, LOOP], None, None)
    report = sampler.report(900.0, ongoing=False)
    assert report.blamed is not None and report.blamed.function == "handle_upload"
    assert (report.blamed_samples, report.samples) == (5, 5)
    assert report.runner_up is None  # the one user line seen once is not close


def test_a_stall_that_stays_on_one_line_names_no_runner_up() -> None:
    sampler = StallSampler(start=0.0, threshold_ms=100, thread_name="loop")
    for _ in range(4):
        sampler.add([USER, LOOP, APP_MAIN], "Task-1", "check_site")
    report = sampler.report(400.0, ongoing=False)
    assert report.blamed is not None and report.blamed.function == "check_site"  # deepest of equals
    assert report.runner_up is None and "close behind" not in report.format()
