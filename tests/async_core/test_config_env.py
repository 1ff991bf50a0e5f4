"""LOOPBRIDGE_* environment variables: each key, each bad value, one boolean parser, clear errors."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from async_core import LoopConfig
from async_core._config import warn_unknown_env
from async_core._validate import check_seconds, parse_bool

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("var", "raw", "field", "value"), [
    ("LOOPBRIDGE_MAX_INFLIGHT", "64", "max_inflight", 64),
    ("LOOPBRIDGE_QUEUE_TIMEOUT", "0.5", "queue_timeout", 0.5),
    ("LOOPBRIDGE_STOP_GRACE", "0", "stop_grace", 0.0),
    ("LOOPBRIDGE_WATCHDOG_MS", "250", "watchdog_ms", 250.0),
    ("LOOPBRIDGE_STRICT", "yes", "strict", True),
    ("LOOPBRIDGE_STRICT", "Off", "strict", False),
    ("LOOPBRIDGE_UVLOOP", "auto", "use_uvloop", None),
    ("LOOPBRIDGE_UVLOOP", "0", "use_uvloop", False),
])
def test_each_key_is_read(var: str, raw: str, field: str, value: object) -> None:
    assert getattr(LoopConfig.from_env({var: raw}), field) == value


@pytest.mark.parametrize(("var", "raw"), [
    ("LOOPBRIDGE_MAX_INFLIGHT", "0"), ("LOOPBRIDGE_MAX_INFLIGHT", "many"), ("LOOPBRIDGE_MAX_INFLIGHT", "2.5"),
    ("LOOPBRIDGE_QUEUE_TIMEOUT", "nan"), ("LOOPBRIDGE_QUEUE_TIMEOUT", "inf"), ("LOOPBRIDGE_QUEUE_TIMEOUT", "-1"),
    ("LOOPBRIDGE_STOP_GRACE", "soon"), ("LOOPBRIDGE_WATCHDOG_MS", "nan"), ("LOOPBRIDGE_STRICT", "2"),
    ("LOOPBRIDGE_STRICT", "auto"), ("LOOPBRIDGE_UVLOOP", "maybe"),
])
def test_each_bad_value_names_the_variable_the_user_wrote(var: str, raw: str) -> None:
    with pytest.raises(ValueError, match=var):
        LoopConfig.from_env({var: raw})


def test_a_strict_boolean_error_offers_only_booleans() -> None:
    with pytest.raises(ValueError) as caught:
        LoopConfig.from_env({"LOOPBRIDGE_STRICT": "2"})
    assert "auto" not in str(caught.value) and "true/false" in str(caught.value)


@pytest.mark.parametrize("word", ["true", "1", "YES", "on", " On "])
def test_one_boolean_parser_true(word: str) -> None:
    assert parse_bool("K", word) is True


@pytest.mark.parametrize("word", ["false", "0", "no", "OFF"])
def test_one_boolean_parser_false(word: str) -> None:
    assert parse_bool("K", word) is False


@pytest.mark.parametrize("word", ["", "2", "nope", "auto", "t"])
def test_one_boolean_parser_refuses_the_rest(word: str) -> None:
    with pytest.raises(ValueError, match="K="):
        parse_bool("K", word)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -0.5, True, "1", None])
def test_one_seconds_validator(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="the_key must be a number of seconds"):
        check_seconds("the_key", bad)


def test_unknown_variables_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="async_core"):
        unknown = warn_unknown_env({"LOOPBRIDGE_WATCHDOG": "100", "LOOPBRIDGE_TIMEOUT": "1", "PATH": "/bin"})
    assert unknown == ["LOOPBRIDGE_WATCHDOG"]
    assert "LOOPBRIDGE_WATCHDOG is not a loopbridge setting" in caplog.text


def test_a_bad_environment_fails_the_first_run_cleanly() -> None:
    code = ("import asyncio, warnings, bridge\nwarnings.simplefilter('error')\n"
            "try:\n    bridge.run(asyncio.sleep(0))\nexcept ValueError as exc:\n    print('refused:', exc)\n"
            "import gc; gc.collect()\n")
    env = {**os.environ, "LOOPBRIDGE_MAX_INFLIGHT": "lots", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)
    assert "refused: LOOPBRIDGE_MAX_INFLIGHT='lots'" in done.stdout, done.stderr
    assert "never awaited" not in done.stderr
