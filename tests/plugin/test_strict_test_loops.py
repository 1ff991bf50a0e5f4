"""Strict mode watches the loops pytest-asyncio and anyio run tests on, and lost coroutines.

Each case is a real inner pytest run (``pytester``) with the real plugin: pytest-asyncio in
auto and strict modes, anyio's pytest plugin on its asyncio backend.
"""

from __future__ import annotations

import pytest

from .test_pytest_plugin import INI, run_inner

pytestmark = pytest.mark.loopbridge_nostrict

ASYNCIO_AUTO = """
import asyncio
import time


async def test_blocking():
    await asyncio.sleep(0)
    time.sleep(0.3)  # THE BLOCKING LINE


async def test_clean():
    await asyncio.sleep(0.05)
"""

ASYNCIO_STRICT = """
import asyncio
import time

import pytest


@pytest.mark.asyncio
async def test_blocking():
    await asyncio.sleep(0)
    time.sleep(0.3)  # THE BLOCKING LINE


@pytest.mark.asyncio
async def test_clean():
    await asyncio.sleep(0.05)
"""

ASYNCIO_FIXTURE = """
import asyncio
import time

import pytest_asyncio


@pytest_asyncio.fixture
async def slow_resource():
    await asyncio.sleep(0)
    time.sleep(0.3)  # THE BLOCKING SETUP LINE
    yield "resource"
    await asyncio.sleep(0)
    time.sleep(0.3)  # THE BLOCKING TEARDOWN LINE


async def test_uses_it(slow_resource):
    assert slow_resource == "resource"
"""

ANYIO_TESTS = """
import time

import anyio
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_blocking():
    await anyio.sleep(0)
    time.sleep(0.3)  # THE BLOCKING LINE


@pytest.mark.anyio
async def test_clean():
    await anyio.sleep(0.05)
"""


def line_of(source: str, marker: str) -> int:
    return next(number for number, text in enumerate(source.lstrip("\n").splitlines(), 1) if marker in text)


def assert_blocking_test_failed_at(result: pytest.RunResult, source: str) -> None:
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*the event loop stalled during this test's call (loopbridge strict mode)*",
        f"*test_inner.py:{line_of(source, 'THE BLOCKING LINE')} in test_blocking*",
        "*time.sleep(0.3)  # THE BLOCKING LINE*",
    ])
    result.stdout.fnmatch_lines(["*FAILED*test_blocking*"])


def test_pytest_asyncio_auto_mode_loop_is_watched(pytester: pytest.Pytester) -> None:
    ini = INI + "asyncio_mode = auto\n"
    result = run_inner(pytester, "--loopbridge-strict", ini=ini, test_inner=ASYNCIO_AUTO)
    assert_blocking_test_failed_at(result, ASYNCIO_AUTO)


def test_pytest_asyncio_strict_mode_loop_is_watched(pytester: pytest.Pytester) -> None:
    ini = INI + "asyncio_mode = strict\n"
    result = run_inner(pytester, "--loopbridge-strict", ini=ini, test_inner=ASYNCIO_STRICT)
    assert_blocking_test_failed_at(result, ASYNCIO_STRICT)


def test_pytest_asyncio_loops_are_not_checked_without_strict_mode(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, ini=INI + "asyncio_mode = auto\n", test_inner=ASYNCIO_AUTO)
    result.assert_outcomes(passed=2)


def test_async_fixture_setup_and_teardown_are_watched(pytester: pytest.Pytester) -> None:
    ini = INI + "asyncio_mode = auto\n"
    result = run_inner(pytester, "--loopbridge-strict", ini=ini, test_inner=ASYNCIO_FIXTURE)
    # the stall in setup fails setup (the test does not run); the teardown still runs and stalls
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        "*the event loop stalled during this test's setup*",
        f"*test_inner.py:{line_of(ASYNCIO_FIXTURE, 'THE BLOCKING SETUP LINE')} in slow_resource*",
    ])
    result.stdout.fnmatch_lines([
        "*the event loop stalled during this test's teardown*",
        f"*test_inner.py:{line_of(ASYNCIO_FIXTURE, 'THE BLOCKING TEARDOWN LINE')} in slow_resource*",
    ])


def test_anyio_plugin_loop_is_watched(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, "--loopbridge-strict", test_inner=ANYIO_TESTS)
    assert_blocking_test_failed_at(result, ANYIO_TESTS)


UNAWAITED = """
import asyncio
import gc

kept = []


async def fetch():
    await asyncio.sleep(0)


def test_forgets_to_await():
    fetch()  # THE LOST COROUTINE


async def test_async_forgets_to_await():
    fetch()  # THE LOST ASYNC COROUTINE
    await asyncio.sleep(0)


def test_keeps_one_for_later():
    kept.append(fetch())  # THE LATE COROUTINE


def test_drops_it_later():
    kept.clear()
    gc.collect()


async def test_awaits_properly():
    await fetch()
    coroutine = fetch()
    coroutine.close()
"""


def test_a_coroutine_never_awaited_fails_the_test_that_created_it(pytester: pytest.Pytester) -> None:
    ini = INI + "asyncio_mode = auto\n"
    result = run_inner(pytester, "--loopbridge-strict", ini=ini, test_inner=UNAWAITED)
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines([
        "*this test created a coroutine that never ran (loopbridge strict mode)*",
        f"*coroutine 'fetch' was never awaited; created at *test_inner.py:{line_of(UNAWAITED, 'THE LOST COROUTINE')}"
        " in test_forgets_to_await*",
    ])
    result.stdout.fnmatch_lines([
        f"*created at *test_inner.py:{line_of(UNAWAITED, 'THE LOST ASYNC COROUTINE')} in test_async_forgets_to_await*",
    ])
    result.stdout.fnmatch_lines(["*FAILED*test_forgets_to_await*", "*FAILED*test_async_forgets_to_await*"])
    # the one dropped by a later test is laid at the door of the test that created it, and
    # fails the run (its own test had already passed when it was found)
    result.stdout.fnmatch_lines([
        "*loopbridge: coroutines never awaited, found after their test ended*",
        f"*test_keeps_one_for_later: coroutine 'fetch' was never awaited; created at *test_inner.py:"
        f"{line_of(UNAWAITED, 'THE LATE COROUTINE')} in test_keeps_one_for_later*",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # recorded, and Python's own warning still shown, as without strict mode
    result.stdout.fnmatch_lines(["*RuntimeWarning: coroutine 'fetch' was never awaited*"])


def test_lost_coroutines_are_plain_warnings_without_strict_mode(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, "-k", "test_forgets_to_await", test_inner=UNAWAITED)
    result.assert_outcomes(passed=1, deselected=4, warnings=1)
    result.stdout.fnmatch_lines(["*RuntimeWarning: coroutine 'fetch' was never awaited*"])


MANY_AWAITS = """
import asyncio
import gc
import sys
import time

import pytest


async def trivial():
    return 1


async def test_awaits_a_trivial_coroutine_100000_times():
    started = time.perf_counter()
    for _ in range(100_000):
        await trivial()
    print(f"100000 awaits: {(time.perf_counter() - started) * 1000:.1f} ms")
    probe = trivial()
    assert probe.cr_origin is None and sys.get_coroutine_origin_tracking_depth() == 0
    await probe


def test_python_s_own_warning_passes_through():
    with pytest.warns(RuntimeWarning, match="never awaited"):
        trivial()
        gc.collect()


async def test_async_test_asks_for_the_warning_too():
    with pytest.warns(RuntimeWarning, match="never awaited"):
        trivial()
        gc.collect()


kept = []


async def test_keeps_one_inside_the_loop():
    kept.append(trivial())  # THE KEPT COROUTINE
    await asyncio.sleep(0)
    kept.clear()  # THE DROP
"""


def test_strict_mode_pays_nothing_per_coroutine_created_in_a_running_loop(pytester: pytest.Pytester) -> None:
    # origin tracking at depth 32 made each coroutine cost 10-15 us: this loop took 1-5 s and
    # failed as a stall of its own at the 100 ms threshold
    ini = INI + "asyncio_mode = auto\n"
    result = run_inner(pytester, "--loopbridge-strict", "-s", "-k", "100000", ini=ini, test_inner=MANY_AWAITS)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*100000 awaits: * ms*"])


def test_a_test_that_asks_for_the_never_awaited_warning_gets_it_in_strict_mode(pytester: pytest.Pytester) -> None:
    ini = INI + "asyncio_mode = auto\n"
    for args in (("--loopbridge-strict",), ()):
        result = run_inner(pytester, *args, "-k", "warning", ini=ini, test_inner=MANY_AWAITS)
        result.assert_outcomes(passed=2)
        assert "DID NOT WARN" not in result.stdout.str()


def test_a_coroutine_kept_inside_a_running_loop_is_named_where_it_was_dropped(pytester: pytest.Pytester) -> None:
    ini = INI + "asyncio_mode = auto\n"
    result = run_inner(pytester, "--loopbridge-strict", "-k", "keeps", ini=ini, test_inner=MANY_AWAITS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*coroutine 'trivial' was never awaited; created inside a running event loop*dropped at "
        f"*test_inner.py:{line_of(MANY_AWAITS, 'THE DROP')} in test_keeps_one_inside_the_loop*",
    ])
