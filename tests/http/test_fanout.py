"""fan_out on the loop, and bridge.http.map / async_map against the simulator."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from typing import Any

import pytest
import requests

from async_core import UpstreamTimeout
from async_core._errors import InvalidURL
from async_core._fanout import fan_out
from async_core.http import Response
from bridge import http, run


async def _value(v: Any, delay: float = 0.0) -> Any:
    await asyncio.sleep(delay)
    if isinstance(v, Exception):
        raise v
    return v


def test_results_in_input_order_with_errors_as_values() -> None:
    items = [functools.partial(_value, i, 0.01 * (5 - i)) for i in range(5)]
    items[2] = functools.partial(_value, ValueError("two"))
    out = run(fan_out(items, concurrency=3))
    assert out[:2] == [0, 1] and out[3:] == [3, 4]
    assert isinstance(out[2], ValueError)


def test_concurrency_bound_is_respected() -> None:
    state = {"now": 0, "peak": 0}

    async def job() -> None:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.005)
        state["now"] -= 1

    run(fan_out([job for _ in range(50)], concurrency=7))
    assert state["peak"] == 7


def test_first_failure_cancels_the_rest_when_asked() -> None:
    cancelled = []

    async def slow(i: int) -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise

    items: list[Any] = [functools.partial(slow, i) for i in range(3)] + [functools.partial(_value, KeyError("x"), 0.01)]
    with pytest.raises(KeyError):
        run(fan_out(items, concurrency=4, return_exceptions=False))
    assert sorted(cancelled) == [0, 1, 2]


def test_deadline_turns_unfinished_items_into_timeouts_and_leaves_no_task() -> None:
    async def main() -> tuple[list[Any], int]:
        coros = [_value("fast"), _value("slow", 5), _value("never-started", 5)]
        out = await fan_out(coros, concurrency=2, deadline=0.1)
        return out, len(asyncio.all_tasks()) - 1

    started = time.monotonic()
    out, leftover = run(main())
    assert time.monotonic() - started < 3  # the slow items would take 5 s: they were cut short
    assert out[0] == "fast" and isinstance(out[1], UpstreamTimeout) and isinstance(out[2], UpstreamTimeout)
    assert "deadline of 0.1s" in str(out[1])
    assert leftover == 0  # and the never-started coroutine was closed: no RuntimeWarning (warnings are errors)


def test_progress_is_reported_for_each_item() -> None:
    seen: list[tuple[int, int]] = []
    run(fan_out([functools.partial(_value, i) for i in range(4)], concurrency=2, progress=lambda d, t: seen.append((d, t))))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_fan_out_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        run(fan_out([], concurrency=0))
    with pytest.raises(TypeError, match="item 1"):
        run(fan_out([_value(1), 42], concurrency=1))  # the coroutine of item 0 is closed, not leaked
    with pytest.raises(ValueError, match="deadline"):
        run(fan_out([], concurrency=1, deadline=-1))
    assert run(fan_out([], concurrency=1)) == []


# -- bridge.http.map ------------------------------------------------------------------------------
def test_map_keeps_input_order_and_reports_errors_per_item(base: str, closed_port: int) -> None:
    http.configure(retries=0)
    items: list[Any] = [
        f"{base}/delay/30", f"{base}/status/404", f"http://127.0.0.1:{closed_port}/",
        http.Request("POST", f"{base}/echo", json={"n": 1}), {"method": "PUT", "url": f"{base}/echo"},
        "ftp://bad.example/", f"{base}/delay/1",
    ]
    out = http.map(items, concurrency=3)
    assert [type(r).__name__ for r in out] == ["Response", "Response", "UpstreamConnectionError",
                                               "Response", "Response", "InvalidURL", "Response"]
    assert out[1].status_code == 404
    assert out[3].json()["json"] == {"n": 1} and out[4].json()["method"] == "PUT"
    assert all(isinstance(r, requests.RequestException | Response) for r in out)


def test_map_with_return_exceptions_false_raises(base: str) -> None:
    with pytest.raises(InvalidURL):
        http.map([f"{base}/json", "nope://x"], return_exceptions=False)
    with pytest.raises(requests.ReadTimeout):
        http.map([f"{base}/json", f"{base}/hang"], timeout=0.1, return_exceptions=False, concurrency=2)


def test_map_concurrency_is_observed_by_the_server(sim: Any, base: str) -> None:
    requests.post(f"{base}/stats", timeout=5)
    started = time.perf_counter()
    out = http.map([f"{base}/delay/50"] * 24, concurrency=8)
    elapsed = time.perf_counter() - started
    stats = requests.get(f"{base}/stats", timeout=5).json()
    assert all(r.status_code == 200 for r in out)
    assert 4 <= stats["peak_in_flight"] <= 8 + 1  # parallel, bounded (+ the /stats call itself)
    assert elapsed >= 0.15  # at least 3 waves of 50 ms: never more than 8 at once


def test_map_deadline(base: str) -> None:
    started = time.perf_counter()
    out = http.map([f"{base}/json", f"{base}/hang", f"{base}/hang"], concurrency=3, deadline=0.3)
    assert time.perf_counter() - started < 2
    assert isinstance(out[0], Response)
    assert all(isinstance(r, UpstreamTimeout) for r in out[1:])


def test_map_progress_runs_in_the_calling_thread(base: str) -> None:
    calls: list[tuple[int, int, str]] = []
    out = http.map([f"{base}/delay/5"] * 10, concurrency=3,
                   progress=lambda d, t: calls.append((d, t, threading.current_thread().name)))
    assert len(out) == 10 and calls[-1][:2] == (10, 10)
    assert {name for *_, name in calls} == {threading.current_thread().name}
    assert [d for d, *_ in calls] == sorted(d for d, *_ in calls)


def test_map_validates_items_and_arguments(base: str) -> None:
    with pytest.raises(TypeError, match="item 1"):
        http.map([f"{base}/json", 42])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list of URLs"):
        http.map(f"{base}/json")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="concurrency"):
        http.map([f"{base}/json"], concurrency=0)
    with pytest.raises(TypeError, match="dict item"):
        http.map([{"url": f"{base}/json", "colour": "red"}])
    assert http.map([]) == []


def test_async_map_on_the_shared_loop(base: str) -> None:
    async def view() -> list[int]:
        out = await http.async_map([f"{base}/json", f"{base}/status/500"], concurrency=2)
        return [r.status_code for r in out]  # type: ignore[union-attr]

    http.configure(retries=0)
    assert run(view()) == [200, 500]
