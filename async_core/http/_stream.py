"""Sends whose body crosses threads in chunks: the loop side of the ``requests`` adapter.

::

    caller thread                              loop thread
    ─────────────                              ───────────
    Transport.open(spec)  ── bridge.run ─────▶ lease a session of the HttpClient
                                                 retry loop (replayable bodies only)
                                                 one aiohttp request, body NOT decompressed
    ◀── Opened(head, body bytes | OpenBody) ◀──  stream=False: body read whole (size cap)
    BodyPipe.read(n)  ── one chunk per hop ────▶ OpenBody.next_chunk()  (size cap, read timeout)
                      ◀── prefetch: one ahead ─  EOF: connection back to the pool
    BodyPipe.close() / garbage collected ──────▶ OpenBody.abandon(): connection closed

Backpressure is by pull: the loop reads a chunk only when the caller asked for the one before,
so a slow reader holds at most one chunk here plus aiohttp's own paused buffer.

The adapter keeps the body compressed (``auto_decompress=False``) so that, as with urllib3,
``raw.read()`` gives the bytes on the wire and decoding happens where requests expects it.
A :class:`Transport` uses the loop's shared :class:`HttpClient` (and its pool) unless it was
given its own :class:`HttpConfig`, in which case it opens a pool of its own on each loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import datetime
import functools
import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import requests
from yarl import URL

from .._errors import (
    BodyTooLarge,
    LoopNotRunning,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamPayloadError,
    UpstreamReadTimeout,
    UpstreamTimeout,
)
from .._loop import LoopState, LoopThread
from ._client import HttpClient, SessionLease, current_http_config, loop_http_client
from ._config import HttpConfig
from ._ssrf import is_ip_literal
from ._track import CURRENT, PROBE_WAIT, Connections, Progress, close_idle, loop_answers_by
from ._translate import BOUNDARY, body_framing_error, translate_error

__all__ = [
    "BodyPipe",
    "Head",
    "OpenBody",
    "Opened",
    "StreamSpec",
    "Transport",
    "UpstreamInvalidHeader",
    "UpstreamLoopStopped",
    "UpstreamProxyError",
    "drop_opened",
]

logger = logging.getLogger(__name__)



class UpstreamProxyError(UpstreamConnectionError, requests.exceptions.ProxyError):
    """The proxy could not be reached or refused the tunnel (also ``requests.exceptions.ProxyError``)."""


class UpstreamLoopStopped(UpstreamConnectionError, LoopNotRunning):
    """The loop stopped (or its thread died) while a streamed body was being read.

    A ``requests.ConnectionError`` for code written for requests, and a :class:`LoopNotRunning`.
    """


class UpstreamInvalidHeader(UpstreamError, requests.exceptions.InvalidHeader):
    """The response's headers contradict each other (two different ``Content-Length`` values)."""


@dataclasses.dataclass(frozen=True, slots=True)
class StreamSpec:
    """One request as the adapter hands it to the loop (validated in the caller's thread)."""

    method: str
    url: URL
    headers: tuple[tuple[str, str], ...]
    body: Any = None  # None, bytes, a file object, or an async iterable of bytes
    connect: float | None = None
    read: float | None = None
    ssl: Any = None  # None: the pool's default; False; an ssl.SSLContext
    proxy: str | None = None
    proxy_headers: tuple[tuple[str, str], ...] = ()
    socks: str | None = None  # a SOCKS proxy URL, credentials included (never shown): a pool of its own
    stream: bool = False
    chunked: bool = False
    skip_auto_headers: frozenset[str] = frozenset()

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again (a retry), i.e. it is not consumed by sending."""
        return self.body is None or isinstance(self.body, bytes)


@dataclasses.dataclass(frozen=True, slots=True)
class Head:
    """Status line and headers of a response, as plain values."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    url: str
    version: int  # 10 or 11, as http.client counts
    elapsed: datetime.timedelta
    retries_exhausted: bool = False  # the last attempt's status is one the policy retries


@dataclasses.dataclass(frozen=True, slots=True)
class Opened:
    """What :meth:`Transport.open` returns: the head, and the body whole or still open."""

    head: Head
    content: bytes | None
    body: OpenBody | None


# -- the loop side --------------------------------------------------------------------------------
def _translate(exc: BaseException, spec: StreamSpec) -> UpstreamError:
    """translate_error, plus the two kinds the requests adapter tells apart: proxy and bad HTTP."""
    where = _where(spec)
    if isinstance(exc, aiohttp.ClientConnectorError) and not isinstance(exc, aiohttp.ClientSSLError):
        if spec.socks is not None:  # the connector's message names the proxy (without its credentials)
            return UpstreamProxyError(f"{where}: {exc.os_error.strerror or exc.os_error}")
        if spec.proxy is not None:
            return UpstreamProxyError(f"{where}: could not connect to the proxy {spec.proxy} ({exc.os_error}); is it up?")
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return UpstreamProxyError(f"{where}: the proxy {spec.proxy} refused the tunnel: {exc.status} {exc.message}.")
    if isinstance(exc, aiohttp.ServerDisconnectedError) and not isinstance(exc.message, str | None):
        # the status line came, the rest did not: the body broke off (urllib3 says so too)
        return UpstreamPayloadError(f"{where}: the connection closed in the middle of the response.")
    if type(exc) is aiohttp.ClientResponseError and "Content-Length" in exc.message:
        return UpstreamInvalidHeader(f"{where}: the response's headers are invalid: {exc.message.splitlines()[0]}")
    if type(exc) is aiohttp.ClientResponseError and not body_framing_error(exc):  # a broken status line or headers
        return UpstreamConnectionError(f"{where}: the server's answer is not valid HTTP: {exc.message}.")
    return translate_error(exc, spec.method, spec.url, (spec.connect, spec.read))


def _where(spec: StreamSpec) -> str:
    """How errors name the request (built on the error path only: the URL's text costs)."""
    return f"{spec.method} {spec.url}"


@functools.lru_cache(maxsize=64)
def _client_timeout(connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's timeout object for ``(connect, read)``, one per pair (it is immutable)."""
    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)


def _check_length(raw: aiohttp.ClientResponse, cap: int, spec: StreamSpec) -> None:
    length = raw.content_length
    if length is not None and length > cap:
        raise BodyTooLarge(f"{_where(spec)}: the body is {length} bytes (Content-Length), more than max_body={cap}; "
                           "raise max_body for this adapter (LoopBridgeAdapter(max_body=...)) if it is expected.")


class OpenBody:
    """A response whose body is still on the connection (loop side; one reader at a time)."""

    def __init__(self, raw: aiohttp.ClientResponse, lease: SessionLease, cap: int, spec: StreamSpec) -> None:
        self._raw, self._lease, self._cap, self._spec = raw, lease, cap, spec
        self._size = 0
        self.done = False

    async def next_chunk(self) -> bytes:
        """The next piece of the body (``b""`` at the end, when the connection goes back to the pool)."""
        if self.done:
            return b""
        try:
            chunk = await self._raw.content.readany()
        except BOUNDARY as exc:
            self._finish(failed=True)
            raise _translate(exc, self._spec) from exc
        except BaseException:
            self._finish(failed=True)
            raise
        if not chunk:
            self._finish(failed=False)
            return b""
        self._size += len(chunk)
        if self._size > self._cap:
            self._finish(failed=True)
            raise BodyTooLarge(f"{self._spec.method} {self._spec.url}: the body passed max_body={self._cap} bytes while "
                               "streaming and was not read further; raise max_body for this adapter if it is expected.")
        return chunk

    def abandon(self) -> None:
        """Give up the body (loop thread): the connection is closed, not reused half-read."""
        if not self.done:
            self._finish(failed=False)

    def _finish(self, failed: bool) -> None:
        if self.done:
            return
        self.done = True
        if failed or not self._raw.content.at_eof():
            self._raw.close()
        else:
            self._raw.release()
        self._lease.release(failed)


class Transport:
    """The loop-side engine of one requests adapter: which configuration, which retry policy.

    Every transport sends with the loop's shared :class:`HttpClient`. With ``config=None`` it
    uses the client's configuration (the process's, or the one set for the caller's context)
    and so its pool; with an :class:`HttpConfig` of its own, the client keeps a session (a
    pool, an SSRF guard) for that configuration.

    Parameters:
        config: the transport's own configuration, or ``None``.
        retry_overrides: retry fields of :class:`HttpConfig` that replace the configuration's
            for this transport (what ``max_retries`` maps to).
    """

    def __init__(self, config: HttpConfig | None = None, retry_overrides: dict[str, Any] | None = None) -> None:
        if config is not None and not isinstance(config, HttpConfig):
            raise TypeError(f"config must be an HttpConfig or None, not {type(config).__name__}.")
        self._config = config
        self._overrides = dict(retry_overrides or {})
        if self._overrides:
            (config or HttpConfig()).replace(**self._overrides)  # validate now, not on the loop
        self._policy: tuple[HttpConfig, HttpConfig] | None = None  # (session config, with overrides)
        #: the pooled connections this transport's requests were given (loop thread)
        self.connections = Connections()

    @property
    def config(self) -> HttpConfig | None:
        """The transport's own configuration, or ``None`` when it follows the client's."""
        return self._config

    def session_config(self, client: HttpClient) -> HttpConfig:
        """The configuration whose session (pool, SSRF guard, TLS default) a request uses."""
        if self._config is not None:
            return self._config
        return client.resolve_config()

    async def aclose(self, lt: LoopThread) -> None:
        """Close the session kept for this transport's own configuration, if idle (loop thread)."""
        client = lt.http
        if self._config is not None and client is not None:
            await client.close_config(self._config)

    def _with_overrides(self, session_cfg: HttpConfig) -> HttpConfig:
        """``session_cfg`` with the retry overrides applied (kept: it is the same for most calls)."""
        if not self._overrides:
            return session_cfg
        cached = self._policy
        if cached is not None and cached[0] is session_cfg:
            return cached[1]
        cfg = session_cfg.replace(**self._overrides)
        self._policy = (session_cfg, cfg)
        return cfg

    async def open(self, lt: LoopThread, spec: StreamSpec, progress: Progress | None = None) -> Opened:
        """Send ``spec`` (loop thread); retries as the policy says, then the body whole or open.

        ``progress``: the caller's view of the call (a new one when ``None``); its connections
        are noted as this transport's (:meth:`close_idle`). A caller that gave up before the
        body was handed over (``progress.abandoned``) never gets it: it is closed here.
        """
        if progress is None:
            progress = Progress(self.connections, CURRENT.get())
        token = CURRENT.set(progress)
        try:
            client = loop_http_client(lt)
            session_cfg = self.session_config(client)
            cfg = self._with_overrides(session_cfg)
            loop = asyncio.get_running_loop()
            deadline = None if cfg.total_timeout is None else loop.time() + cfg.total_timeout
            retries = cfg.retries_for(spec.method) if spec.replayable else 0
            attempt = 0
            while True:
                lease = client.lease(session_cfg, spec.socks)
                try:
                    opened = await self._attempt(lease, spec, cfg, deadline)
                except UpstreamError as exc:
                    lease.release(failed=True)
                    if attempt >= retries or not cfg.should_retry(exc) or not await _pause(client, cfg, attempt + 1, deadline):
                        raise
                except BaseException:
                    lease.release(failed=True)
                    raise
                else:
                    status = opened.head.status
                    if status not in cfg.retry_statuses:
                        return _hand_over(progress, opened)
                    if attempt >= retries or not await _pause(client, cfg, attempt + 1, deadline, opened):
                        head = dataclasses.replace(opened.head, retries_exhausted=retries > 0)
                        return _hand_over(progress, dataclasses.replace(opened, head=head))
                attempt += 1
                logger.debug("loopbridge: retry %d of %s %s", attempt, spec.method, spec.url)
        finally:
            CURRENT.reset(token)

    def caller_total(self) -> float | None:
        """The ``total_timeout`` the caller's side holds for this transport's requests (any thread)."""
        return (self._config or current_http_config()).total_timeout

    def close_idle(self, lt: LoopThread) -> int:
        """Close the idle pooled connections this transport's requests used (loop thread); the count."""
        client = lt.http
        if client is None:
            return 0
        return close_idle(client.connectors(), self.connections)

    async def _attempt(self, lease: SessionLease, spec: StreamSpec, cfg: HttpConfig, deadline: float | None) -> Opened:
        if cfg.policy.block_private:
            cfg.policy.check_url_host(spec.url.host)
        loop = asyncio.get_running_loop()
        extra: dict[str, Any] = {}
        if spec.ssl is not None:
            extra["ssl"] = spec.ssl
        if spec.proxy is not None:
            extra["proxy"] = await _proxy_address(lease, spec.proxy) if cfg.policy.block_private else spec.proxy
            extra["proxy_headers"] = dict(spec.proxy_headers) or None
        if spec.skip_auto_headers:
            extra["skip_auto_headers"] = spec.skip_auto_headers
        body = spec.body
        if body is not None and not isinstance(body, bytes | bytearray):
            extra["chunked"] = spec.chunked or None
        started = loop.time()
        raw: aiohttp.ClientResponse | None = None
        try:
            if deadline is None:  # no total_timeout: no timer to arm and cancel on every request
                opened, raw = await self._exchange(lease, spec, cfg, extra, started)
            else:
                async with asyncio.timeout_at(deadline):
                    opened, raw = await self._exchange(lease, spec, cfg, extra, started)
        except TimeoutError as exc:
            if raw is not None:
                raw.close()
            if isinstance(exc, UpstreamError):
                raise
            if isinstance(exc, aiohttp.ServerTimeoutError | aiohttp.ConnectionTimeoutError):
                raise _translate(exc, spec) from exc
            raise UpstreamTimeout(f"{_where(spec)}: total_timeout={cfg.total_timeout}s passed; raise it for this adapter "
                                  "(LoopBridgeAdapter(total_timeout=...)) or pass a shorter timeout=.") from exc
        except BOUNDARY as exc:
            if raw is not None:
                raw.close()
            if isinstance(exc, UpstreamError):  # ours, raised inside (BodyTooLarge, the SSRF guard)
                raise
            raise _translate(exc, spec) from exc
        except BaseException:
            if raw is not None:
                raw.close()
            raise
        if raw is not None:  # read whole: the connection goes back to the pool
            raw.release()
            lease.release()
        return opened

    async def _exchange(self, lease: SessionLease, spec: StreamSpec, cfg: HttpConfig, extra: dict[str, Any],
                        started: float) -> tuple[Opened, aiohttp.ClientResponse | None]:
        """One request and its head; the body read whole, or left open (``stream``): then no response is returned."""
        raw = await lease.session.request(
            spec.method, spec.url, headers=spec.headers, data=spec.body, allow_redirects=False,
            timeout=_client_timeout(spec.connect, spec.read), auto_decompress=False, **extra,
        )
        try:
            elapsed = datetime.timedelta(seconds=asyncio.get_running_loop().time() - started)
            _check_length(raw, cfg.max_body, spec)
            # latin-1, as http.client decodes header lines (requests re-encodes Location so)
            headers = tuple([(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw.raw_headers])
            version = raw.version
            head = Head(raw.status, (raw.reason or "").strip(), headers, str(raw.url),
                        11 if version is None else version.major * 10 + version.minor, elapsed)
            progress = CURRENT.get()
            if progress is not None:
                progress.step()
            if spec.stream:
                return Opened(head, None, OpenBody(raw, lease, cfg.max_body, spec)), None  # handed over
            return Opened(head, await _read_capped(raw, cfg.max_body, spec), None), raw
        except BaseException:
            raw.close()
            raise


def _hand_over(progress: Progress, opened: Opened) -> Opened:
    """``opened`` for the caller, kept in ``progress`` until taken; closed if the caller gave up."""
    progress.result = opened
    if progress.abandoned and opened.body is not None:
        opened.body.abandon()
    return opened


async def _proxy_address(lease: SessionLease, proxy: str) -> str:
    """``proxy`` with its host name replaced by its address, resolved past the SSRF guard.

    The guard judges destinations; an http:// proxy is the application's own choice, and aiohttp
    would otherwise resolve its name through the guarded resolver and refuse a proxy on the
    private network (while one given as an IP was never judged).
    """
    url = URL(proxy)
    host = url.host
    if host is None or is_ip_literal(host):
        return proxy
    address = await lease.resolver.resolve_unchecked(host, url.port or 80)
    return str(url.with_host(address))


async def _read_capped(raw: aiohttp.ClientResponse, cap: int, spec: StreamSpec) -> bytes:
    chunks: list[bytes] = []
    size = 0
    content = raw.content
    progress = CURRENT.get()  # each chunk is a step: the caller's read deadline moves with it
    while True:
        chunk = await content.readany()
        if not chunk:
            return b"".join(chunks)
        if progress is not None:
            progress.step()
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(f"{_where(spec)}: the body passed max_body={cap} bytes and was not read further; "
                               "raise max_body for this adapter (LoopBridgeAdapter(max_body=...)) if it is expected.")
        chunks.append(chunk)


async def _pause(client: HttpClient, cfg: HttpConfig, attempt: int, deadline: float | None, opened: Opened | None = None) -> bool:
    """Sleep before retry ``attempt``; False (no retry) if that would pass the deadline."""
    delay = cfg.backoff_delay(attempt)
    if deadline is not None and asyncio.get_running_loop().time() + delay >= deadline:
        return False
    if opened is not None and opened.body is not None:
        opened.body.abandon()
    client.retries += 1
    await asyncio.sleep(delay)
    return True


async def iterate_in_thread(items: Iterable[Any]) -> AsyncIterator[bytes]:
    """An upload body from a sync iterable (a generator), pulled in an executor thread chunk by chunk."""
    loop = asyncio.get_running_loop()
    iterator = iter(items)
    end = object()
    while True:
        item: Any = await loop.run_in_executor(None, next, iterator, end)
        if item is end:
            return
        if isinstance(item, str):
            item = item.encode("utf-8")
        if item:
            yield bytes(item)


# -- the caller side ------------------------------------------------------------------------------
#: seconds between checks that the loop is still there, while a read without a timeout waits
_LIVENESS_EVERY = 1.0

def drop_opened(opened: Opened) -> None:
    """Give up an :class:`Opened` nobody will read (loop thread): its open body's connection closes."""
    if opened.body is not None:
        opened.body.abandon()


def _abandon(lt: LoopThread, body: OpenBody) -> None:
    try:
        lt.call_soon(body.abandon)
    except LoopNotRunning:
        pass  # the loop stopped: its sessions, and this connection, are closed already


class BodyPipe:
    """A streamed body read from another thread, one chunk per hop to the loop, one fetched ahead.

    ``read(n)`` blocks until at least one byte (or the end) is there. ``close()``, or dropping
    the last reference, gives the connection up on the loop; reading to the end returns it to
    the pool.

    Raises (from ``read``): :class:`UpstreamReadTimeout`, :class:`UpstreamPayloadError`,
    :class:`BodyTooLarge` and the other :class:`UpstreamError` kinds.
    """

    def __init__(self, lt: LoopThread, body: OpenBody, read_timeout: float | None) -> None:
        self._lt, self._body = lt, body
        self._buffer = bytearray()
        self._eof = False
        self._closed = False
        self._next: concurrent.futures.Future[bytes] | None = None
        self._read_timeout = read_timeout
        self._release = weakref.finalize(self, _abandon, lt, body)
        self._release.atexit = False

    def _fetch(self) -> bytes:
        future, self._next = self._next, None
        try:
            if future is None:
                future = self._submit()
            chunk = self._wait(future)
        except BaseException:
            self._eof = True
            self._release()
            raise
        if chunk:
            try:
                self._next = self._submit()
            except UpstreamLoopStopped:
                pass  # the next read says so
        else:
            self._eof = True
        return chunk

    def _submit(self) -> concurrent.futures.Future[bytes]:
        try:
            return self._lt.submit(self._body.next_chunk())
        except LoopNotRunning as exc:
            raise self._loop_stopped() from exc

    def _wait(self, future: concurrent.futures.Future[bytes]) -> bytes:
        """The chunk, within the read timeout as the caller counts it (even if the loop is blocked)."""
        read = self._read_timeout
        due = None if read is None else time.monotonic() + read
        while True:
            try:
                return future.result(timeout=_LIVENESS_EVERY if due is None else max(due - PROBE_WAIT - time.monotonic(), 0))
            except concurrent.futures.TimeoutError:
                if self._lt.state is not LoopState.RUNNING:  # stopped or dead: no chunk will ever come
                    future.cancel()
                    raise self._loop_stopped() from None
                if due is None or read is None:
                    continue  # no limit
                if loop_answers_by(self._lt, due):
                    due = time.monotonic() + read  # the loop runs: its own read timer is in charge
                    continue
                future.cancel()  # the read is cancelled on the loop once it runs again
                spec = self._body._spec
                raise UpstreamReadTimeout(
                    f"{spec.method} {spec.url}: no part of the body came within the read timeout ({self._read_timeout}s) "
                    "while the loopbridge loop was blocked by sync code (the watchdog's log names it); raise the read "
                    "timeout with timeout=(connect, read), or move the blocking call off the loop.") from None
            except concurrent.futures.CancelledError as exc:
                raise self._loop_stopped() from exc

    def _loop_stopped(self) -> UpstreamLoopStopped:
        spec = self._body._spec
        return UpstreamLoopStopped(
            f"{spec.method} {spec.url}: the loopbridge loop stopped while the body was being read, and the rest of it "
            "is lost; read bodies before stopping the loop (bridge.run / LoopThread.stop), or send the request again.")

    def read(self, amt: int | None = None) -> bytes:
        """Up to ``amt`` bytes (all that is left when ``None``); ``b""`` at the end."""
        if self._closed:
            return b""
        if amt is None:
            parts = [bytes(self._buffer)]
            self._buffer.clear()
            while not self._eof:
                parts.append(self._fetch())
            return b"".join(parts)
        if amt <= 0:
            return b""
        while not self._buffer and not self._eof:
            self._buffer += self._fetch()
        out = bytes(self._buffer[:amt])
        del self._buffer[:amt]
        return out

    @property
    def closed(self) -> bool:
        """True once closed, or once every byte was read."""
        return self._closed or (self._eof and not self._buffer)

    def close(self) -> None:
        """Stop reading; the connection is given up on the loop unless the body was read to the end."""
        if self._closed:
            return
        self._closed = True
        self._buffer.clear()
        self._release()
