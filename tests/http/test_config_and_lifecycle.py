"""HttpConfig as a value object, and the client's lifecycle on the loop (clean close, swaps)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from async_core import default_loop
from async_core.http import HttpConfig, http_client, parse_timeout
from bridge import http, run


def test_defaults_and_readable_repr() -> None:
    cfg = HttpConfig()
    assert (cfg.limit, cfg.connect_timeout, cfg.read_timeout, cfg.total_timeout) == (256, 10.0, 30.0, 60.0)
    assert (cfg.retries, cfg.max_body, cfg.max_redirects, cfg.verify, cfg.block_private) == (0, 8 * 1024 * 1024, 10, True, False)
    assert repr(cfg) == "HttpConfig()"
    assert repr(cfg.replace(retries=1, block_private=True)) == "HttpConfig(retries=1, block_private=True)"


def test_requests_timeout_shapes() -> None:
    assert parse_timeout(5) == (5.0, 5.0)
    assert parse_timeout((1, None)) == (1.0, None)
    assert parse_timeout(None) == (None, None)
    cfg = HttpConfig(timeout=(3, 7))
    assert (cfg.connect_timeout, cfg.read_timeout) == (3.0, 7.0)
    assert cfg.replace(timeout=2).read_timeout == 2.0


@pytest.mark.parametrize(("changes", "error"), [
    ({"limit": -1}, ValueError), ({"limit": "10"}, TypeError), ({"timeout": 0}, ValueError),
    ({"timeout": "5"}, TypeError), ({"retry_methods": "GET"}, TypeError), ({"retry_statuses": {700}}, ValueError),
    ({"verify": "yes"}, TypeError), ({"allow": "localhost"}, TypeError), ({"allow": ["not a host!"]}, ValueError),
    ({"colour": "red"}, TypeError), ({"policy": None}, TypeError), ({"max_body": 0}, ValueError),
])
def test_bad_config_is_refused_with_a_clear_error(changes: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        HttpConfig().replace(**changes)


def test_config_is_immutable_and_normalised() -> None:
    cfg = HttpConfig(retry_methods=["get", "head"], allow=["localhost"])
    assert cfg.retry_methods == frozenset({"GET", "HEAD"}) and cfg.allow == ("localhost",)
    with pytest.raises(AttributeError):
        cfg.retries = 5  # type: ignore[misc]
    assert http.configure() is http.configure()  # no changes: the current config


def test_http_client_is_one_per_loop_with_stats(base: str) -> None:
    client = http_client()
    assert http_client() is client is default_loop().http
    http.get(f"{base}/json")
    stats = client.stats()
    assert {"limit", "limit_per_host", "connections_idle", "connections_in_use", "requests", "errors", "retries"} <= set(stats)
    assert stats["requests"] == 1 and stats["connections_idle"] == 1 and stats["connections_in_use"] == 0


def test_configure_swaps_the_session_and_closes_the_old_one(base: str) -> None:
    http.get(f"{base}/json")
    client = http_client()
    old = client._sessions[client.config].session
    http.configure(limit=5)
    assert http.get(f"{base}/json").status_code == 200
    new = client._sessions[client.config].session
    assert new is not old and new.connector.limit == 5
    run(_settle())
    assert old.closed


async def _settle() -> None:
    import asyncio

    for _ in range(5):
        await asyncio.sleep(0)


def test_stop_closes_everything_without_warnings(sim: object) -> None:
    """In a fresh interpreter with warnings as errors: use the client, stop, collect garbage."""
    port = sim.port  # type: ignore[attr-defined]
    script = textwrap.dedent(f"""
        import gc, warnings
        warnings.simplefilter("error")
        from bridge import http
        from async_core import default_loop
        base = "http://127.0.0.1:{port}"
        http.map([base + "/delay/5"] * 20, concurrency=10)
        http.configure(limit=7)          # leaves a retired session to close as well
        http.get(base + "/json")
        default_loop().stop()
        gc.collect()
        http.get(base + "/json")         # restart works
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-W", "error", "-X", "dev", "-c", script],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert "Unclosed" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr
