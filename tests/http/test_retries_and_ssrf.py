"""Retries (idempotent methods only, configurable failures) and the SSRF guard, live."""

from __future__ import annotations

import ipaddress
import random
import uuid

import pytest
import requests

from async_core import BlockedAddress
from async_core.http import HttpConfig, http_client
from async_core.http._ssrf import AddressPolicy, forbidden_reason
from bridge import http


@pytest.fixture(autouse=True)
def fast_backoff() -> None:
    http.configure(backoff=0.01, backoff_max=0.02, retries=2)


def _key() -> str:
    return uuid.uuid4().hex


def test_get_is_retried_on_503_until_it_succeeds(base: str) -> None:
    resp = http.get(f"{base}/flaky/{_key()}", params={"fail": 2})
    assert resp.status_code == 200 and resp.json()["call"] == 3
    assert http_client().stats()["retries"] == 2


def test_retries_run_out_and_the_last_answer_is_returned(base: str) -> None:
    resp = http.get(f"{base}/flaky/{_key()}", params={"fail": 5, "status": 502})
    assert resp.status_code == 502 and resp.json()["call"] == 3  # 1 try + 2 retries


def test_post_is_not_retried(base: str) -> None:
    resp = http.post(f"{base}/flaky/{_key()}", params={"fail": 1})
    assert resp.status_code == 503 and resp.json()["call"] == 1
    assert http_client().stats()["retries"] == 0


def test_which_statuses_retry_is_configurable(base: str) -> None:
    http.configure(retry_statuses={500})
    assert http.get(f"{base}/flaky/{_key()}", params={"fail": 1, "status": 503}).status_code == 503
    assert http.get(f"{base}/flaky/{_key()}", params={"fail": 1, "status": 500}).status_code == 200


def test_connection_errors_are_retried_unless_turned_off(closed_port: int) -> None:
    with pytest.raises(requests.ConnectionError):
        http.get(f"http://127.0.0.1:{closed_port}/")
    assert http_client().stats()["retries"] == 2
    http.configure(retry_on_connection_errors=False)
    with pytest.raises(requests.ConnectionError):
        http.get(f"http://127.0.0.1:{closed_port}/")
    assert http_client().stats()["retries"] == 2 and http_client().stats()["errors"] == 2


def test_read_timeouts_are_retried_for_get(base: str) -> None:
    with pytest.raises(requests.ReadTimeout):
        http.get(f"{base}/hang", timeout=0.1)
    assert http_client().stats()["retries"] == 2


def test_backoff_is_exponential_capped_and_jittered() -> None:
    cfg = HttpConfig(backoff=0.1, backoff_max=0.3, retries=2)
    rng = random.Random(1)
    delays = [cfg.backoff_delay(n, rng) for n in (1, 2, 3, 4)]
    assert 0.05 <= delays[0] <= 0.1 and 0.1 <= delays[1] <= 0.2
    assert all(0.15 <= d <= 0.3 for d in delays[2:])
    assert cfg.retries_for("POST") == 0 and cfg.retries_for("PUT") == 2


# -- the SSRF guard ------------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.1", "private"),
    ("169.254.169.254", "link-local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("100.64.0.1", "non-global"), ("::1", "loopback"), ("fe80::1", "link-local"), ("fc00::1", "private"),
    ("ff02::1", "multicast"), ("::", "unspecified"), ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"), ("8.8.8.8", None), ("2606:4700:4700::1111", None), ("::ffff:8.8.8.8", None),
])
def test_forbidden_reason(address: str, reason: str | None) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


def test_allow_list_parsing() -> None:
    policy = AddressPolicy.build(True, ["LocalHost.", "10.0.0.0/8", "::1"])
    assert policy.allow_hosts == frozenset({"localhost"})
    assert policy.refusal("x", "10.9.9.9") is None and policy.refusal("x", "::1") is None
    assert policy.refusal("x", "192.168.1.1") is not None
    with pytest.raises(TypeError, match="list"):
        AddressPolicy.build(True, "localhost")
    with pytest.raises(ValueError, match="not a hostname"):
        AddressPolicy.build(True, ["http://x/"])


def test_guard_is_off_by_default(base: str) -> None:
    assert HttpConfig().block_private is False
    assert http.get(f"{base}/json").status_code == 200


def test_guard_refuses_a_loopback_literal(base: str) -> None:
    http.configure(block_private=True)
    with pytest.raises(BlockedAddress) as info:
        http.get(f"{base}/json")
    message = str(info.value)
    assert "127.0.0.1" in message and "loopback" in message and "allow=" in message
    assert isinstance(info.value, requests.ConnectionError)
    assert http_client().stats()["retries"] == 0  # a refusal is never retried


def test_guard_refuses_a_hostname_that_resolves_to_a_private_address(sim: object) -> None:
    http.configure(block_private=True)
    port = sim.port  # type: ignore[attr-defined]
    with pytest.raises(BlockedAddress) as info:
        http.get(f"http://localhost:{port}/json")
    assert "localhost (resolved to" in str(info.value)


def test_guard_refuses_ipv6_loopback() -> None:
    http.configure(block_private=True)
    with pytest.raises(BlockedAddress, match=r"::1"):
        http.get("http://[::1]:9/")


def test_allow_list_by_network_and_by_host(sim: object) -> None:
    port = sim.port  # type: ignore[attr-defined]
    http.configure(block_private=True, allow=["127.0.0.0/8"])
    assert http.get(f"http://127.0.0.1:{port}/json").status_code == 200
    assert http.get(f"http://localhost:{port}/json").status_code == 200
    http.configure(allow=["localhost"])
    assert http.get(f"http://localhost:{port}/json").status_code == 200
    with pytest.raises(BlockedAddress):
        http.get(f"http://127.0.0.1:{port}/json")


def test_redirect_to_a_blocked_literal_is_refused(sim: object) -> None:
    port = sim.port  # type: ignore[attr-defined]
    http.configure(block_private=True, allow=["localhost"])
    with pytest.raises(BlockedAddress):
        http.get(f"http://localhost:{port}/redirect-to", params={"url": f"http://127.0.0.1:{port}/json"})
