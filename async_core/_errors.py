"""The one exception hierarchy of loopbridge.

Every error the project raises on purpose derives from :class:`LoopBridgeError`, and also from
the builtin (or ``requests``) class that legacy ``except`` clauses already catch, so code that
moves a call behind the bridge keeps its error handling::

    LoopBridgeError
    ├── LoopNotRunning        (RuntimeError)   the loop thread is stopped, dead or unusable
    ├── DeadlockRisk          (RuntimeError)   a blocking bridge call made on the loop thread
    ├── BridgeTimeout         (TimeoutError)   the caller gave up waiting; the work was cancelled
    ├── Overloaded                             too many bridged calls in flight; try again later
    ├── LoopStalled                            strict watchdog: the loop was blocked by sync code
    └── UpstreamError         (requests.RequestException)   HTTP made on the loop failed
        ├── UpstreamConnectionError   (requests.ConnectionError)
        │   ├── BlockedAddress        the SSRF guard refused the resolved address
        │   ├── UpstreamSSLError      (requests.exceptions.SSLError)  TLS handshake/verification
        │   └── UpstreamPayloadError  (requests.exceptions.ChunkedEncodingError)  body broke off
        ├── UpstreamTimeout           (requests.Timeout)
        │   ├── UpstreamConnectTimeout (requests.ConnectTimeout)
        │   └── UpstreamReadTimeout    (requests.ReadTimeout)
        ├── UpstreamHTTPError         (requests.HTTPError)   raise_for_status() on a 4xx/5xx
        ├── TooManyRedirects          (requests.TooManyRedirects)
        ├── BodyTooLarge              the response body passed the size cap
        ├── InvalidURL                (requests.exceptions.InvalidURL, ValueError)
        └── UpstreamJSONError         (requests.exceptions.JSONDecodeError)  Response.json()

The split follows what a caller can do: retry later (``Overloaded``), raise a limit
(``BridgeTimeout``, ``BodyTooLarge``), fix the code (``DeadlockRisk``, ``LoopStalled``), or
treat the upstream as down (``UpstreamError``).
"""

from __future__ import annotations

from typing import Any

import requests

__all__ = [
    "BlockedAddress",
    "BodyTooLarge",
    "BridgeTimeout",
    "DeadlockRisk",
    "InvalidURL",
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
]


class LoopBridgeError(Exception):
    """Base class of every error loopbridge raises on purpose."""


class LoopNotRunning(LoopBridgeError, RuntimeError):
    """The core loop thread cannot take work: it is stopped, stopping, or its thread died."""


class DeadlockRisk(LoopBridgeError, RuntimeError):
    """A blocking bridge entry point was called where waiting would freeze the loop."""


class BridgeTimeout(LoopBridgeError, TimeoutError):
    """The caller's deadline passed before the coroutine finished; the coroutine was cancelled."""


class Overloaded(LoopBridgeError):
    """The bound on in-flight bridged calls was reached and stayed reached for the queue timeout."""


class LoopStalled(LoopBridgeError):
    """Strict mode: the watchdog saw the loop blocked by synchronous code.

    ``report`` holds the watchdog's stall report (duration, blocking frames, task).
    """

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class UpstreamError(LoopBridgeError, requests.RequestException):
    """An HTTP request made on the loop failed (base of every HTTP error)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        requests.RequestException.__init__(self, *args, **kwargs)


class UpstreamConnectionError(UpstreamError, requests.ConnectionError):
    """The connection to the upstream could not be made or broke before a response."""


class BlockedAddress(UpstreamConnectionError):
    """The SSRF guard refused to connect: the host resolved to a forbidden address."""


class UpstreamSSLError(UpstreamConnectionError, requests.exceptions.SSLError):
    """The TLS handshake failed or the certificate did not verify."""


class UpstreamPayloadError(UpstreamConnectionError, requests.exceptions.ChunkedEncodingError):
    """The response body broke off or could not be decoded (truncated, bad chunking, bad gzip)."""


class UpstreamTimeout(UpstreamError, requests.Timeout):
    """The upstream did not answer within the configured timeout."""


class UpstreamConnectTimeout(UpstreamTimeout, UpstreamConnectionError, requests.ConnectTimeout):
    """Connecting to the upstream took longer than the connect timeout."""


class UpstreamReadTimeout(UpstreamTimeout, requests.ReadTimeout):
    """The upstream connected but did not send (all of) its response in time."""


class UpstreamHTTPError(UpstreamError, requests.HTTPError):
    """``raise_for_status()`` on a response with a 4xx or 5xx status."""


class TooManyRedirects(UpstreamError, requests.TooManyRedirects):
    """The redirect chain was longer than the configured limit."""


class BodyTooLarge(UpstreamError):
    """The response body was larger than the configured cap; it was not read into memory."""


class InvalidURL(UpstreamError, requests.exceptions.InvalidURL):
    """The URL cannot be requested: no scheme, a scheme other than http/https, or no host."""


class UpstreamJSONError(UpstreamError, requests.exceptions.JSONDecodeError):
    """``Response.json()`` on a body that is not JSON (also a ``json.JSONDecodeError``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        requests.exceptions.JSONDecodeError.__init__(self, *args, **kwargs)
