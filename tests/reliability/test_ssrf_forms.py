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
         "LOCALHOST"]


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
