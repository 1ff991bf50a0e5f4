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
``LOOPBRIDGE_ERROR_HANDLERS``     ``True``   map Overloaded/LoopNotRunning → 503, BridgeTimeout → 504
================================  =========  ===================================================
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import inspect
import ipaddress
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from flask import Flask, current_app, g, has_app_context, jsonify, request

from async_core import BridgeTimeout, LoopNotRunning, Overloaded, configure_default, default_loop
from async_core._config import KNOWN_ENV, warn_unknown_env
from async_core._validate import check_bool, check_int, check_seconds, parse_bool
from async_core.http import HttpConfig, reset_http_config, use_http_config

from ._calls import run, start_call_clock, stop_call_clock

__all__ = ["LoopBridge"]

logger = logging.getLogger(__name__)

#: Flask/env keys that shape the process's one loop -> LoopConfig field
_PROCESS_KEYS = {
    "LOOPBRIDGE_UVLOOP": "use_uvloop",
    "LOOPBRIDGE_WATCHDOG_MS": "watchdog_ms",
    "LOOPBRIDGE_STRICT": "strict",
}
_APP_KEYS = (
    "LOOPBRIDGE_TIMEOUT", "LOOPBRIDGE_MAX_INFLIGHT", "LOOPBRIDGE_QUEUE_TIMEOUT", "LOOPBRIDGE_HTTP",
    "LOOPBRIDGE_STATS_URL", "LOOPBRIDGE_STATS_ALLOW", "LOOPBRIDGE_STATS_SOURCE", "LOOPBRIDGE_ERROR_HANDLERS",
)
_KNOWN_KEYS = frozenset((*_PROCESS_KEYS, *_APP_KEYS, *KNOWN_ENV))
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s\"'<>:|]+[\\/])+([^\s\"'<>:|\\/]+\.py)")
_MISSING = object()
#: finished requests kept to attribute a stall reported after them (per app)
_RECENT_REQUESTS = 2048
#: the process-wide values set by each app, to warn when a second app changes them
_process_owner: dict[str, tuple[str, Any]] = {}
_process_lock = threading.Lock()


class _AppLimit:
    """One app's bound on bridged calls in flight (``LOOPBRIDGE_MAX_INFLIGHT``)."""

    __slots__ = ("limit", "queue_timeout", "_slots")

    def __init__(self, limit: int, queue_timeout: float) -> None:
        self.limit, self.queue_timeout = limit, queue_timeout
        self._slots = threading.BoundedSemaphore(limit)

    def acquire(self, timeout: float | None) -> None:
        wait = self.queue_timeout if timeout is None else min(self.queue_timeout, timeout)
        if not self._slots.acquire(timeout=wait):
            raise Overloaded(
                f"this app already runs LOOPBRIDGE_MAX_INFLIGHT={self.limit} bridged calls and none "
                f"finished within {wait:g}s; retry later, or raise LOOPBRIDGE_MAX_INFLIGHT / "
                "LOOPBRIDGE_QUEUE_TIMEOUT for this app."
            )

    def release(self) -> None:
        self._slots.release()


class _EndpointFigures:
    """Per-endpoint figures of one app, kept only while its stats endpoint is on.

    For each Flask endpoint: requests served, their summed wall time, the part of it spent
    waiting in bridged calls (``bridge.run``, ``bridge.http.*``, async views), the number of
    those calls, and the watchdog stalls that overlapped one of its requests (a stall is
    reported when it ends, often after the request that suffered it: the last few seconds of
    requests are kept to attribute it).
    """

    __slots__ = ("__weakref__", "_active", "_lock", "_next", "_recent", "_rows", "_watched")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, list[float]] = {}
        self._active: dict[int, tuple[str, float]] = {}
        self._recent: collections.deque[tuple[str, float, float]] = collections.deque(maxlen=_RECENT_REQUESTS)
        self._next = 0
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()

    def begin(self, endpoint: str, watchdog: Any) -> int:
        """A request to ``endpoint`` starts; returns its ticket for :meth:`end`."""
        if watchdog is not None and watchdog not in self._watched:
            with self._lock:
                if watchdog not in self._watched:
                    self._watched.add(watchdog)
                    watchdog.add_callback(self.on_stall)
        with self._lock:
            self._next += 1
            self._active[self._next] = (endpoint, time.time())
            return self._next

    def end(self, ticket: int, total_s: float, bridged_s: float, calls: float) -> None:
        with self._lock:
            endpoint, started = self._active.pop(ticket)
            self._recent.append((endpoint, started, time.time()))
            row = self._rows.get(endpoint)
            if row is None:
                row = self._rows[endpoint] = [0, 0.0, 0.0, 0, 0]
            row[0] += 1
            row[1] += total_s
            row[2] += bridged_s
            row[3] += calls

    def on_stall(self, report: Any) -> None:
        """Watchdog callback (monitor thread): count the stall for each endpoint it overlapped."""
        start = report.started_at
        end = start + report.duration_ms / 1000.0 if not report.ongoing else time.time()
        with self._lock:
            hit = {ep for ep, s in self._active.values() if s <= end}
            hit |= {ep for ep, s, e in self._recent if s <= end and e >= start}
            for endpoint in hit:
                row = self._rows.setdefault(endpoint, [0, 0.0, 0.0, 0, 0])
                row[4] += 1

    def as_dict(self) -> dict[str, dict[str, float]]:
        with self._lock:
            rows = {k: list(v) for k, v in self._rows.items()}
        return {
            endpoint: {"requests": int(n), "total_ms": round(total * 1000, 3), "bridged_ms": round(bridged * 1000, 3),
                       "bridged_calls": int(calls), "stalls": int(stalls)}
            for endpoint, (n, total, bridged, calls, stalls) in sorted(rows.items())
        }


@dataclasses.dataclass(frozen=True)
class _AppSettings:
    """What the extension needs per app at request time (no reference to the app itself)."""

    timeout: float | None = None
    limit: _AppLimit | None = None
    http: HttpConfig | None = None
    stats_url: str | None = None
    stats_allow: Callable[[Any], bool] | tuple[Any, ...] = _LOOPBACK
    stats_allow_set: bool = False
    stats_source: bool = False
    endpoints: _EndpointFigures | None = None


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
            TypeError / ValueError: a bad ``LOOPBRIDGE_*`` value (the message names the key).
        """
        if not isinstance(app, Flask):
            raise TypeError(f"LoopBridge.init_app() needs a Flask app, got {type(app).__name__}.")
        _warn_unknown_keys(app)
        settings = _read_settings(app)
        _apply_process_config(app)
        first = not isinstance(app.extensions.get("loopbridge"), _AppSettings)
        app.extensions["loopbridge"] = settings
        app.ensure_sync = _ensure_sync  # type: ignore[method-assign]
        app.async_to_sync = _async_to_sync  # type: ignore[method-assign]
        if first:
            app.before_request(_enter_request)
            app.teardown_request(_leave_request)
        if _setting(app, "LOOPBRIDGE_ERROR_HANDLERS", True, check_bool):
            app.register_error_handler(Overloaded, _overloaded)
            app.register_error_handler(LoopNotRunning, _overloaded)
            app.register_error_handler(BridgeTimeout, _timed_out)
        if settings.stats_url and "loopbridge_stats" not in app.view_functions:
            app.add_url_rule(settings.stats_url, "loopbridge_stats", _stats_view)

    @staticmethod
    def settings(app: Flask) -> Any:
        """The extension's per-app settings (raises ``KeyError`` if not installed)."""
        return app.extensions["loopbridge"]


# -- reading the settings ---------------------------------------------------------------------
def _setting(app: Flask, key: str, default: Any, check: Callable[[str, Any], Any]) -> Any:
    """``app.config[key]``, else the environment variable ``key`` (parsed), else ``default``."""
    value = app.config.get(key, _MISSING)
    if value is _MISSING:
        raw = os.environ.get(key)
        if raw is None:
            return default
        value = _parse_env_value(key, raw)
    return check(key, value)


def _parse_env_value(key: str, raw: str) -> Any:
    text = raw.strip()
    if text.lower() in ("", "none", "null"):
        return None
    if key in ("LOOPBRIDGE_ERROR_HANDLERS", "LOOPBRIDGE_STATS_SOURCE", "LOOPBRIDGE_STRICT"):
        return parse_bool(key, text)
    if key in ("LOOPBRIDGE_STATS_URL",):
        return text
    if key == "LOOPBRIDGE_STATS_ALLOW":
        return [part.strip() for part in text.split(",") if part.strip()]
    if key == "LOOPBRIDGE_UVLOOP":
        return None if text.lower() == "auto" else parse_bool(key, text)
    if key == "LOOPBRIDGE_HTTP":
        raise ValueError("LOOPBRIDGE_HTTP cannot come from the environment; set it in app.config as a dict.")
    try:
        return int(text) if key == "LOOPBRIDGE_MAX_INFLIGHT" else float(text)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a number; unset it or give a number.") from None


def _check_http(key: str, value: Any) -> HttpConfig | None:
    if value is None or isinstance(value, HttpConfig):
        return value
    if isinstance(value, Mapping):
        try:
            return HttpConfig().replace(**dict(value))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{key}: {exc}") from None
    raise TypeError(f"{key} must be a dict of HttpConfig fields or an HttpConfig, not {type(value).__name__}.")


def _check_allow(key: str, value: Any) -> Callable[[Any], bool] | tuple[Any, ...]:
    if callable(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"{key} must be a list of networks (e.g. ['10.0.0.0/8']) or a callable (request) -> bool.")
    try:
        return tuple(ipaddress.ip_network(str(net), strict=False) for net in value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}; give networks such as '127.0.0.1/32' or '10.0.0.0/8'.") from None


def _check_stats_url(key: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.startswith("/")):
        raise ValueError(f"{key} must be a path starting with '/', got {value!r}.")
    return value  # type: ignore[no-any-return]


def _read_settings(app: Flask) -> _AppSettings:
    timeout = _setting(app, "LOOPBRIDGE_TIMEOUT", None, functools.partial(check_seconds, allow_none=True))
    limit_n = _setting(app, "LOOPBRIDGE_MAX_INFLIGHT", None,
                       lambda k, v: None if v is None else check_int(k, v, minimum=1))
    queue_timeout = _setting(app, "LOOPBRIDGE_QUEUE_TIMEOUT", 1.0, functools.partial(check_seconds, allow_zero=True))
    allow_set = "LOOPBRIDGE_STATS_ALLOW" in app.config or "LOOPBRIDGE_STATS_ALLOW" in os.environ
    return _AppSettings(
        timeout=timeout,
        limit=_AppLimit(limit_n, queue_timeout) if limit_n is not None else None,
        http=_setting(app, "LOOPBRIDGE_HTTP", None, _check_http),
        stats_url=_setting(app, "LOOPBRIDGE_STATS_URL", None, _check_stats_url),
        stats_allow=_setting(app, "LOOPBRIDGE_STATS_ALLOW", _LOOPBACK, _check_allow),
        stats_allow_set=allow_set,
        stats_source=_setting(app, "LOOPBRIDGE_STATS_SOURCE", False, check_bool),
        endpoints=_EndpointFigures() if "LOOPBRIDGE_STATS_URL" in app.config or "LOOPBRIDGE_STATS_URL" in os.environ else None,
    )


def _warn_unknown_keys(app: Flask) -> None:
    warn_unknown_env()
    for key in sorted(app.config):
        if key.startswith("LOOPBRIDGE_") and key not in _KNOWN_KEYS:
            logger.warning("loopbridge: app.config[%r] is not a loopbridge setting and is ignored; known keys: %s.",
                           key, ", ".join(sorted(_KNOWN_KEYS)))


def _apply_process_config(app: Flask) -> None:
    changes: dict[str, Any] = {}
    for key, field in _PROCESS_KEYS.items():
        if key in app.config:  # the environment is read by LoopConfig.from_env itself
            changes[field] = app.config[key]
    if not changes:
        return
    current = default_loop().config
    try:
        wanted = current.replace(**changes)
    except (TypeError, ValueError) as exc:
        key = next((k for k, f in _PROCESS_KEYS.items() if f in str(exc)), "LOOPBRIDGE_*")
        raise type(exc)(f"invalid {key} in app.config: {exc}") from None
    with _process_lock:
        for key, field in _PROCESS_KEYS.items():
            if field not in changes:
                continue
            owner = _process_owner.get(key)
            if owner is not None and owner[0] != app.name and owner[1] != changes[field]:
                logger.warning(
                    "loopbridge: %s is per process (one loop thread per process); app %r sets %r, "
                    "replacing %r set by app %r.", key, app.name, changes[field], owner[1], owner[0],
                )
            _process_owner[key] = (app.name, changes[field])
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


# -- per request --------------------------------------------------------------------------------
def _enter_request() -> None:
    """Use the app's ``LOOPBRIDGE_HTTP`` for this request; start its figures when they are on."""
    settings = _settings()
    if settings.http is not None:
        g._loopbridge_http_token = use_http_config(settings.http)
    rule = request.url_rule
    if settings.endpoints is not None and rule is not None and rule.endpoint is not None:
        ticket = settings.endpoints.begin(rule.endpoint, default_loop().watchdog)
        token, clock = start_call_clock()
        g._loopbridge_figures = (settings.endpoints, ticket, token, clock, time.perf_counter())


def _leave_request(_error: BaseException | None) -> None:
    for name in ("_loopbridge_http_token", "_loopbridge_figures"):
        value = g.pop(name, None)
        if value is None:
            continue
        try:
            if name == "_loopbridge_http_token":
                reset_http_config(value)
            else:
                _record(*value)
        except ValueError:  # set in another context (a copied one); it dies with that context
            pass


def _record(figures: _EndpointFigures, ticket: int, token: Any, clock: list[float], started: float) -> None:
    stop_call_clock(token)
    figures.end(ticket, time.perf_counter() - started, clock[0], clock[1])


def _ensure_sync(func: Callable[..., Any]) -> Callable[..., Any]:
    """``Flask.ensure_sync`` replacement: coroutine functions go to the shared loop."""
    if inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(getattr(func, "__call__", None)):
        return _async_to_sync(func)
    return func


def _async_to_sync(func: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """``Flask.async_to_sync`` replacement: run the coroutine with :func:`bridge.run`."""

    @functools.wraps(func)
    def runner(*args: Any, **kwargs: Any) -> Any:
        settings = _settings()
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


# -- the stats endpoint -------------------------------------------------------------------------
def _stats_allowed(settings: _AppSettings) -> bool:
    allow = settings.stats_allow
    if callable(allow):
        return bool(allow(request))
    if not settings.stats_allow_set and ("X-Forwarded-For" in request.headers or "Forwarded" in request.headers):
        # a proxy on this host makes every client look local: refuse unless allowed on purpose
        return False
    try:
        peer = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        return False
    return any(peer in net for net in allow)


def _strip_sources(value: Any) -> Any:
    """The stats with every file path cut to its base name (``app/views.py:12`` → ``views.py:12``)."""
    if isinstance(value, dict):
        return {k: _strip_sources(v) for k, v in value.items() if k not in ("source", "code", "line_text")}
    if isinstance(value, list):
        return [_strip_sources(v) for v in value]
    if isinstance(value, str):
        return _PATH.sub(lambda m: m.group(1), value)
    return value


def _stats_view() -> Any:
    from ._stats import collect_stats

    settings = _settings()
    if not _stats_allowed(settings):
        body = jsonify(error="Forbidden", detail="the loopbridge stats are served to loopback clients only; "
                       "set LOOPBRIDGE_STATS_ALLOW to widen it.")
        return body, 403
    data = collect_stats(default_loop())
    if settings.endpoints is not None:
        data["endpoints"] = settings.endpoints.as_dict()
    if not settings.stats_source:
        data = _strip_sources(data)
    return jsonify(data)


def _loop_config_keys() -> dict[str, str]:
    """The Flask config keys that configure the process's loop (for docs and the CLI)."""
    return dict(_PROCESS_KEYS)
