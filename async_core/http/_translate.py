"""The one boundary where aiohttp / asyncio / OS errors become the project's own.

:func:`translate_error` maps a foreign error to the most specific class of the hierarchy in
:mod:`async_core._errors`; the client calls it in exactly one place and raises the result
``from`` the original, so the cause stays attached.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from .._errors import (
    InvalidURL,
    TooManyRedirects,
    UpstreamConnectionError,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamPayloadError,
    UpstreamReadTimeout,
    UpstreamSSLError,
    UpstreamTimeout,
)

__all__ = ["BOUNDARY", "body_framing_error", "translate_error"]


def _ours_in_chain(exc: BaseException) -> UpstreamError | None:
    """An error of ours raised inside aiohttp (the SSRF resolver) and wrapped by it."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, UpstreamError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or getattr(cur, "os_error", None)
    return None


def body_framing_error(exc: BaseException) -> bool:
    """True when the status line and headers were fine but the body's framing was not.

    aiohttp's C parser reports a bad chunk size as a generic ``BadHttpMessage`` wrapped in a
    ``ClientResponseError``; requests calls the same failure a ``ChunkedEncodingError``.
    """
    from aiohttp import http_exceptions

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, http_exceptions.TransferEncodingError | http_exceptions.ContentEncodingError
                      | http_exceptions.ContentLengthError):
            return True
        if isinstance(cur, http_exceptions.HttpProcessingError) and "chunk" in str(cur.message).lower():
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def translate_error(exc: BaseException, method: str, url: Any, timeouts: tuple[float | None, float | None] = (None, None)) -> UpstreamError:
    """Map an aiohttp / asyncio / OS error to the most specific class of our hierarchy.

    The caller raises the result ``from exc``. Unknown errors become a plain :class:`UpstreamError`.
    """
    where = f"{method} {url}"
    ours = _ours_in_chain(exc)
    if ours is not None:
        return type(ours)(*ours.args)
    connect, read = timeouts
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamConnectTimeout(f"{where}: no connection within the connect timeout ({connect}s): the host may be down or filtered, or every pooled connection (limit / limit_per_host) stayed busy that long. Raise it with timeout=(connect, read).")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return UpstreamReadTimeout(f"{where}: the server sent nothing for the read timeout ({read}s). Raise it with timeout=(connect, read).")
    if isinstance(exc, asyncio.TimeoutError):
        return UpstreamTimeout(f"{where}: the call took longer than total_timeout; raise it with bridge.http.configure(total_timeout=...).")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch):
        return UpstreamSSLError(f"{where}: TLS failed: {exc}. Fix the server's certificate, or pass verify=False for a test server.")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return UpstreamConnectionError(f"{where}: could not resolve the host name ({exc.os_error}); check the URL.")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamConnectionError(f"{where}: could not connect ({exc.os_error}); is the server up and listening?")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return UpstreamConnectionError(f"{where}: the server closed the connection without an answer.")
    if isinstance(exc, aiohttp.ClientPayloadError) or body_framing_error(exc):
        return UpstreamPayloadError(f"{where}: the response body broke off or could not be decoded: {exc}.")
    if isinstance(exc, aiohttp.TooManyRedirects):
        return TooManyRedirects(f"{where}: too many redirects.")
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return InvalidURL(f"{where}: invalid URL: {exc}.")
    if isinstance(exc, aiohttp.ClientConnectionError | ConnectionError | OSError):
        return UpstreamConnectionError(f"{where}: connection failed: {exc!r}.")
    if isinstance(exc, aiohttp.ClientResponseError):  # requests raises a ConnectionError for these too
        return UpstreamConnectionError(f"{where}: the server's answer is not valid HTTP: {exc.message}.")
    return UpstreamError(f"{where}: request failed: {exc!r}.")


#: the foreign error types the client catches and translates
BOUNDARY = (aiohttp.ClientError, OSError, asyncio.TimeoutError)
