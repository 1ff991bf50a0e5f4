"""The Flask extension: ``async def`` views, hooks and error handlers on the shared loop.

Flask runs an ``async def`` view through ``app.ensure_sync`` → ``app.async_to_sync``, which by
default is asgiref's ``async_to_sync``: a new event loop (in a new thread) per call, so nothing
— connection pools, background tasks — outlives a request. ``LoopBridge`` overrides both
documented hooks on the app so every coroutine Flask would run goes through :func:`bridge.run`
to the process's one loop thread instead. Sync views are returned untouched.

The overrides are plain module functions stored on the app, and the per-app settings are a
value object in ``app.extensions["loopbridge"]``; nothing here refers back to the app, so an
app is still freed when its last reference goes.

Config keys (read at ``init_app``):

=============================  =========  =====================================================
``LOOPBRIDGE_TIMEOUT``         ``None``   seconds an async view/hook may run (``BridgeTimeout``
                                          → HTTP 504); ``None`` waits for ever
``LOOPBRIDGE_MAX_INFLIGHT``    ``1024``   process-wide bound on bridged calls in flight
``LOOPBRIDGE_QUEUE_TIMEOUT``   ``1.0``    seconds a request waits for a slot, then HTTP 503
``LOOPBRIDGE_UVLOOP``          ``None``   ``True``/``False``/``None`` (auto: when installed)
``LOOPBRIDGE_WATCHDOG_MS``     ``500``    stall threshold of the watchdog; ``0`` turns it off
``LOOPBRIDGE_STRICT``          ``False``  a stall fails the waiting calls with ``LoopStalled``
``LOOPBRIDGE_STATS_URL``       ``None``   e.g. ``"/_loopbridge/stats"``: opt-in JSON stats
``LOOPBRIDGE_ERROR_HANDLERS``  ``True``   map Overloaded/LoopNotRunning → 503, BridgeTimeout → 504
=============================  =========  =====================================================
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from flask import Flask, current_app, has_app_context, jsonify, request

from async_core import BridgeTimeout, LoopNotRunning, Overloaded, configure_default, default_loop

from ._calls import run

__all__ = ["LoopBridge"]

logger = logging.getLogger(__name__)

_LOOP_KEYS = {
    "LOOPBRIDGE_MAX_INFLIGHT": "max_inflight",
    "LOOPBRIDGE_QUEUE_TIMEOUT": "queue_timeout",
    "LOOPBRIDGE_UVLOOP": "use_uvloop",
    "LOOPBRIDGE_WATCHDOG_MS": "watchdog_ms",
    "LOOPBRIDGE_STRICT": "strict",
}


@dataclasses.dataclass(frozen=True)
class _AppSettings:
    """What the extension needs per app at request time (no reference to the app itself)."""

    timeout: float | None = None
    stats_url: str | None = None


class LoopBridge:
    """Run a Flask app's coroutines on the process's shared loop thread.

    Example::

        app = Flask(__name__)
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
        """Install the extension on ``app`` (idempotent)."""
        if not isinstance(app, Flask):
            raise TypeError(f"LoopBridge.init_app() needs a Flask app, got {type(app).__name__}.")
        settings = _read_settings(app)
        _apply_loop_config(app)
        app.extensions["loopbridge"] = settings
        app.ensure_sync = _ensure_sync  # type: ignore[method-assign]
        app.async_to_sync = _async_to_sync  # type: ignore[method-assign]
        if app.config.get("LOOPBRIDGE_ERROR_HANDLERS", True):
            app.register_error_handler(Overloaded, _overloaded)
            app.register_error_handler(LoopNotRunning, _overloaded)
            app.register_error_handler(BridgeTimeout, _timed_out)
        if settings.stats_url:
            app.add_url_rule(settings.stats_url, "loopbridge_stats", _stats_view)

    @staticmethod
    def settings(app: Flask) -> Any:
        """The extension's per-app settings (raises ``KeyError`` if not installed)."""
        return app.extensions["loopbridge"]


def _read_settings(app: Flask) -> _AppSettings:
    timeout = app.config.get("LOOPBRIDGE_TIMEOUT")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        raise ValueError(f"LOOPBRIDGE_TIMEOUT must be a number of seconds > 0 or None, got {timeout!r}.")
    stats_url = app.config.get("LOOPBRIDGE_STATS_URL")
    if stats_url is not None and (not isinstance(stats_url, str) or not stats_url.startswith("/")):
        raise ValueError(f"LOOPBRIDGE_STATS_URL must be a path starting with '/', got {stats_url!r}.")
    return _AppSettings(timeout=timeout, stats_url=stats_url)


def _apply_loop_config(app: Flask) -> None:
    changes = {field: app.config[key] for key, field in _LOOP_KEYS.items() if key in app.config}
    if not changes:
        return
    current = default_loop().config
    try:
        wanted = current.replace(**changes)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid LOOPBRIDGE_* setting in app.config: {exc}") from exc
    if wanted != current:
        configure_default(wanted)
        logger.debug("loopbridge: loop configured from app %r: %r", app.name, wanted)


def _settings() -> _AppSettings:
    if has_app_context():
        found = current_app.extensions.get("loopbridge")
        if isinstance(found, _AppSettings):
            return found
    return _DEFAULT_SETTINGS


_DEFAULT_SETTINGS = _AppSettings()


def _ensure_sync(func: Callable[..., Any]) -> Callable[..., Any]:
    """``Flask.ensure_sync`` replacement: coroutine functions go to the shared loop."""
    if inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(getattr(func, "__call__", None)):
        return _async_to_sync(func)
    return func


def _async_to_sync(func: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """``Flask.async_to_sync`` replacement: run the coroutine with :func:`bridge.run`."""

    @functools.wraps(func)
    def runner(*args: Any, **kwargs: Any) -> Any:
        return run(func(*args, **kwargs), timeout=_settings().timeout)

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


def _stats_view() -> Any:
    from ._stats import collect_stats

    return jsonify(collect_stats(default_loop()))


def _loop_config_keys() -> dict[str, str]:
    """The Flask config keys that configure the process's loop (for docs and the CLI)."""
    return dict(_LOOP_KEYS)

