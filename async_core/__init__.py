"""async_core: the loop side of loopbridge.

One event loop per process on a dedicated thread (:class:`LoopThread`, :func:`default_loop`),
the HTTP client and fan-out that live on it, the stall watchdog, and the one exception
hierarchy of the project. Nothing here imports Flask or ``bridge``.
"""

import logging as _logging

from ._config import LoopConfig
from ._errors import (
    BlockedAddress,
    BodyTooLarge,
    BridgeTimeout,
    DeadlockRisk,
    InvalidURL,
    LoopBridgeError,
    LoopNotRunning,
    LoopStalled,
    Overloaded,
    TooManyRedirects,
    UpstreamConnectionError,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamJSONError,
    UpstreamPayloadError,
    UpstreamReadTimeout,
    UpstreamSSLError,
    UpstreamTimeout,
)
from ._fanout import fan_out
from ._stats import LoopStats, loop_stats
from ._loop import LoopState, LoopThread, Waiter, configure_default, current_loop_thread, default_loop
from ._watchdog import StallFrame, StallReport, Watchdog, attach_watchdog, detach_watchdog
from .http import AddressPolicy, Headers, HttpClient, HttpConfig, Response, default_http_config, http_client, set_default_http_config

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "AddressPolicy",
    "BlockedAddress",
    "BodyTooLarge",
    "BridgeTimeout",
    "DeadlockRisk",
    "Headers",
    "HttpClient",
    "HttpConfig",
    "InvalidURL",
    "LoopBridgeError",
    "LoopConfig",
    "LoopNotRunning",
    "LoopStalled",
    "LoopState",
    "LoopStats",
    "LoopThread",
    "Overloaded",
    "Response",
    "StallFrame",
    "StallReport",
    "TooManyRedirects",
    "UpstreamConnectTimeout",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamHTTPError",
    "UpstreamJSONError",
    "UpstreamPayloadError",
    "UpstreamReadTimeout",
    "UpstreamSSLError",
    "UpstreamTimeout",
    "Waiter",
    "Watchdog",
    "attach_watchdog",
    "configure_default",
    "current_loop_thread",
    "default_http_config",
    "default_loop",
    "detach_watchdog",
    "fan_out",
    "http_client",
    "loop_stats",
    "set_default_http_config",
]
