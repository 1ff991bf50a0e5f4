"""How a loop's HTTP client connects, waits, retries and what it refuses: :class:`HttpConfig`.

A pure value object (no IO): the retry policy (which failures and statuses retry, how many
times, how long to back off) lives here as methods, so it can be tested without a socket.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from typing import Any

import aiohttp

from .._errors import BlockedAddress, UpstreamConnectionError, UpstreamError, UpstreamSSLError, UpstreamTimeout
from .._validate import check_int, check_seconds
from ._request import USE_CONFIG, parse_timeout
from ._ssrf import AddressPolicy

__all__ = ["IDEMPOTENT", "MiB", "HttpConfig"]

MiB = 1024 * 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_NEVER_RETRY = (BlockedAddress, UpstreamSSLError)


@dataclasses.dataclass(frozen=True)
class HttpConfig:
    """How a loop's HTTP client connects, waits, retries and what it refuses.

    Parameters:
        limit: connections open at once, all hosts together (0 = no limit).
        limit_per_host: connections open at once to one host:port (0 = no limit per host); below
            ``limit`` so one slow or hung host cannot take the whole pool. Waiting for a free
            connection counts against the connect timeout.
        dns_cache: cache DNS answers.
        dns_ttl: seconds a cached DNS answer is used.
        connect_timeout: seconds to connect. ``timeout=`` sets it and ``read_timeout`` the
            requests way (a number or ``(connect, read)``).
        read_timeout: seconds to wait for each piece of the response.
        total_timeout: seconds for a whole call, redirects and retries included (None = none).
        retries: extra attempts for idempotent methods (``retry_methods``) after a retryable
            failure (default 0: like requests, nothing is retried unless asked); a call makes
            exactly ``1 + retries`` attempts, aiohttp's own resend after a reset is turned off; ``backoff`` * 2**(attempt-1) seconds apart, capped at ``backoff_max``, with
            jitter (half the delay is random).
        retry_on_connection_errors: retry after a failure to connect.
        retry_on_timeouts: retry after a timeout.
        retry_statuses: the response statuses that are retried.
        max_body: largest response body accepted, in bytes (streamed; larger is an error).
        max_redirects: longest redirect chain followed.
        verify: verify TLS certificates.
        block_private: the SSRF guard: refuse private, loopback and link-local addresses.
        allow: the guard's allow-list of hosts and networks.
        user_agent: the ``User-Agent`` header sent unless a request sets its own.

    Example::

        cfg = HttpConfig(timeout=(3, 10), retries=0).replace(block_private=True, allow=["10.0.0.0/8"])
    """

    limit: int = 256
    limit_per_host: int = 100
    dns_cache: bool = True
    dns_ttl: float = 10.0
    connect_timeout: float | None = 10.0
    read_timeout: float | None = 30.0
    total_timeout: float | None = 60.0
    retries: int = 0
    backoff: float = 0.2
    backoff_max: float = 5.0
    retry_methods: frozenset[str] = IDEMPOTENT
    retry_on_connection_errors: bool = True
    retry_on_timeouts: bool = True
    retry_statuses: frozenset[int] = frozenset({502, 503, 504})
    max_body: int = 8 * MiB
    max_redirects: int = 10
    verify: bool = True
    block_private: bool = False
    allow: tuple[str, ...] = ()
    user_agent: str = f"loopbridge aiohttp/{aiohttp.__version__}"
    timeout: dataclasses.InitVar[Any] = USE_CONFIG
    policy: AddressPolicy = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self, timeout: Any) -> None:
        set_ = object.__setattr__
        if timeout is not USE_CONFIG:
            connect, read = parse_timeout(timeout)
            set_(self, "connect_timeout", connect)
            set_(self, "read_timeout", read)
        for name in ("limit", "limit_per_host", "retries", "max_redirects"):
            check_int(name, getattr(self, name), minimum=0)
        check_int("max_body", self.max_body, minimum=1)
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            check_seconds(name, getattr(self, name), allow_none=True)
        for name in ("dns_ttl", "backoff", "backoff_max"):
            check_seconds(name, getattr(self, name), allow_zero=True)
        for name in ("dns_cache", "retry_on_connection_errors", "retry_on_timeouts", "verify", "block_private"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, not {getattr(self, name)!r}.")
        set_(self, "retry_methods", _methods(self.retry_methods))
        set_(self, "retry_statuses", _statuses(self.retry_statuses))
        if not isinstance(self.user_agent, str):
            raise TypeError("user_agent must be a string.")
        set_(self, "policy", AddressPolicy.build(self.block_private, self.allow))
        set_(self, "allow", tuple(self.allow))

    def replace(self, **changes: Any) -> HttpConfig:
        """Return a copy with ``changes`` applied and validated (``timeout=`` works too)."""
        names = {f.name for f in dataclasses.fields(self)} | {"timeout"}
        unknown = sorted(set(changes) - names)
        if unknown or "policy" in changes:
            raise TypeError(f"unknown HttpConfig field(s): {', '.join(unknown or ['policy'])}; known: {', '.join(sorted(names - {'policy'}))}.")
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        default = _DEFAULT_FIELDS
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)
                   if f.repr and getattr(self, f.name) != default.get(f.name)]
        return f"HttpConfig({', '.join(changed)})"

    def backoff_delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based): exponential, capped, jittered."""
        delay = min(self.backoff_max, self.backoff * (2 ** (attempt - 1)))
        return delay / 2 + (rng or random).uniform(0, delay / 2)

    def retries_for(self, method: str) -> int:
        """How many retries ``method`` gets (0 unless it is one of ``retry_methods``)."""
        return self.retries if method in self.retry_methods else 0

    def should_retry(self, error: UpstreamError) -> bool:
        """Whether ``error`` is a failure this config retries (the SSRF guard never is)."""
        if isinstance(error, UpstreamTimeout):
            return self.retry_on_timeouts
        if isinstance(error, UpstreamConnectionError):
            return self.retry_on_connection_errors and not isinstance(error, _NEVER_RETRY)
        return False


def _methods(value: Any) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"retry_methods must be a collection of method names, e.g. {{'GET', 'HEAD'}}, not {value!r}.")
    return frozenset(str(m).upper() for m in value)


def _statuses(value: Any) -> frozenset[int]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"retry_statuses must be a collection of ints, e.g. {{502, 503}}, not {value!r}.")
    codes = frozenset(value)
    if not all(isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in codes):
        raise ValueError(f"retry_statuses must hold HTTP status codes (100..599), got {sorted(codes, key=str)!r}.")
    return codes


_DEFAULT_FIELDS: dict[str, Any] = {f.name: getattr(HttpConfig(), f.name) for f in dataclasses.fields(HttpConfig)}
