"""The Flask extension: ``async def`` views, hooks and error handlers on the shared loop.

Flask runs an ``async def`` view through ``app.ensure_sync`` → ``app.async_to_sync``, which by
default is asgiref's ``async_to_sync``: a new event loop (in a new thread) per call, so nothing
— connection pools, background tasks — outlives a request. ``LoopBridge`` overrides both
documented hooks on the app so every coroutine Flask would run goes through :func:`bridge.run`
to the process's one loop thread instead. Sync views are returned untouched.

The overrides are plain module functions stored on the app, and the per-app settings are a
value object in ``app.extensions["loopbridge"]``; nothing here refers back to the app, so an
app is still freed when its last reference goes.

Config keys (read at ``init_app`` from ``app.config``, else from the environment variable of
the same name; an unknown ``LOOPBRIDGE_*`` key in either is warned about). Per app unless
marked *process*: the loop and its thread are one per process, so the keys that shape them
apply to the whole process (a second app setting a different value replaces it, with a
warning).

================================  =========  ===================================================
``LOOPBRIDGE_TIMEOUT``            ``None``   seconds an async view/hook may run (``BridgeTimeout``
                                             → HTTP 504); ``None`` waits for ever
``LOOPBRIDGE_MAX_INFLIGHT``       ``None``   this app's bound on bridged calls in flight (async
                                             views/hooks); ``None``: only the loop's own bound
``LOOPBRIDGE_QUEUE_TIMEOUT``      ``1.0``    seconds a request waits for one of those slots, then
                                             HTTP 503 (never longer than ``LOOPBRIDGE_TIMEOUT``)
``LOOPBRIDGE_HTTP``               ``None``   this app's HTTP settings for ``bridge.http``: a dict
                                             of ``HttpConfig`` fields, or an ``HttpConfig``
``LOOPBRIDGE_UVLOOP``             ``None``   *process*: ``True``/``False``/``None`` (auto)
``LOOPBRIDGE_WATCHDOG_MS``        ``500``    *process*: stall threshold; ``0`` turns it off
``LOOPBRIDGE_STRICT``             ``False``  *process*: a stall fails the waiting calls
``LOOPBRIDGE_STATS_URL``          ``None``   e.g. ``"/_loopbridge/stats"``: opt-in JSON stats
``LOOPBRIDGE_STATS_ALLOW``        loopback   who may read the stats: networks (``["10.0.0.0/8"]``)
                                             or a callable ``(request) -> bool``
``LOOPBRIDGE_STATS_SOURCE``       ``False``  include file paths and source lines in the stats
``LOOPBRIDGE_STATS_SAMPLE_MS``    ``50``     with the stats on: sample the stacks of the threads
                                             serving requests every N ms (``"blocked"``); ``0`` off
``LOOPBRIDGE_ERROR_HANDLERS``     ``True``   map Overloaded/LoopNotRunning → 503, BridgeTimeout → 504
================================  =========  ===================================================
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import types
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from flask import Flask, appcontext_pushed, current_app, g, jsonify, request

from async_core import BridgeTimeout, LoopNotRunning, Overloaded
from async_core._stall import stall_route
from async_core._validate import check_bool
from async_core.http import reset_http_config, use_http_config

from ._calls import run, start_call_clock, stop_call_clock
from ._flask_settings import (
    AppSettings,
    apply_process_config,
    current_settings,
    read_settings,
    setting,
    warn_unknown_keys,
)
from ._flask_stats import EndpointFigures, stats_view

__all__ = ["LoopBridge"]

logger = logging.getLogger(__name__)

#: the endpoint of the stats view: its own requests are not counted among the app's routes
_STATS_ENDPOINT = "loopbridge_stats"

class LoopBridge:
    """Run a Flask app's coroutines on the process's shared loop thread.

    Example::

        app = Flask(__name__)
        app.config["LOOPBRIDGE_TIMEOUT"] = 10            # this app's own settings
        app.config["LOOPBRIDGE_HTTP"] = {"timeout": (3, 10), "block_private": True}
        LoopBridge(app)                  # or: lb = LoopBridge(); lb.init_app(app)

        @app.get("/live")
        async def live():                # runs on the shared loop; sessions survive requests
            ...

    Nothing starts at ``init_app`` (gunicorn ``--preload`` imports the app in the master and
    forks); the loop thread starts with the first bridged call in each worker.
    """

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install the extension on ``app`` (idempotent).

        Raises:
            TypeError, ValueError: a bad ``LOOPBRIDGE_*`` value (the message names the key).
        """
        if not isinstance(app, Flask):
            raise TypeError(f"LoopBridge.init_app() needs a Flask app, got {type(app).__name__}.")
        warn_unknown_keys(app)
        settings = read_settings(app)
        apply_process_config(app)
        first = not isinstance(app.extensions.get("loopbridge"), AppSettings)
        app.extensions["loopbridge"] = settings
        app.ensure_sync = _ensure_sync  # type: ignore[method-assign]
        app.async_to_sync = _async_to_sync  # type: ignore[method-assign]
        if first:
            app.before_request(_enter_request)
            app.teardown_request(_leave_request)
            appcontext_pushed.connect(_enter_app_context, app)
            app.teardown_appcontext(_leave_app_context)
        if setting(app, "LOOPBRIDGE_ERROR_HANDLERS", True, check_bool):
            app.register_error_handler(Overloaded, _overloaded)
            app.register_error_handler(LoopNotRunning, _overloaded)
            app.register_error_handler(BridgeTimeout, _timed_out)
        if settings.stats_url and _STATS_ENDPOINT not in app.view_functions:
            app.add_url_rule(settings.stats_url, _STATS_ENDPOINT, stats_view)
        if settings.metrics_url and "loopbridge_metrics" not in app.view_functions:
            from ._prometheus import metrics_view

            app.add_url_rule(settings.metrics_url, "loopbridge_metrics", metrics_view)

    @staticmethod
    def settings(app: Flask) -> Any:
        """The extension's per-app settings (raises ``KeyError`` if not installed)."""
        return app.extensions["loopbridge"]


# -- per request --------------------------------------------------------------------------------
def _enter_app_context(app: Flask, **_extra: Any) -> None:
    """``appcontext_pushed`` receiver: ``bridge.http`` calls in this context use the app's
    ``LOOPBRIDGE_HTTP`` (a request, a CLI command, or code under ``app.app_context()``)."""
    settings = app.extensions.get("loopbridge")
    if isinstance(settings, AppSettings) and settings.http is not None:
        g._loopbridge_http_token = use_http_config(settings.http)


def _leave_app_context(_error: BaseException | None) -> None:
    token = _take(g, "_loopbridge_http_token")
    if token is not None:
        try:
            reset_http_config(token)
        except ValueError:  # set in another context (a copied one); it dies with that context
            pass


def _take(namespace: Any, name: str) -> Any:
    """Remove and return ``name`` from ``g`` (``None`` if absent). Not ``g.pop``: an app may set
    its own ``app_ctx_globals_class`` without one (Flask's own tests do)."""
    value = getattr(namespace, name, None)
    if value is not None:
        delattr(namespace, name)
    return value


def _enter_request() -> None:
    """Name the request for stall reports, and start its figures when they are on."""
    settings = current_app.extensions["loopbridge"]  # always there: this hook is the extension's
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup, not four
    rule = req.url_rule
    if rule is None:  # a 404 or 405: no endpoint to name or count under
        return
    route_token = stall_route.set(f"{req.method} {rule.rule} (endpoint {rule.endpoint})")
    figures = settings.endpoints
    if figures is None or rule.endpoint is None or rule.endpoint == _STATS_ENDPOINT:  # not a route of the app
        g._loopbridge_request = (route_token, None)
        return
    clock_token, clock = start_call_clock()
    sampler = settings.sampler
    if sampler is not None:
        sampler.enter(rule.endpoint)
    g._loopbridge_request = (route_token, (figures, rule.endpoint, clock_token, clock, time.perf_counter()), sampler)


def _leave_request(_error: BaseException | None) -> None:
    state = _take(g, "_loopbridge_request")
    if state is None:
        return
    route_token, figures, *rest = state
    if rest and rest[0] is not None:
        rest[0].leave()
    try:
        if figures is not None:
            _record(*figures)
        stall_route.reset(route_token)
    except ValueError:  # set in another context (a copied one); it dies with that context
        pass


def _record(figures: EndpointFigures, endpoint: str, token: Any, clock: list[float], started: float) -> None:
    stop_call_clock(token)
    figures.add(endpoint, time.perf_counter() - started, clock[0], clock[1])


def _ensure_sync(func: Callable[..., Any]) -> Callable[..., Any]:
    """``Flask.ensure_sync`` replacement: coroutine functions go to the shared loop.

    Flask asks this for every view and hook of every request; the verdict for a plain function
    is remembered (weakly), so a sync view costs one lookup instead of two inspections.
    """
    if type(func) is types.FunctionType:
        known = _SYNC_FUNCTIONS.get(func)
        if known is None:
            known = _SYNC_FUNCTIONS[func] = not inspect.iscoroutinefunction(func)
        return func if known else _async_to_sync(func)
    if inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(getattr(func, "__call__", None)):
        return _async_to_sync(func)
    return func


#: plain function -> True when it is sync (the common case of every Flask view and hook)
_SYNC_FUNCTIONS: weakref.WeakKeyDictionary[Callable[..., Any], bool] = weakref.WeakKeyDictionary()


def _async_to_sync(func: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """``Flask.async_to_sync`` replacement: run the coroutine with :func:`bridge.run`."""

    @functools.wraps(func)
    def runner(*args: Any, **kwargs: Any) -> Any:
        settings = current_settings()
        limit = settings.limit
        if limit is None:
            return run(func(*args, **kwargs), timeout=settings.timeout)
        limit.acquire(settings.timeout)  # before the coroutine exists: nothing to close on refusal
        try:
            return run(func(*args, **kwargs), timeout=settings.timeout)
        finally:
            limit.release()

    return runner


def _overloaded(error: Exception) -> Any:
    logger.warning("loopbridge: answering 503 to %s %s: %s", request.method, request.path, error)
    return _error_response(503, "Service Unavailable", error, {"Retry-After": "1"})


def _timed_out(error: Exception) -> Any:
    logger.warning("loopbridge: answering 504 to %s %s: %s", request.method, request.path, error)
    return _error_response(504, "Gateway Timeout", error, {})


def _error_response(status: int, title: str, error: Exception, headers: dict[str, str]) -> Any:
    if request.accept_mimetypes.best == "application/json" or request.is_json:
        body: Any = jsonify(error=title, detail=str(error), type=type(error).__name__)
    else:
        body = f"{status} {title}: {error}\n"
    return body, status, headers
