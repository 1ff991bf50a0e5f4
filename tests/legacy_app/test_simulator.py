"""The upstream simulator: every endpoint, its determinism, its load and its clean stop."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import aiohttp
import pytest
import requests

from legacy_app.simulator import stop_subprocess
from legacy_app.simulator import (
    JSON_DOCUMENT,
    Simulator,
    draw_profiles,
    make_app,
    sample_text,
    start_subprocess,
)

# The monitor's tests run in loopbridge strict mode: a stalled loop fails the test.
pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=250)


@pytest.fixture(scope="module")
def noisy() -> Iterator[Simulator]:
    """A simulator with the default site mix (jitter, flaky, slow and down sites)."""
    with Simulator(sites=200, latency_ms=5, seed=7) as server:
        yield server


def test_profiles_are_deterministic_from_the_seed() -> None:
    a = draw_profiles(300, 1, 25.0, 5.0, 0.02, 0.02, 0.01)
    assert a == draw_profiles(300, 1, 25.0, 5.0, 0.02, 0.02, 0.01)
    assert a != draw_profiles(300, 2, 25.0, 5.0, 0.02, 0.02, 0.01)
    assert any(p.slow for p in a) and any(p.down for p in a) and any(p.error_rate for p in a)
    normal = [p.latency_ms for p in a if not p.slow]
    assert min(normal) >= 20.0 and max(normal) <= 30.0


def test_fixed_sites_all_have_the_same_latency_and_no_errors() -> None:
    profiles = draw_profiles(100, 1, 25.0, 0.0, 0.0, 0.0, 0.0)
    assert {p.latency_ms for p in profiles} == {25.0}
    assert not any(p.down or p.slow or p.error_rate for p in profiles)


def test_bad_settings_are_refused_with_the_setting_named() -> None:
    with pytest.raises(ValueError, match="sites"):
        make_app(sites=-1)
    with pytest.raises(ValueError, match="error_rate"):
        make_app(error_rate=2.0)
    with pytest.raises(ValueError, match="port"):
        Simulator(port=70000)
    with pytest.raises(RuntimeError, match="not running"):
        _ = Simulator().base_url


def test_site_urls_and_index_bounds(sim: Simulator) -> None:
    assert sim.site_url(3) == f"http://127.0.0.1:{sim.port}/sites/3"
    assert len(sim.site_urls()) == 40 and sim.site_urls(2)[1].endswith("/sites/1")
    with pytest.raises(ValueError, match="0..39"):
        sim.site_url(40)


def test_site_answers_a_page_after_its_latency(sim: Simulator) -> None:
    resp = requests.get(sim.site_url(5), timeout=5)
    assert resp.status_code == 200 and "Site 5" in resp.text
    assert resp.headers["Content-Type"].startswith("text/html")
    assert requests.get(f"{sim.base_url}/sites/40", timeout=5).status_code == 404
    started = time.perf_counter()
    assert requests.get(sim.site_url(1) + "?latency_ms=150", timeout=5).ok
    assert time.perf_counter() - started >= 0.15


def test_noisy_sites_include_down_and_failing_ones(noisy: Simulator) -> None:
    profiles = draw_profiles(200, 7, 5.0, 1.0, 0.02, 0.02, 0.01)
    down = next(p.index for p in profiles if p.down)
    assert requests.get(noisy.site_url(down), timeout=5).status_code == 503
    statuses = {requests.get(noisy.site_url(p.index), timeout=5).status_code
                for p in profiles if p.error_rate for _ in range(10)}
    assert statuses & {500, 502, 503}


def test_delay_status_and_json(sim: Simulator) -> None:
    started = time.perf_counter()
    assert requests.get(f"{sim.base_url}/delay/100", timeout=5).json() == {"delayed_ms": 100}
    assert time.perf_counter() - started >= 0.1
    assert requests.get(f"{sim.base_url}/status/418", timeout=5).status_code == 418
    no_content = requests.delete(f"{sim.base_url}/status/204", timeout=5)
    assert no_content.status_code == 204 and no_content.content == b""
    assert requests.get(f"{sim.base_url}/json", timeout=5).json() == JSON_DOCUMENT


@pytest.mark.parametrize("charset", ["utf-8", "latin-1", "utf-16", "cp1252"])
def test_text_is_encoded_in_the_declared_charset(sim: Simulator, charset: str) -> None:
    resp = requests.get(f"{sim.base_url}/text/{charset}", timeout=5)
    assert resp.headers["Content-Type"] == f"text/plain; charset={charset}"
    assert resp.content.decode(charset) == sample_text(charset)
    assert any(ord(ch) > 127 for ch in sample_text(charset))


def test_text_without_charset_is_utf8_bytes(sim: Simulator) -> None:
    resp = requests.get(f"{sim.base_url}/text/none", timeout=5)
    assert resp.headers["Content-Type"] == "text/plain"
    assert resp.content.decode("utf-8") == sample_text("none")
    assert requests.get(f"{sim.base_url}/text/no-such-codec", timeout=5).status_code == 400


def test_headers_are_echoed_and_repeated_headers_sent(sim: Simulator) -> None:
    resp = requests.get(f"{sim.base_url}/headers", headers={"X-Probe": "yes"}, timeout=5)
    assert resp.json()["headers"]["X-Probe"] == "yes"
    assert resp.headers["x-simulator"] == "loopbridge"
    assert resp.raw.headers.getlist("X-Repeated") == ["one", "two"]
    assert resp.cookies.get("a") == "1" and resp.cookies.get("b") == "2"


def test_echo_returns_method_query_body_and_json(sim: Simulator) -> None:
    body = requests.put(f"{sim.base_url}/echo?a=1&a=2", json={"x": [1, "é"]}, timeout=5).json()
    assert body["method"] == "PUT" and body["query_list"] == [["a", "1"], ["a", "2"]]
    assert body["json"] == {"x": [1, "é"]}
    form = requests.post(f"{sim.base_url}/echo", data={"k": "v"}, timeout=5).json()
    assert form["form"] == {"k": "v"} and form["json"] is None


def test_redirects(sim: Simulator) -> None:
    resp = requests.get(f"{sim.base_url}/redirect/3", timeout=5)
    assert resp.json() == {"redirected": True} and len(resp.history) == 3
    assert all(r.status_code == 302 for r in resp.history)
    hop = requests.get(f"{sim.base_url}/redirect-to", params={"url": "/json", "status": 307},
                       allow_redirects=False, timeout=5)
    assert hop.status_code == 307 and hop.headers["Location"] == "/json"


def test_hang_never_answers_and_its_handler_ends_with_the_client(sim: Simulator) -> None:
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{sim.base_url}/hang", timeout=0.3)
    deadline = time.monotonic() + 3
    while requests.get(f"{sim.base_url}/stats", timeout=5).json()["in_flight"] > 1:
        assert time.monotonic() < deadline, "the /hang handler outlived its client"
        time.sleep(0.05)


def test_slow_body_sends_headers_first(sim: Simulator) -> None:
    started = time.perf_counter()
    with requests.get(f"{sim.base_url}/slow-body/400", stream=True, timeout=5) as resp:
        assert time.perf_counter() - started < 0.3
        body = resp.content
    assert time.perf_counter() - started >= 0.35 and body.count(b"slow-body") == 10


def test_big_body_with_and_without_content_length(sim: Simulator) -> None:
    sized = requests.get(f"{sim.base_url}/big/1000000", timeout=5)
    assert sized.headers["Content-Length"] == "1000000" and len(sized.content) == 1_000_000
    chunked = requests.get(f"{sim.base_url}/big/300000?chunked=1", timeout=5)
    assert "Content-Length" not in chunked.headers
    assert chunked.headers["Transfer-Encoding"] == "chunked" and len(chunked.content) == 300_000


def test_flaky_fails_the_first_calls_then_recovers(sim: Simulator) -> None:
    url = f"{sim.base_url}/flaky/retry-me?fail=2&status=502"
    assert [requests.get(url, timeout=5).status_code for _ in range(3)] == [502, 502, 200]
    requests.post(f"{sim.base_url}/flaky/reset", timeout=5)
    assert requests.get(url, timeout=5).status_code == 502


def test_drop_closes_without_an_answer(sim: Simulator) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sim.base_url}/drop", timeout=5)


def test_stats_count_requests_by_route(sim: Simulator) -> None:
    requests.post(f"{sim.base_url}/stats", timeout=5)
    for i in range(3):
        requests.get(sim.site_url(i), timeout=5)
    stats = requests.get(f"{sim.base_url}/stats", timeout=5).json()
    assert stats["by_route"]["/sites/{i}"] == 3 and stats["total"] == 4


def test_stop_is_quick_with_a_hanging_connection_open() -> None:
    server = Simulator(sites=1, latency_ms=0).start()
    conn = socket.create_connection(("127.0.0.1", server.port))
    conn.sendall(b"GET /hang HTTP/1.1\r\nHost: sim\r\n\r\n")
    time.sleep(0.1)
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 3
    conn.close()
    server.stop()  # idempotent


# The test's own aiohttp client is a load generator, not code under test: opening 600
# connections in one loop turn is what it is for, so the stall watch stays off here.
@pytest.mark.loopbridge_nostrict
def test_carries_600_concurrent_connections() -> None:
    async def fan_out(urls: list[str]) -> list[int]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            async def one(url: str) -> int:
                async with session.get(url) as resp:
                    await resp.read()
                    return resp.status
            return await asyncio.gather(*(one(u) for u in urls))

    with Simulator(sites=300, latency_ms=25, fixed=True, in_thread=False) as server:
        # Each answer held 250 ms: long enough for the client (a watched loop in strict mode)
        # to open every connection while the first ones still wait.
        urls = [url + "?latency_ms=250" for url in server.site_urls() * 2]
        requests.post(f"{server.base_url}/stats", timeout=5)  # reset the counters
        statuses = asyncio.run(fan_out(urls))
        stats = requests.get(f"{server.base_url}/stats", timeout=5).json()
    assert statuses == [200] * 600
    # the server held hundreds of them open at once (speed itself is the benchmarks' business)
    assert stats["peak_in_flight"] >= 300, stats


def test_command_line_serves_until_sigterm_and_exits_cleanly() -> None:
    proc, url = start_subprocess(sites=5, latency_ms=1, seed=3)
    try:
        assert requests.get(f"{url}/", timeout=5).json()["seed"] == 3
    finally:
        assert stop_subprocess(proc) == 0


def test_command_line_reports_a_busy_port() -> None:
    with Simulator(sites=1) as server:
        result = subprocess.run([sys.executable, "-m", "legacy_app.simulator", "--port", str(server.port)],
                                capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0 and "pick another --port" in result.stderr
