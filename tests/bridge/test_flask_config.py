"""Per-app settings of the Flask extension, the stats endpoint's guard, and bad values."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, jsonify
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server

import bridge
from async_core import UpstreamError, default_loop
from bridge import LoopBridge
from tests.conftest import Upstream

pytestmark = pytest.mark.usefixtures("fresh_loop")


def _eventually(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def make_app(name: str, upstream: Upstream, **config: Any) -> Flask:
    app = Flask(name)
    app.config.update(config)

    @app.get("/sleep/<float:seconds>")
    async def sleep(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "slept"

    @app.get("/fetch")
    def fetch() -> Any:  # a sync view calling the facade: uses this app's LOOPBRIDGE_HTTP
        try:
            return jsonify(status=bridge.http.get(upstream.url("/delay/0"), timeout=5).status_code)
        except UpstreamError as exc:
            return jsonify(error=type(exc).__name__), 502

    LoopBridge(app)
    return app


@pytest.fixture
def two_apps(upstream: Upstream) -> Iterator[str]:
    """Two apps with different settings, served by ONE threaded server in this process."""
    strict = make_app(
        "strict", upstream, LOOPBRIDGE_TIMEOUT=0.3, LOOPBRIDGE_MAX_INFLIGHT=1, LOOPBRIDGE_QUEUE_TIMEOUT=0.05,
        LOOPBRIDGE_HTTP={"block_private": True},
    )
    relaxed = make_app("relaxed", upstream, LOOPBRIDGE_HTTP={"block_private": False, "retries": 1})
    server = make_server("127.0.0.1", 0, DispatcherMiddleware(relaxed, {"/strict": strict}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="two-apps", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_two_apps_in_one_process_keep_their_own_timeout(two_apps: str) -> None:
    assert requests.get(f"{two_apps}/strict/sleep/0.8", timeout=10).status_code == 504
    assert requests.get(f"{two_apps}/sleep/0.8", timeout=10).status_code == 200


def test_two_apps_in_one_process_keep_their_own_inflight_bound(two_apps: str) -> None:
    def pair(prefix: str) -> list[int]:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(requests.get, f"{two_apps}{prefix}/sleep/0.2", timeout=10) for _ in range(2)]
            return sorted(f.result().status_code for f in futures)

    refused_before = default_loop().refused
    assert pair("/strict") == [200, 503]  # max_inflight=1, queue 0.05 s
    assert default_loop().refused == refused_before + 1  # the app's refusal shows in the figures
    assert pair("") == [200, 200]
    assert default_loop().config.max_inflight == 1024  # the process's own bound is untouched


def test_two_apps_in_one_process_keep_their_own_http_settings(two_apps: str) -> None:
    blocked = requests.get(f"{two_apps}/strict/fetch", timeout=10)
    assert blocked.status_code == 502 and blocked.json() == {"error": "BlockedAddress"}
    assert requests.get(f"{two_apps}/fetch", timeout=10).json() == {"status": 200}
    # and the setting does not leak into a request of the other app served by the same thread
    assert requests.get(f"{two_apps}/fetch", timeout=10).json() == {"status": 200}
    assert bridge.http.configure().block_private is False  # the process default is untouched


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1, 0, True, "5", [1]])
def test_bad_timeout_values_get_one_clear_error_naming_the_key(bad: object) -> None:
    app = Flask("bad")
    app.config["LOOPBRIDGE_TIMEOUT"] = bad
    with pytest.raises((TypeError, ValueError), match="LOOPBRIDGE_TIMEOUT must be a number of seconds > 0"):
        LoopBridge(app)


@pytest.mark.parametrize(("key", "bad"), [
    ("LOOPBRIDGE_MAX_INFLIGHT", 0), ("LOOPBRIDGE_MAX_INFLIGHT", 2.5), ("LOOPBRIDGE_QUEUE_TIMEOUT", math.nan),
    ("LOOPBRIDGE_HTTP", {"no_such_field": 1}), ("LOOPBRIDGE_HTTP", "fast"), ("LOOPBRIDGE_STATS_URL", "stats"),
    ("LOOPBRIDGE_STATS_ALLOW", "10.0.0.0/8"), ("LOOPBRIDGE_ERROR_HANDLERS", "maybe"),
])
def test_bad_values_name_their_key(key: str, bad: object) -> None:
    app = Flask("bad")
    app.config[key] = bad
    with pytest.raises((TypeError, ValueError), match=key):
        LoopBridge(app)


def test_settings_come_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPBRIDGE_TIMEOUT", "2.5")
    monkeypatch.setenv("LOOPBRIDGE_ERROR_HANDLERS", "no")
    monkeypatch.setenv("LOOPBRIDGE_STATS_URL", "/_lb")
    app = Flask("env")
    LoopBridge(app)
    assert LoopBridge.settings(app).timeout == 2.5
    assert LoopBridge.settings(app).stats_url == "/_lb"
    from async_core import Overloaded

    assert Overloaded not in (app.error_handler_spec.get(None, {}).get(None) or {})


def test_env_nan_timeout_is_refused_at_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPBRIDGE_TIMEOUT", "nan")
    with pytest.raises(ValueError, match="LOOPBRIDGE_TIMEOUT"):
        LoopBridge(Flask("env"))


# -- the stats endpoint --------------------------------------------------------------------------
def stats_app(**config: Any) -> Flask:
    app = Flask("stats")
    app.config.update(LOOPBRIDGE_STATS_URL="/_lb", **config)
    LoopBridge(app)
    bridge.run(asyncio.sleep(0))  # a running loop, so the figures are real
    return app


def test_stats_are_served_to_loopback_only_by_default() -> None:
    client = stats_app().test_client()
    assert client.get("/_lb", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/_lb", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    refused = client.get("/_lb", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert refused.status_code == 403 and "LOOPBRIDGE_STATS_ALLOW" in refused.get_json()["detail"]
    # a reverse proxy on this host makes every client look local: refused unless allowed on purpose
    proxied = client.get("/_lb", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403


def test_stats_allow_takes_networks_or_a_callable() -> None:
    by_net = stats_app(LOOPBRIDGE_STATS_ALLOW=["10.0.0.0/8"]).test_client()
    assert by_net.get("/_lb", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert by_net.get("/_lb", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 403
    by_call = stats_app(LOOPBRIDGE_STATS_ALLOW=lambda req: req.headers.get("X-Token") == "s3cret").test_client()
    assert by_call.get("/_lb", headers={"X-Token": "s3cret"}).status_code == 200
    assert by_call.get("/_lb").status_code == 403


def test_stats_show_no_source_paths_unless_asked() -> None:
    def paths_in(data: Any) -> list[str]:
        # directories a stack frame's file lives in: this checkout, and the interpreter's own
        import sysconfig

        roots = {str(Path(__file__).resolve().parents[2]), sysconfig.get_paths()["stdlib"],
                 sysconfig.get_paths()["purelib"], "site-packages"}
        text = repr(data)
        return [root for root in roots if root in text]

    hidden = stats_app().test_client().get("/_lb").get_json()
    shown_app = stats_app(LOOPBRIDGE_STATS_SOURCE=True)
    default_loop().call_soon(time.sleep, 0.7)  # a stall: the report carries paths
    assert _eventually(lambda: (stats_app().test_client().get("/_lb").get_json()["lag"] or {}).get("stalls", 0) >= 1)
    shown = shown_app.test_client().get("/_lb").get_json()
    hidden_after = stats_app().test_client().get("/_lb").get_json()
    assert paths_in(shown), "the opt-in keeps full paths"
    assert not paths_in(hidden) and not paths_in(hidden_after)
    assert hidden_after["lag"]["stalls"] >= 1


# -- per-endpoint figures (for `loopbridge report --stats`) ------------------------------------------
def figures_app(**config: Any) -> Flask:
    app = Flask("figures")
    app.config.update(config)

    @app.get("/sync")
    def sync_view() -> str:
        bridge.run(asyncio.sleep(0.05))  # a legacy view that bridges one call
        return "s"

    @app.get("/async")
    async def async_view() -> str:
        await asyncio.sleep(0.02)
        return "a"

    @app.get("/block")
    async def block_view() -> str:
        time.sleep(0.7)  # a stall of the loop while this request is in flight
        return "b"

    @app.get("/plain")
    def plain_view() -> str:
        return "p"

    LoopBridge(app)
    return app


def test_per_endpoint_figures_are_served_with_the_stats() -> None:
    client = figures_app(LOOPBRIDGE_STATS_URL="/_lb", LOOPBRIDGE_WATCHDOG_MS=200).test_client()
    for _ in range(3):
        assert client.get("/sync").status_code == 200
    assert client.get("/async").status_code == 200
    assert client.get("/plain").status_code == 200
    assert client.get("/block").status_code == 200
    assert client.get("/nowhere").status_code == 404
    # the watchdog reports the stall once the loop runs again: wait for it (bounded)
    assert _eventually(lambda: client.get("/_lb").get_json()["endpoints"]["block_view"]["stalls"] >= 1)
    endpoints = client.get("/_lb").get_json()["endpoints"]
    sync, plain = endpoints["sync_view"], endpoints["plain_view"]
    assert sync["requests"] == 3 and sync["bridged_calls"] == 3
    assert 150 <= sync["bridged_ms"] <= sync["total_ms"]
    assert plain["requests"] == 1 and plain["bridged_ms"] == 0 and plain["bridged_calls"] == 0
    assert endpoints["async_view"]["bridged_calls"] == 1 and endpoints["async_view"]["bridged_ms"] >= 15  # a 20 ms sleep
    assert endpoints["block_view"]["stalls"] >= 1 and sync["stalls"] == 0
    assert set(sync) == {"requests", "total_ms", "bridged_ms", "bridged_calls", "stalls"}


def test_no_per_endpoint_figures_without_the_stats_endpoint() -> None:
    app = figures_app()
    assert app.test_client().get("/sync").status_code == 200
    assert LoopBridge.settings(app).endpoints is None


def test_an_app_with_its_own_globals_class_works_with_every_setting(upstream: Upstream) -> None:
    class CustomGlobals:  # no pop(), no __contains__: only attributes (Flask allows this)
        def __init__(self) -> None:
            self.spam = "eggs"

    app = Flask("globals")
    app.app_ctx_globals_class = CustomGlobals  # type: ignore[assignment]
    app.config.update(LOOPBRIDGE_HTTP={"retries": 1}, LOOPBRIDGE_STATS_URL="/_lb")

    @app.get("/")
    def index() -> str:
        return str(bridge.http.get(upstream.url("/delay/0"), timeout=5).status_code) + flask_g_spam()

    LoopBridge(app)
    with app.app_context():
        assert flask_g_spam() == "eggs"
    assert app.test_client().get("/").get_data(as_text=True) == "200eggs"


def flask_g_spam() -> str:
    from flask import g

    return str(g.spam)
