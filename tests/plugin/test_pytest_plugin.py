"""pytester runs of the loopbridge pytest plugin: inert by default, strict on request."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.loopbridge_nostrict

BLOCKING_TESTS = """
import asyncio
import time

import pytest
from bridge import run


async def blocking():
    await asyncio.sleep(0)
    time.sleep(0.3)  # THE BLOCKING LINE


async def clean():
    await asyncio.sleep(0.05)
    return "ok"


def test_blocking():
    run(blocking())


def test_clean():
    assert run(clean()) == "ok"
"""
#: line of ``time.sleep(0.3)`` in the file above (the string starts with a newline)
BLOCKING_LINE = 10
INI = "[pytest]\nloopbridge_watchdog_ms = 100\nasyncio_default_fixture_loop_scope = function\n"


def run_inner(pytester: pytest.Pytester, *args: str, ini: str = INI, **files: str) -> pytest.RunResult:
    pytester.makeini(ini)
    pytester.makepyfile(**files)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args, timeout=60)


def assert_blocking_failed_with_its_line(result: pytest.RunResult, module: str = "test_inner") -> None:
    result.stdout.fnmatch_lines([
        f"*{module}.py:{BLOCKING_LINE}*",
        "*time.sleep(0.3)  # THE BLOCKING LINE*",
    ])
    result.stdout.fnmatch_lines(["*FAILED*test_blocking*"])


def test_plugin_is_inert_by_default(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, test_inner=BLOCKING_TESTS)
    result.assert_outcomes(passed=2)


def test_strict_flag_fails_the_blocking_test_with_its_line_and_passes_the_clean_one(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, "--loopbridge-strict", test_inner=BLOCKING_TESTS)
    result.assert_outcomes(passed=1, failed=1)
    assert_blocking_failed_with_its_line(result)
    result.stdout.fnmatch_lines(["*LoopStalled: the event loop has been blocked*", "*loopbridge stalls*"])


def test_ini_option_turns_strict_mode_on(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, ini=INI + "loopbridge_strict = true\n", test_inner=BLOCKING_TESTS)
    result.assert_outcomes(passed=1, failed=1)
    assert_blocking_failed_with_its_line(result)


def test_marker_turns_strict_mode_on_for_one_test(pytester: pytest.Pytester) -> None:
    marked = BLOCKING_TESTS + (
        "\n\n@pytest.mark.loopbridge_strict\ndef test_blocking_marked():\n    run(blocking())\n"
    )
    result = run_inner(pytester, test_inner=marked)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*FAILED*test_blocking_marked*"])
    result.stdout.fnmatch_lines([f"*test_inner.py:{BLOCKING_LINE}*"])


def test_marker_threshold_overrides_the_ini_one(pytester: pytest.Pytester) -> None:
    marked = BLOCKING_TESTS.replace("def test_blocking", "@pytest.mark.loopbridge_strict(watchdog_ms=2000)\ndef test_blocking")
    result = run_inner(pytester, "--loopbridge-strict", test_inner=marked)
    result.assert_outcomes(passed=2)


def test_opt_out_marker_wins_over_flag_and_module_marker(pytester: pytest.Pytester) -> None:
    opted_out = "import pytest\npytestmark = pytest.mark.loopbridge_strict\n" + BLOCKING_TESTS.replace(
        "def test_blocking", "@pytest.mark.loopbridge_nostrict\ndef test_blocking"
    )
    result = run_inner(pytester, "--loopbridge-strict", test_inner=opted_out)
    result.assert_outcomes(passed=2)


def test_a_swallowed_loop_stalled_still_fails_the_test(pytester: pytest.Pytester) -> None:
    swallowing = BLOCKING_TESTS + (
        "\n\ndef test_swallows():\n    try:\n        run(blocking())\n    except Exception:\n        pass\n"
    )
    result = run_inner(pytester, "--loopbridge-strict", "-k", "swallows", test_inner=swallowing)
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines([
        "*the event loop stalled during this test's call (loopbridge strict mode):*",
        f"*test_inner.py:{BLOCKING_LINE}*",
        "*loopbridge_nostrict*",
    ])


FIXTURE_TESTS = """
import asyncio

seen = {}


def test_first(loopbridge_loop_thread, loopbridge_bridge_run):
    loop_thread = loopbridge_loop_thread
    seen["loop"] = loop_thread.loop
    seen["watchdog"] = loop_thread.watchdog
    assert loopbridge_bridge_run(asyncio.sleep(0, "x")) == "x"
    assert asyncio.get_event_loop_policy() is not None


def test_second_gets_a_fresh_loop(loopbridge_loop_thread, loopbridge_bridge_run):
    loop_thread = loopbridge_loop_thread
    assert loop_thread.loop is not seen["loop"]
    assert seen["loop"].is_closed()
    assert not seen["watchdog"].running
    assert loop_thread.watchdog is not seen["watchdog"]
    assert loop_thread.watchdog.stats()["stalls"] == 0
    loop_thread.configure(loop_thread.config.replace(max_inflight=3))


def test_third_sees_no_config_leak(loopbridge_loop_thread):
    assert loopbridge_loop_thread.config.max_inflight != 3
"""


def test_fixtures_give_each_test_a_fresh_default_loop(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, "--loopbridge-strict", "-W", "error", test_fixtures=FIXTURE_TESTS)
    result.assert_outcomes(passed=3)


OLD_FIXTURE_NAMES = """
import asyncio


def test_old_names(loop_thread, bridge_run):
    assert bridge_run(asyncio.sleep(0, "x")) == "x"
    assert loop_thread.watchdog is not None
"""


def test_old_fixture_names_still_work_with_a_deprecation_warning(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, test_old=OLD_FIXTURE_NAMES)
    result.assert_outcomes(passed=1, warnings=2)
    result.stdout.fnmatch_lines([
        "*LoopbridgeDeprecationWarning: the fixture 'loop_thread' is renamed 'loopbridge_loop_thread'*",
    ])
    result.stdout.fnmatch_lines(["*the fixture 'bridge_run' is renamed 'loopbridge_bridge_run'*"])
    failing = run_inner(pytester, "-W", "error::DeprecationWarning", test_old=OLD_FIXTURE_NAMES)
    failing.assert_outcomes(errors=1)


def test_in_pytest_the_stall_message_names_the_ini_option_and_marker(pytester: pytest.Pytester) -> None:
    result = run_inner(pytester, "--loopbridge-strict", "-k", "test_blocking", test_inner=BLOCKING_TESTS)
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*LoopStalled*raise the threshold (the ini option loopbridge_watchdog_ms*"])
    assert "LOOPBRIDGE_WATCHDOG_MS" not in result.stdout.str()


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("loopbridge_strict = maybe", "*ini option loopbridge_strict = 'maybe' is not understood*"),
        ("loopbridge_watchdog_ms = fast", "*loopbridge_watchdog_ms = 'fast' is not a threshold*e.g. loopbridge_watchdog_ms = 100*"),
        ("loopbridge_watchdog_ms = -5", "*loopbridge_watchdog_ms = '-5' is not a threshold*"),
    ],
)
def test_bad_ini_values_are_usage_errors(pytester: pytest.Pytester, ini: str, message: str) -> None:
    result = run_inner(pytester, ini=f"[pytest]\n{ini}\n", test_inner=BLOCKING_TESTS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(
    ("decorators", "message"),
    [
        ("@pytest.mark.loopbridge_strict(False)", "*loopbridge_strict takes only watchdog_ms=*loopbridge_nostrict*"),
        ("@pytest.mark.loopbridge_strict(watchdog_ms='x')", "*loopbridge_strict(watchdog_ms='x') needs a number*"),
        ("@pytest.mark.loopbridge_nostrict(1)", "*loopbridge_nostrict takes no arguments*"),
        (
            "@pytest.mark.loopbridge_strict\n@pytest.mark.loopbridge_nostrict",
            "*loopbridge_strict and *loopbridge_nostrict are both set*keep one*",
        ),
    ],
)
def test_bad_markers_are_usage_errors(pytester: pytest.Pytester, decorators: str, message: str) -> None:
    source = BLOCKING_TESTS.replace("def test_clean", f"{decorators}\ndef test_clean")
    result = run_inner(pytester, test_inner=source)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
