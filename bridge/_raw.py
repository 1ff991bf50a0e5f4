"""The urllib3 response ``LoopBridgeAdapter`` returns, and what it reads from.

``HTTPAdapter`` hands requests a urllib3 ``HTTPResponse`` over http.client's response; the
adapter hands over the same urllib3 class (:class:`Raw`) over a :class:`Source` that plays
http.client's part: it reads the body from memory or, streamed, from the loop
(:class:`~async_core.http._stream.BodyPipe`), and offers what code reads from
``raw._original_response``.
"""

from __future__ import annotations

import http.client
import io
import socket
from typing import Any

import urllib3.exceptions
from urllib3 import HTTPResponse

from async_core import BodyTooLarge, UpstreamReadTimeout
from async_core.http._stream import BodyPipe, Head, UpstreamLoopStopped

__all__ = ["Raw", "Source"]


class Source:
    """What urllib3's ``HTTPResponse`` reads from: the part ``http.client.HTTPResponse`` plays.

    It is also ``raw._original_response``, so it offers what code reads there from
    http.client's response: ``version`` (10 or 11), ``status``, ``reason``, ``msg`` and
    ``headers`` (every header line; requests' cookie extraction reads ``Set-Cookie`` there),
    ``getheader``, ``getheaders``, ``info``, ``getcode`` and ``geturl``.
    """

    debuglevel = 0

    def __init__(self, head: Head, content: bytes | None, pipe: BodyPipe | None) -> None:
        self._head = head
        self._msg: http.client.HTTPMessage | None = None
        self.version, self.status, self.reason = head.version, head.status, head.reason
        self.url = head.url
        self._memory = io.BytesIO(content) if content is not None else None
        self._size = 0 if content is None else len(content)
        self._pipe = pipe
        self._closed = False
        #: every byte was read: http.client's response closes itself then (``isclosed()``), and
        #: code that tees the body (CacheControl) waits for that to store it. No ``fp`` attribute
        #: here: urllib3 takes one for http.client's own chunk reading (``read_chunked``)
        self._ended = False

    @property
    def msg(self) -> http.client.HTTPMessage:
        """Every header line, as http.client's ``msg`` (built when first read: most code never does)."""
        if self._msg is None:
            self._msg = _message(self._head.headers)
        return self._msg

    headers = msg

    @property
    def code(self) -> int:
        return self.status

    def getcode(self) -> int:
        return self.status

    def geturl(self) -> str:
        return self.url

    def info(self) -> http.client.HTTPMessage:
        return self.msg

    def getheader(self, name: str, default: Any = None) -> Any:
        """The header's value (repeated headers joined with ``", "``), as http.client gives it."""
        values = self.msg.get_all(name)
        if not values:
            return default
        return ", ".join(values)

    def getheaders(self) -> list[tuple[str, str]]:
        return list(self.msg.items())

    def read(self, amt: int | None = None) -> bytes:
        if self._closed or self._ended:
            return b""
        memory = self._memory
        if memory is not None:
            data = memory.read(amt)
            if memory.tell() >= self._size:
                self._ended = True
                self._memory = None
            return data
        assert self._pipe is not None
        try:
            return self._pipe.read(amt)
        except UpstreamReadTimeout as exc:  # urllib3 turns this into its ReadTimeoutError, as for a socket
            raise socket.timeout(str(exc)) from exc

    read1 = read

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        """True once closed or read to the end, as http.client's response (it closes itself at the end)."""
        if self._closed or self._ended:
            return True
        if self._pipe is not None:
            return self._pipe.closed
        return False

    def isclosed(self) -> bool:
        return self.closed

    def close(self) -> None:
        self._closed = True
        if self._pipe is not None:
            self._pipe.close()
        self._memory = None


class Raw(HTTPResponse):
    """urllib3's response, except that two errors of ours reach the caller as themselves.

    urllib3 wraps every ``OSError`` a body read raises in its ``ProtocolError`` (requests then
    raises ``ChunkedEncodingError``), and our errors are ``OSError`` through
    ``requests.RequestException``. :class:`BodyTooLarge` (a limit of ours, caught by
    ``except BodyTooLarge``) and :class:`UpstreamLoopStopped` (a ``ConnectionError``: the loop
    went away, the upstream did nothing wrong) are unwrapped; every other error keeps urllib3's
    shape, as with ``HTTPAdapter``.
    """

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return _unwrapping_ours(super().read, *args, **kwargs)

    def read1(self, *args: Any, **kwargs: Any) -> bytes:
        return _unwrapping_ours(super().read1, *args, **kwargs)


def _unwrapping_ours(read: Any, *args: Any, **kwargs: Any) -> bytes:
    try:
        return read(*args, **kwargs)  # type: ignore[no-any-return]
    except urllib3.exceptions.ProtocolError as exc:
        cause = exc.__cause__
        if isinstance(cause, BodyTooLarge | UpstreamLoopStopped):
            raise cause.with_traceback(cause.__traceback__) from cause.__cause__
        raise


def _message(headers: tuple[tuple[str, str], ...]) -> http.client.HTTPMessage:
    msg = http.client.HTTPMessage()
    for name, value in headers:
        msg[name] = value  # email.message.Message appends: repeated headers are kept
    return msg
