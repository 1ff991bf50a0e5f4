"""The legacy checker's Session, migrated by one mount: ``CHECK_SESSION_ON_LOOP`` puts
``bridge.http.LoopBridgeAdapter`` on it, and its traffic rides the shared loop, guarded."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

import bridge.http
from async_core.http import AddressPolicy
from legacy_app import storage
from legacy_app.db import get_db
from legacy_app.simulator import Simulator
from legacy_app.ssrf import GuardedAdapter, monitor_session

pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=250)


def test_monitor_session_mounts_the_guard_or_the_loop_adapter() -> None:
    policy = AddressPolicy.build(True, ["127.0.0.1"])
    with monitor_session(policy) as plain, monitor_session(policy, on_loop=True) as migrated:
        assert plain.trust_env is False and migrated.trust_env is False
        for prefix in ("http://x/", "https://x/"):
            assert isinstance(plain.get_adapter(prefix), GuardedAdapter)
            assert isinstance(migrated.get_adapter(prefix), bridge.http.LoopBridgeAdapter)


def test_legacy_checker_on_the_loop_checks_every_site(make_app: Callable[..., Flask], sim: Simulator) -> None:
    app = make_app(CHECK_SESSION_ON_LOOP=True, SSRF_ALLOW=["127.0.0.1"])
    with app.app_context():
        for i in range(5):
            storage.add_site(get_db(), sim.site_url(i), f"site {i}")
    run = app.test_client().post("/api/check-all", json={"checker": "legacy"}).get_json()
    assert (run["checker"], run["recorded"], run["ok_count"]) == ("legacy", 5, 5)


def test_legacy_checker_on_the_loop_is_guarded_by_the_loops_resolver(make_app: Callable[..., Flask], sim: Simulator,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(CHECK_SESSION_ON_LOOP=True, SSRF_ALLOW=[])
    with app.app_context():
        storage.add_site(get_db(), sim.site_url(0).replace("127.0.0.1", "localhost"), "by name")
    run = app.test_client().post("/api/check-all", json={"checker": "legacy"}).get_json()
    assert (run["recorded"], run["ok_count"]) == (1, 0)
    with app.app_context():
        (site,) = storage.site_statuses(get_db())
    assert site["error"].startswith("BlockedAddress: refused to connect to localhost"), site
    # judged on the loop (aiohttp's guarded resolver), not by the requests-side guard
    assert any(r.name == "async_core.http._ssrf" for r in caplog.records)
    assert not any(r.name == "legacy_app.ssrf" for r in caplog.records)


def test_the_setting_is_a_bool(make_app: Callable[..., Flask]) -> None:
    with pytest.raises(ValueError, match="CHECK_SESSION_ON_LOOP must be True or False"):
        make_app(CHECK_SESSION_ON_LOOP="yes")
