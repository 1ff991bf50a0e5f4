"""The report on a fleet: several stats answers merged, the figures' origin said, Prometheus input.

A real Prometheus server scraping real gunicorn workers is in tests/servers/test_prometheus_fleet.py;
here the merging rules on saved answers and the --prometheus argument handling.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loopbridge.report._live import LiveError
from loopbridge.report._merge import merge_stats
from loopbridge.report._prometheus import _growth, load_prometheus, parse_labels, parse_window

from .conftest import SHOP, report_json, run_report


def _answer(pid: int, host: str, requests: int, total_ms: float, workers: int = 3) -> dict[str, Any]:
    return {"pid": pid, "state": "running", "inflight": 1, "queued": 0, "max_inflight": 1024,
            "process": {"pid": pid, "host": host, "server": "gunicorn", "workers": workers},
            "endpoints": {"orders.list_orders": {"requests": requests, "total_ms": total_ms, "bridged_ms": 0.0,
                                                 "stalls": 0, "bridged_calls": 0}}}


def _write(tmp_path: Path, name: str, data: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_several_answers_are_summed_and_one_process_read_twice_counts_once(tmp_path: Path) -> None:
    a1 = _write(tmp_path, "a1.json", _answer(11, "web-1", 10, 100.0))
    a2 = _write(tmp_path, "a2.json", _answer(11, "web-1", 12, 130.0))  # the same worker, read later
    b = _write(tmp_path, "b.json", _answer(21, "web-2", 5, 50.0))
    data = report_json(SHOP, "--stats", a1, "--stats", b, "--stats", a2)
    live = data["live"]
    routes = {r["endpoint"]: r for r in data["routes"]}
    assert routes["orders.list_orders"]["live"]["requests"] == 17  # 12 (latest of pid 11) + 5
    assert routes["orders.list_orders"]["live"]["total_ms"] == 180.0
    fleet = live["process"]["fleet"]
    assert (fleet["processes"], fleet["hosts"], fleet["answers"], fleet["duplicates"]) == (2, 2, 3, 1)
    assert "figures from 2 processes on 2 hosts" in live["note"]
    assert "1 repeated answer(s) from a process already read counted once" in live["note"]
    text = run_report(SHOP, "--stats", a1, "--stats", b).stdout
    assert "figures from 2 processes on 2 hosts" in text


def test_one_answer_says_it_is_one_worker_of_several(tmp_path: Path) -> None:
    one = _write(tmp_path, "one.json", _answer(11, "web-1", 10, 100.0, workers=4))
    note = report_json(SHOP, "--stats", one)["live"]["note"]
    assert "figures from 1 process on 1 host" in note
    assert "the server runs 4 workers, so 3 were not read" in note


def test_merge_stats_checks_its_input() -> None:
    with pytest.raises(ValueError, match="at least one"):
        merge_stats([])
    with pytest.raises(TypeError, match="answer 0 is not a stats object"):
        merge_stats([("x", [])])  # type: ignore[list-item]
    merged = merge_stats([("a", {"endpoints": {"e": {"requests": 2, "total_ms": 1.5, "flag": True}}}),
                          ("b", {"endpoints": [{"endpoint": "e", "requests": 3, "total_ms": 1.0}]})])
    assert merged["endpoints"] == {"e": {"requests": 5, "total_ms": 2.5}}
    assert merged["fleet"]["processes"] == 2  # answers without a pid are a process each


def test_counter_growth_is_exact_and_survives_a_restart() -> None:
    assert _growth([[1, "5"], [2, "9"], [3, "9"]], base=3.0) == 6.0
    assert _growth([[1, "5"], [2, "2"], [3, "4"]], base=0.0) == 9.0  # 5, then a restart from 0: 2, then +2


def test_prometheus_arguments_are_checked_with_the_fix_named() -> None:
    assert parse_window("90s") == 90 and parse_window("30m") == 1800 and parse_window("2") == 2
    with pytest.raises(LiveError, match="such as 15m"):
        parse_window("soon")
    assert parse_labels(["job=web", 'instance=~"web-.*"', "env!=dev"]) == 'job="web",instance=~"web-.*",env!="dev"'
    with pytest.raises(LiveError, match="NAME=VALUE"):
        parse_labels(["job"])
    with pytest.raises(LiveError, match="cannot query Prometheus at http://127.0.0.1:9"):
        load_prometheus("http://127.0.0.1:9", 60, timeout=2)
    result = run_report(SHOP, "--prometheus", "http://127.0.0.1:9", "--stats", "x.json")
    assert result.exit_code == 2 and "give one of them" in result.output
    result = run_report(SHOP, "--label", "job=web")
    assert result.exit_code == 2 and "needs --prometheus" in result.output
