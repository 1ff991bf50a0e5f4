"""LoopBridge: async views, hooks and handlers on the shared loop; sync views untouched."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import time
import weakref
from typing import Any

import aiohttp
import pytest
from flask import Blueprint, Flask, current_app, g, jsonify, request
from flask.views import MethodView, View

from async_core import default_loop
from bridge import LoopBridge
from tests.conftest import Upstream

pytestmark = pytest.mark.usefixtures("fresh_loop")

trace: contextvars.ContextVar[str] = contextvars.ContextVar("trace")


def make_app(**config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(TESTING=True, **config)
    LoopBridge(app)
    return app


def test_extension_registers_itself_and_supports_init_app() -> None:
    ext = LoopBridge()
    app = Flask(__name__)
    ext.init_app(app)
    assert "loopbridge" in app.extensions
    assert LoopBridge.settings(app).timeout is None
    with pytest.raises(TypeError, match="Flask app"):
        ext.init_app(object())  # type: ignore[arg-type]


def test_init_app_does_not_start_the_loop() -> None:
    lt = default_loop()
    app = make_app(LOOPBRIDGE_MAX_INFLIGHT=64)
    assert lt.thread_ident is None
    assert LoopBridge.settings(app).limit.limit == 64  # the app's own bound, not the process's
    assert lt.config.max_inflight == 1024


def test_bad_config_values_are_refused_at_init_app() -> None:
    with pytest.raises(ValueError, match="LOOPBRIDGE_TIMEOUT"):
        make_app(LOOPBRIDGE_TIMEOUT=-2)
    with pytest.raises(ValueError, match="LOOPBRIDGE_"):
        make_app(LOOPBRIDGE_MAX_INFLIGHT=0)
    with pytest.raises(ValueError, match="LOOPBRIDGE_STATS_URL"):
        make_app(LOOPBRIDGE_STATS_URL="stats")


def test_async_view_runs_on_the_shared_loop_with_request_g_and_app() -> None:
    app = make_app()

    @app.before_request
    def set_user() -> None:
        g.user = "alice"

    @app.get("/live")
    async def live() -> Any:
        await asyncio.sleep(0)
        return jsonify(
            thread=threading.current_thread().name,
            arg=request.args["q"],
            user=g.user,
            app=current_app.name,
            loop=id(asyncio.get_running_loop()),
        )

    client = app.test_client()
    first = client.get("/live?q=1").get_json()
    second = client.get("/live?q=2").get_json()
    assert first["thread"] == "loopbridge-loop"
    assert (first["arg"], second["arg"], first["user"], first["app"]) == ("1", "2", "alice", app.name)
    assert first["loop"] == second["loop"] == id(default_loop().loop)


def test_sync_views_behave_exactly_as_without_the_extension() -> None:
    app = make_app()

    def sync_view() -> str:
        return threading.current_thread().name

    app.add_url_rule("/sync", view_func=sync_view)
    assert app.ensure_sync(sync_view) is sync_view
    assert app.test_client().get("/sync").get_data(as_text=True) == threading.current_thread().name
    assert default_loop().thread_ident is None  # a sync-only app never starts the loop


def test_aiohttp_session_kept_on_the_loop_is_reused_across_requests(upstream: Upstream) -> None:
    app = make_app()
    sessions: list[int] = []

    async def shared_session() -> aiohttp.ClientSession:
        lt = default_loop()
        session = lt.resources.get("test.session")
        if session is None:
            session = aiohttp.ClientSession()
            lt.resources["test.session"] = session
            lt.add_closer(session.close)
        return session  # type: ignore[no-any-return]

    @app.get("/fetch")
    async def fetch() -> Any:
        session = await shared_session()
        sessions.append(id(session))
        async with session.get(upstream.url("/delay/1")) as resp:
            return jsonify(await resp.json())

    before = set(upstream.peers)
    client = app.test_client()
    for _ in range(5):
        assert client.get("/fetch").get_json()["ok"] is True
    assert len(set(sessions)) == 1
    assert len(upstream.peers - before) == 1  # one kept-alive connection served all five


def test_background_task_started_in_a_view_outlives_the_response() -> None:
    app = make_app()
    finished = threading.Event()

    async def background() -> None:
        await asyncio.sleep(0.2)
        finished.set()

    @app.post("/start")
    async def start() -> str:
        asyncio.get_running_loop().create_task(background())
        return "started"

    assert app.test_client().post("/start").get_data(as_text=True) == "started"
    assert not finished.is_set()
    assert finished.wait(3)


def test_blueprints_method_views_hooks_and_error_handlers_run_on_the_loop() -> None:
    app = make_app()
    seen: dict[str, str] = {}
    bp = Blueprint("bp", __name__)

    @bp.get("/bp")
    async def bp_view() -> str:
        return threading.current_thread().name

    class Items(MethodView):
        async def get(self) -> str:
            return threading.current_thread().name

    class Plain(View):
        async def dispatch_request(self) -> str:  # type: ignore[override]
            return threading.current_thread().name

    @app.before_request
    async def before() -> None:
        seen["before"] = threading.current_thread().name
        trace.set("from-async-before-request")

    @app.after_request
    async def after(response: Any) -> Any:
        seen["after"] = threading.current_thread().name
        return response

    @app.get("/sees-hook-context")
    def sync_view_after_async_hook() -> str:
        return trace.get("unset")

    @app.errorhandler(KeyError)
    async def on_key_error(exc: KeyError) -> Any:
        return f"handled on {threading.current_thread().name}", 418

    @app.get("/boom")
    async def boom() -> str:
        raise KeyError("missing")

    app.register_blueprint(bp)
    app.add_url_rule("/items", view_func=Items.as_view("items"))
    app.add_url_rule("/plain", view_func=Plain.as_view("plain"))
    client = app.test_client()
    for path in ("/bp", "/items", "/plain"):
        assert client.get(path).get_data(as_text=True) == "loopbridge-loop", path
    assert seen == {"before": "loopbridge-loop", "after": "loopbridge-loop"}
    assert client.get("/sees-hook-context").get_data(as_text=True) == "from-async-before-request"
    resp = client.get("/boom")
    assert (resp.status_code, resp.get_data(as_text=True)) == (418, "handled on loopbridge-loop")


def test_overloaded_maps_to_503_with_retry_after() -> None:
    app = make_app(LOOPBRIDGE_MAX_INFLIGHT=1, LOOPBRIDGE_QUEUE_TIMEOUT=0.1)
    release = threading.Event()

    @app.get("/hold")
    async def hold() -> str:
        while not release.is_set():
            await asyncio.sleep(0.01)
        return "done"

    holder = threading.Thread(target=lambda: app.test_client().get("/hold"))
    holder.start()
    deadline = time.monotonic() + 5
    while default_loop().inflight < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    resp = app.test_client().get("/hold", headers={"Accept": "application/json"})
    release.set()
    holder.join(5)
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
    assert resp.get_json()["type"] == "Overloaded"


def test_timeout_maps_to_504() -> None:
    app = make_app(LOOPBRIDGE_TIMEOUT=0.1)

    @app.get("/slow")
    async def slow() -> str:
        await asyncio.sleep(5)
        return "late"

    resp = app.test_client().get("/slow")
    assert resp.status_code == 504
    assert "timeout=0.1s" in resp.get_data(as_text=True)


def test_extension_holds_no_reference_cycle_with_the_app() -> None:
    gc.disable()
    try:
        app = make_app()

        @app.get("/x")
        async def x() -> str:
            return "x"

        assert app.test_client().get("/x").status_code == 200
        ref = weakref.ref(app)
        del app, x
        assert ref() is None
    finally:
        gc.enable()


def test_stats_endpoint_is_opt_in() -> None:
    assert make_app().test_client().get("/_loopbridge/stats").status_code == 404
    app = make_app(LOOPBRIDGE_STATS_URL="/_loopbridge/stats")
    stats = app.test_client().get("/_loopbridge/stats").get_json()
    assert stats["max_inflight"] == default_loop().config.max_inflight
    assert "inflight" in stats and "state" in stats
