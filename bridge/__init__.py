"""bridge: the sync side of loopbridge.

Unchanged synchronous code hands IO-heavy work to the process's one event-loop thread and gets
results back: :func:`run`, :func:`to_sync`, :func:`to_async`, the Flask extension
:class:`LoopBridge`, the requests-shaped :mod:`bridge.http`, and the ``loopbridge`` command
(``lint``, ``demo``, ``bench``), which lives in the tools package ``loopbridge``.
"""

import logging as _logging

from async_core import (
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

from . import http
from ._calls import run, to_async, to_sync
from ._flask import LoopBridge

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = [
    "BlockedAddress",
    "BodyTooLarge",
    "BridgeTimeout",
    "DeadlockRisk",
    "InvalidURL",
    "LoopBridge",
    "LoopBridgeError",
    "LoopNotRunning",
    "LoopStalled",
    "Overloaded",
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
    "http",
    "run",
    "to_async",
    "to_sync",
]
