"""The Flask extension's settings: read, validated and kept per app (``app.extensions``).

Every ``LOOPBRIDGE_*`` key is read from ``app.config``, else from the environment variable of the
same name, and validated with the project's one set of validators; a bad value raises at
``init_app`` naming the key. The keys that shape the process's one loop are applied to it (a
second app changing one is warned about); the rest stay with the app.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_app_context

from async_core import Overloaded, configure_default, default_loop
from async_core._config import KNOWN_ENV, warn_unknown_env
from async_core._validate import check_bool, check_int, check_seconds, parse_bool
from async_core.http import HttpConfig

if TYPE_CHECKING:
    from ._flask_stats import EndpointFigures
    from ._sampler import RequestSampler

__all__ = ["AppSettings", "current_settings", "read_settings"]

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
    "LOOPBRIDGE_PROMETHEUS", "LOOPBRIDGE_METRICS_URL", "LOOPBRIDGE_STATS_SAMPLE_MS",
)
_KNOWN_KEYS = frozenset((*_PROCESS_KEYS, *_APP_KEYS, *KNOWN_ENV))
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
_MISSING = object()
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
            default_loop().note_refusal()
            raise Overloaded(
                f"this app already runs LOOPBRIDGE_MAX_INFLIGHT={self.limit} bridged calls and none "
                f"finished within {wait:g}s; retry later, or raise LOOPBRIDGE_MAX_INFLIGHT / "
                "LOOPBRIDGE_QUEUE_TIMEOUT for this app."
            )

    def release(self) -> None:
        self._slots.release()


@dataclasses.dataclass(frozen=True)
class AppSettings:
    """What the extension needs per app at request time (no reference to the app itself)."""

    timeout: float | None = None
    limit: _AppLimit | None = None
    http: HttpConfig | None = None
    stats_url: str | None = None
    stats_allow: Callable[[Any], bool] | tuple[Any, ...] = _LOOPBACK
    stats_allow_set: bool = False
    stats_source: bool = False
    endpoints: EndpointFigures | None = None
    metrics_url: str | None = None
    sampler: RequestSampler | None = None


# -- reading the settings ---------------------------------------------------------------------
def setting(app: Flask, key: str, default: Any, check: Callable[[str, Any], Any]) -> Any:
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
    if key in ("LOOPBRIDGE_ERROR_HANDLERS", "LOOPBRIDGE_STATS_SOURCE", "LOOPBRIDGE_STRICT", "LOOPBRIDGE_PROMETHEUS"):
        return parse_bool(key, text)
    if key in ("LOOPBRIDGE_STATS_URL", "LOOPBRIDGE_METRICS_URL"):
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


def read_settings(app: Flask) -> AppSettings:
    timeout = setting(app, "LOOPBRIDGE_TIMEOUT", None, functools.partial(check_seconds, allow_none=True))
    limit_n = setting(app, "LOOPBRIDGE_MAX_INFLIGHT", None,
                       lambda k, v: None if v is None else check_int(k, v, minimum=1))
    queue_timeout = setting(app, "LOOPBRIDGE_QUEUE_TIMEOUT", 1.0, functools.partial(check_seconds, allow_zero=True))
    allow_set = "LOOPBRIDGE_STATS_ALLOW" in app.config or "LOOPBRIDGE_STATS_ALLOW" in os.environ
    stats_on = "LOOPBRIDGE_STATS_URL" in app.config or "LOOPBRIDGE_STATS_URL" in os.environ
    sample_ms = setting(app, "LOOPBRIDGE_STATS_SAMPLE_MS", 50.0, _check_sample_ms)
    return AppSettings(
        timeout=timeout,
        limit=_AppLimit(limit_n, queue_timeout) if limit_n is not None else None,
        http=setting(app, "LOOPBRIDGE_HTTP", None, _check_http),
        stats_url=setting(app, "LOOPBRIDGE_STATS_URL", None, _check_stats_url),
        stats_allow=setting(app, "LOOPBRIDGE_STATS_ALLOW", _LOOPBACK, _check_allow),
        stats_allow_set=allow_set,
        stats_source=setting(app, "LOOPBRIDGE_STATS_SOURCE", False, check_bool),
        endpoints=_new_figures(app),
        metrics_url=setting(app, "LOOPBRIDGE_METRICS_URL", None, _check_stats_url),
        sampler=_new_sampler(sample_ms) if stats_on and sample_ms else None,
    )


def _check_sample_ms(key: str, value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not (value == 0 or 1 <= value <= 10_000):
        raise ValueError(f"{key} must be 0 (off) or a number of ms from 1 to 10000, got {value!r}.")
    return float(value)


def _new_sampler(interval_ms: float) -> RequestSampler:
    from ._sampler import RequestSampler

    return RequestSampler(interval_ms)


def warn_unknown_keys(app: Flask) -> None:
    warn_unknown_env()
    for key in sorted(app.config):
        if key.startswith("LOOPBRIDGE_") and key not in _KNOWN_KEYS:
            logger.warning("loopbridge: app.config[%r] is not a loopbridge setting and is ignored; known keys: %s.",
                           key, ", ".join(sorted(_KNOWN_KEYS)))


def apply_process_config(app: Flask) -> None:
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


def _new_figures(app: Flask) -> EndpointFigures | None:
    """Per-endpoint figures when the stats endpoint or the Prometheus metrics are on."""
    prometheus = setting(app, "LOOPBRIDGE_PROMETHEUS", False, check_bool)
    if prometheus or setting(app, "LOOPBRIDGE_METRICS_URL", None, _check_stats_url):
        from ._prometheus import PrometheusFigures

        return PrometheusFigures()
    if "LOOPBRIDGE_STATS_URL" in app.config or "LOOPBRIDGE_STATS_URL" in os.environ:
        from ._flask_stats import EndpointFigures

        return EndpointFigures()
    return None


def current_settings() -> AppSettings:
    """The settings of the app handling the current request (defaults outside one)."""
    if has_app_context():
        found = current_app.extensions.get("loopbridge")
        if isinstance(found, AppSettings):
            return found
    return _DEFAULT_SETTINGS


_DEFAULT_SETTINGS = AppSettings()
