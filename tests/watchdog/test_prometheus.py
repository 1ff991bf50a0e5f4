"""The opt-in Prometheus collector, scraped from a real registry after real work on the loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import bridge
import bridge.http
from async_core import Overloaded
from async_core.prometheus import LoopCollector, register_collector

from .conftest import Watched
from .test_stall_route import make_app

pytestmark = pytest.mark.loopbridge_nostrict


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def refuse_one_call(watched: Watched) -> None:
    """Hold the only in-flight slot, so that a second call is refused with Overloaded."""
    watched.lt.configure(watched.lt.config.replace(max_inflight=1, queue_timeout=0.05))
    release = threading.Event()

    async def hold() -> None:
        while not release.is_set():
            await asyncio.sleep(0.01)

    holder = threading.Thread(target=bridge.run, args=(hold(),), kwargs={"timeout": 10})
    holder.start()
    try:
        for _ in range(200):  # bounded: the holder takes its slot within a few ms
            if watched.lt.inflight:
                break
            threading.Event().wait(0.01)
        with pytest.raises(Overloaded):
            bridge.run(asyncio.sleep(0))
    finally:
        release.set()
        holder.join(10)
    watched.lt.configure(watched.lt.config.replace(max_inflight=1024, queue_timeout=1.0))


def test_the_collector_exposes_lag_stalls_by_request_calls_refusals_and_http_pool(
    watched: Watched, slow_server: str
) -> None:
    registry = CollectorRegistry()
    register_collector(registry, watched.lt)
    refused_before = scrape(registry)[("loopbridge_overload_refusals_total", ())]  # earlier tests' too
    assert make_app().test_client().post("/reports").text == "done"  # one stall in a request
    assert bridge.http.get(slow_server, timeout=5).status_code == 200
    refuse_one_call(watched)
    watched.settle()
    figures = scrape(registry)
    assert figures[("loopbridge_stalls_total", (("route", "POST /reports (endpoint make_report)"),))] == 1
    assert figures[("loopbridge_overload_refusals_total", ())] == refused_before + 1
    assert figures[("loopbridge_bridged_calls_in_flight", ())] == 0
    assert figures[("loopbridge_bridged_calls_limit", ())] == 1024
    ticks = figures[("loopbridge_loop_lag_seconds_count", ())]
    assert ticks >= 3 and figures[("loopbridge_loop_lag_seconds_bucket", (("le", "+Inf"),))] == ticks
    assert figures[("loopbridge_loop_lag_seconds_bucket", (("le", "0.1"),))] < ticks  # the 0.3 s stall
    assert figures[("loopbridge_loop_lag_seconds_sum", ())] >= 0.2
    assert figures[("loopbridge_http_requests_total", ())] >= 1
    in_use = figures[("loopbridge_http_connections", (("state", "in_use"),))]
    idle = figures[("loopbridge_http_connections", (("state", "idle"),))]
    assert in_use == 0 and idle >= 0  # the call is over; the test server may close its socket
    assert figures[("loopbridge_http_connections_limit", ())] > 0


def test_nothing_is_registered_until_asked_and_twice_is_refused() -> None:
    names = set(REGISTRY._names_to_collectors)  # noqa: SLF001 - the registry's own bookkeeping
    assert not any(name.startswith("loopbridge_") for name in names)
    collector = register_collector()
    try:
        assert "loopbridge_bridged_calls_in_flight" in generate_latest(REGISTRY).decode()
        with pytest.raises(ValueError):
            register_collector()
    finally:
        REGISTRY.unregister(collector)
    with pytest.raises(TypeError, match="LoopThread"):
        LoopCollector("loop")  # type: ignore[arg-type]


def test_without_prometheus_client_the_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "from async_core.prometheus import LoopCollector\n"
        "try:\n    LoopCollector()\nexcept ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "install loopbridge[prometheus]" in result.stdout
