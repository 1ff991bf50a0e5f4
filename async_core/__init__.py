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
    LoopBridgeError,
    LoopNotRunning,
    LoopStalled,
    Overloaded,
    TooManyRedirects,
    UpstreamConnectionError,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamReadTimeout,
    UpstreamTimeout,
)
from ._loop import LoopState, LoopThread, Waiter, configure_default, current_loop_thread, default_loop

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "BlockedAddress",
    "BodyTooLarge",
    "BridgeTimeout",
    "DeadlockRisk",
    "LoopBridgeError",
    "LoopConfig",
    "LoopNotRunning",
    "LoopStalled",
    "LoopState",
    "LoopThread",
    "Overloaded",
    "TooManyRedirects",
    "UpstreamConnectTimeout",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamHTTPError",
    "UpstreamReadTimeout",
    "UpstreamTimeout",
    "Waiter",
    "configure_default",
    "current_loop_thread",
    "default_loop",
]
