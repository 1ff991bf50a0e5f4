"""Configuration of the loop thread as an immutable, validating value object.

Settings come from three places, the later winning: the defaults below, ``LOOPBRIDGE_*``
environment variables (:meth:`LoopConfig.from_env`), and explicit arguments (Flask's
``LOOPBRIDGE_*`` config keys end up here too, through :meth:`LoopConfig.replace`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from typing import Any

from ._validate import FALSE_WORDS, TRUE_WORDS, check_int, check_seconds, parse_bool

__all__ = ["KNOWN_ENV", "LoopConfig", "warn_unknown_env"]

logger = logging.getLogger(__name__)


#: environment variable -> (field, parser)
_ENV_FIELDS: dict[str, str] = {
    "LOOPBRIDGE_UVLOOP": "use_uvloop",
    "LOOPBRIDGE_MAX_INFLIGHT": "max_inflight",
    "LOOPBRIDGE_QUEUE_TIMEOUT": "queue_timeout",
    "LOOPBRIDGE_STOP_GRACE": "stop_grace",
    "LOOPBRIDGE_WATCHDOG_MS": "watchdog_ms",
    "LOOPBRIDGE_STRICT": "strict",
}


#: every LOOPBRIDGE_* environment variable some part of loopbridge reads; any other one is
#: warned about once (a typo such as LOOPBRIDGE_WATCHDOG would otherwise be silently ignored)
KNOWN_ENV = frozenset({
    *_ENV_FIELDS,
    "LOOPBRIDGE_TIMEOUT", "LOOPBRIDGE_HTTP", "LOOPBRIDGE_STATS_URL", "LOOPBRIDGE_STATS_ALLOW",
    "LOOPBRIDGE_STATS_SOURCE", "LOOPBRIDGE_ERROR_HANDLERS", "LOOPBRIDGE_STATS_SAMPLE_MS",  # the Flask extension's
    "LOOPBRIDGE_BENCH_UPSTREAM", "LOOPBRIDGE_BENCH_DELAY_MS", "LOOPBRIDGE_SIMULATOR_UVLOOP",  # the tools'
})
_warned_unknown: set[str] = set()


def warn_unknown_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Log a warning for each ``LOOPBRIDGE_*`` variable no part of loopbridge reads; return them."""
    env = os.environ if environ is None else environ
    unknown = sorted(k for k in env if k.startswith("LOOPBRIDGE_") and k not in KNOWN_ENV)
    for key in unknown:
        if key not in _warned_unknown:
            _warned_unknown.add(key)
            logger.warning("loopbridge: the environment variable %s is not a loopbridge setting and is "
                           "ignored; known: %s.", key, ", ".join(sorted(KNOWN_ENV)))
    return unknown


def _parse_bool_or_auto(name: str, raw: str) -> bool | None:
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    if value in {"", "auto"}:
        return None
    raise ValueError(f"{name}={raw!r} is not understood: use true/false, 1/0, yes/no, on/off, or auto.")


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """How the process's loop thread runs.

    Parameters:
        thread_name: name of the loop thread (shows in stack dumps and ``py-spy``).
        use_uvloop: ``True`` requires uvloop, ``False`` never uses it, ``None`` (default) uses it
            when the ``loopbridge[uvloop]`` extra is installed.
        max_inflight: bound on bridged calls running on the loop at once (backpressure).
        queue_timeout: seconds a caller waits for a free slot before :class:`Overloaded`.
        stop_grace: seconds :meth:`LoopThread.stop` lets in-flight work finish by default.
        cancel_wait: seconds a caller interrupted by Ctrl-C waits for the cancelled coroutine's
            cleanup before re-raising ``KeyboardInterrupt``.
        watchdog_ms: stall threshold of the watchdog in milliseconds; ``0`` turns it off.
        strict: when the watchdog sees a stall, fail the waiting bridge calls with ``LoopStalled``.

    Example::

        cfg = LoopConfig.from_env().replace(max_inflight=256)
    """

    thread_name: str = "loopbridge-loop"
    use_uvloop: bool | None = None
    max_inflight: int = 1024
    queue_timeout: float = 1.0
    stop_grace: float = 5.0
    cancel_wait: float = 1.0
    watchdog_ms: float = 500.0
    strict: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.thread_name, str) or not self.thread_name:
            raise ValueError("thread_name must be a non-empty string.")
        if self.use_uvloop not in (True, False, None):
            raise TypeError(f"use_uvloop must be True, False or None (auto), not {self.use_uvloop!r}.")
        check_int("max_inflight", self.max_inflight, minimum=1)
        for name in ("queue_timeout", "stop_grace", "cancel_wait"):
            check_seconds(name, getattr(self, name), allow_zero=True)
        check_seconds("watchdog_ms", self.watchdog_ms, allow_zero=True, unit="ms")
        if not isinstance(self.strict, bool):
            raise TypeError(f"strict must be True or False, not {self.strict!r}.")

    def replace(self, **changes: Any) -> LoopConfig:
        """Return a copy with ``changes`` applied (and validated)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown LoopConfig field(s): {', '.join(sorted(unknown))}.")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoopConfig:
        """Build a config from ``LOOPBRIDGE_*`` environment variables over the defaults."""
        env = os.environ if environ is None else environ
        warn_unknown_env(env)
        changes: dict[str, Any] = {}
        for var, field in _ENV_FIELDS.items():
            raw = env.get(var)
            if raw is None:
                continue
            value = _parse_env(var, field, raw)
            try:
                cls(**{field: value})
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{var}={raw!r} is not valid: {exc}") from None
            changes[field] = value
        return cls(**changes)


def _parse_env(var: str, field: str, raw: str) -> Any:
    if field == "use_uvloop":
        return _parse_bool_or_auto(var, raw)
    if field == "strict":
        return parse_bool(var, raw)
    try:
        return int(raw) if field == "max_inflight" else float(raw)
    except ValueError:
        raise ValueError(f"{var}={raw!r} is not a number; unset it or give a number.") from None
