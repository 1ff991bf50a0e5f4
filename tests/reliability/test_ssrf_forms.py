"""The SSRF guard on bridge.http holds for every way of writing a blocked address.

Numeric forms an OS resolver accepts (``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
``0``), IPv6 and IPv4-mapped forms, and names that resolve to a blocked address: each is refused
(``BlockedAddress`` or ``InvalidURL``, both ``requests`` errors) and the upstream never sees a request.
"""

from __future__ import annotations

import pytest

from async_core import BlockedAddress, InvalidURL
from bridge import http
from tests.reliability.conftest import HostileUpstream

FORMS = ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0", "0.0.0.0", "017700000001",
         "0x7f.1", "127.0.0.1.", "[::1]", "[::ffff:127.0.0.1]", "[0:0:0:0:0:ffff:7f00:1]", "localhost",
         "LOCALHOST", "[2002:7f00:1::]", "[64:ff9b::7f00:1]", "[2001:0:4136:e378:8000:63bf:80ff:fffe]"]


@pytest.fixture
def guarded() -> None:
    http.configure(block_private=True, allow=())
    yield
    http.configure(block_private=False, allow=())


@pytest.mark.usefixtures("guarded")
@pytest.mark.parametrize("host", FORMS)
def test_every_form_of_a_blocked_address_is_refused(hostile: HostileUpstream, host: str) -> None:
    before = sum(hostile.hits.values())
    with pytest.raises((BlockedAddress, InvalidURL)):
        http.get(f"http://{host}:{hostile.port}/ok", timeout=2)
    assert sum(hostile.hits.values()) == before


@pytest.mark.usefixtures("guarded")
def test_the_guard_holds_in_a_fan_out_too(hostile: HostileUpstream) -> None:
    before = sum(hostile.hits.values())
    results = http.map([f"http://{host}:{hostile.port}/ok" for host in FORMS], concurrency=8, timeout=2)
    assert all(isinstance(r, BlockedAddress | InvalidURL) for r in results), results
    assert sum(hostile.hits.values()) == before


def test_an_allowed_network_is_reached(hostile: HostileUpstream) -> None:
    http.configure(block_private=True, allow=["127.0.0.0/8"])
    try:
        assert http.get(hostile.url("/ok"), timeout=2).status_code == 200
    finally:
        http.configure(block_private=False, allow=())


@pytest.mark.parametrize(("address", "reason"), [
    ("2002:7f00:1::", "loopback (carried in a 6to4 address)"),
    ("2002:a00:1::", "private (carried in a 6to4 address)"),
    ("64:ff9b::a9fe:a9fe", "link-local (carried in a NAT64 address)"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback (carried in a Teredo address)"),
])
def test_ipv4_carried_in_ipv6_is_judged_as_the_ipv4_it_carries(address: str, reason: str) -> None:
    import ipaddress

    from async_core.http._ssrf import forbidden_reason

    assert forbidden_reason(ipaddress.ip_address(address)) == reason
