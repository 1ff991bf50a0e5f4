"""The HTTP client of a loop: one aiohttp session per loop, responses as immutable values.

::

    caller (any thread)              loop thread
    ───────────────────              ───────────
    prepare_request(...)  ─────────▶ HttpClient.send(prepared)
      (validation, early errors)       retry loop (idempotent methods, backoff + jitter)
                                         redirect loop (limit, SSRF check of literal IPs)
                                           one aiohttp request ── errors translated HERE ──┐
                                           body read completely, size cap while streaming │
    ◀──────────── Response (frozen: bytes, headers copy, no aiohttp object) ◀─────────────┘

The session is created lazily on the loop thread, the first time the loop sends a request,
and closed by a closer registered with ``LoopThread.add_closer`` when the loop stops. A change
of configuration (:func:`set_default_http_config`) makes new requests use a fresh session; the
old one is closed once its in-flight requests have finished.

Every aiohttp / asyncio / OS error is translated to the project's hierarchy in exactly one
place, :func:`translate_error`, called from :meth:`HttpClient._send_once`.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime
import functools
import logging
import threading
import weakref
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .._errors import BodyTooLarge, LoopNotRunning, TooManyRedirects, UpstreamError, UpstreamTimeout
from .._loop import LoopThread, default_loop
from ._config import HttpConfig
from ._request import USE_CONFIG, PreparedRequest, next_hop, parse_timeout, prepare_request
from ._response import REDIRECT_STATUSES as _REDIRECTS
from ._response import Headers, Response
from ._ssrf import GuardedResolver
from ._track import CURRENT, TrackConnections
from ._translate import BOUNDARY, translate_error

__all__ = [
    "HttpClient",
    "SessionLease",
    "current_http_config",
    "default_http_config",
    "http_client",
    "loop_http_client",
    "reset_http_config",
    "set_default_http_config",
    "use_http_config",
]

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=64)
def _pool_timeout(connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for a request without a total: one object per pair (it is immutable)."""
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=read)


@functools.lru_cache(maxsize=8)
def _user_agent_only(user_agent: str) -> dict[str, str]:
    return {"User-Agent": user_agent}


def _with_user_agent(prep: PreparedRequest, user_agent: str) -> dict[str, str] | None:
    """The request's headers with ``HttpConfig.user_agent`` unless it sets one or skips it."""
    headers = prep.headers
    if "user-agent" in prep.skip_headers:
        return headers
    if not headers:
        return _user_agent_only(user_agent)
    if any(name.lower() == "user-agent" for name in headers):
        return headers
    return {**headers, "User-Agent": user_agent}


async def _read_body(resp: aiohttp.ClientResponse, cap: int, method: str) -> bytes:
    """Read the whole body, refusing (without reading it) one larger than ``cap`` bytes."""
    length = resp.content_length
    if length is not None and length > cap:
        raise BodyTooLarge(f"{method} {resp.url}: the body is {length} bytes (Content-Length), more than max_body={cap}; raise max_body in bridge.http.configure() if it is expected.")
    if length is not None and "Content-Encoding" not in resp.headers:
        return await resp.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(f"{method} {resp.url}: the body passed max_body={cap} bytes while streaming and was not read further; raise max_body in bridge.http.configure() if it is expected.")
        chunks.append(chunk)
    return b"".join(chunks)


# -- the client --------------------------------------------------------------------------------
class _Connector(TrackConnections, aiohttp.TCPConnector):
    """The pool's connector: aiohttp's, noting which call took which connection (``_track``)."""


class _Session:
    """One aiohttp session and its resolver, with the count of requests using it."""

    __slots__ = ("generation", "inflight", "loop", "resolver", "retired", "session")

    def __init__(self, session: aiohttp.ClientSession, resolver: GuardedResolver, generation: int) -> None:
        self.session, self.resolver, self.generation = session, resolver, generation
        self.loop = asyncio.get_running_loop()
        self.inflight = 0
        self.retired = False

    async def close(self) -> None:
        await self.session.close()
        await self.resolver.close()


class SessionLease:
    """One request's use of a session: counted while held, and a retired session closes when
    its last lease is released (loop thread only)."""

    __slots__ = ("_client", "_holder", "resolver", "session")

    def __init__(self, client: HttpClient, holder: _Session) -> None:
        holder.inflight += 1
        client.inflight += 1
        client.requests += 1
        self._client: HttpClient | None = client
        self._holder = holder
        self.session: aiohttp.ClientSession = holder.session
        self.resolver: GuardedResolver = holder.resolver

    def release(self, failed: bool = False) -> None:
        """Give the session back (idempotent); ``failed`` counts the request as an error."""
        client, holder = self._client, self._holder
        if client is None:
            return
        self._client = None
        holder.inflight -= 1
        client.inflight -= 1
        if failed:
            client.errors += 1
        if holder.retired and holder.inflight == 0 and holder in client._retired:
            client._retired.discard(holder)
            client._close_later(holder)


class HttpClient:
    """The HTTP client of one loop thread (get it with :func:`http_client`).

    All methods but :meth:`configure` and :meth:`stats` run on the owning loop.

    Example::

        async def fetch_status(url: str) -> int:
            resp = await http_client().request("GET", url, timeout=5)
            return resp.status_code
    """

    def __init__(self, lt: LoopThread, config: HttpConfig | None = None) -> None:
        if not isinstance(lt, LoopThread):
            raise TypeError(f"HttpClient needs a LoopThread, got {type(lt).__name__}.")
        if config is not None and not isinstance(config, HttpConfig):
            raise TypeError(f"config must be an HttpConfig, not {type(config).__name__}.")
        self._lt = lt
        self._config = config if config is not None else _process_config
        self._follows_default = config is None
        #: one session per configuration in use: the client's own, and any a request brings
        #: (a Flask app's LOOPBRIDGE_HTTP, an adapter's), each with its own pool and guard
        #: (a SOCKS proxy's sessions are keyed by (configuration, proxy URL): a pool per proxy)
        self._sessions: dict[HttpConfig | tuple[HttpConfig, str], _Session] = {}
        self._retired: set[_Session] = set()
        #: the configuration and session used last (looked up by identity first)
        self._last: tuple[HttpConfig, _Session] | None = None
        #: sessions being closed in the background (see _close_later)
        self._closing: set[asyncio.Task[None]] = set()
        #: configurations this client used before configure() replaced them
        self._replaced: set[HttpConfig] = set()
        self._closed = False
        self.requests = self.errors = self.retries = self.inflight = 0
        if self._follows_default:
            _followers.add(self)

    @property
    def config(self) -> HttpConfig:
        """The configuration new requests use unless they bring their own."""
        return self._config

    def configure(self, config: HttpConfig) -> None:
        """Use ``config`` for new requests (any thread); the old session closes once idle."""
        if not isinstance(config, HttpConfig):
            raise TypeError(f"configure() needs an HttpConfig, not {type(config).__name__}.")
        old, self._config = self._config, config
        if old != config:
            self._replaced.add(old)

    def __repr__(self) -> str:
        return f"<HttpClient {'closed' if self._closed else 'open'} requests={self.requests} {self._config!r}>"

    # -- session lifecycle (loop thread only) ------------------------------------------------
    def _session(self, cfg: HttpConfig, socks: str | None = None) -> _Session:
        loop = asyncio.get_running_loop()
        last = self._last
        if socks is None and last is not None and last[0] is cfg and last[1].loop is loop and not last[1].retired:
            return last[1]  # the common case, without hashing the config
        key: HttpConfig | tuple[HttpConfig, str] = cfg if socks is None else (cfg, socks)
        holder = self._sessions.get(key)
        if holder is not None and holder.loop is loop:
            if socks is None:
                self._last = (cfg, holder)
            return holder
        if self._closed:
            raise LoopNotRunning("this HttpClient was closed when its loop stopped; use http_client() to get the current one.")
        if self._lt.running_loop is not loop:
            raise RuntimeError("this HttpClient belongs to another event loop; await async_core.http.async_request(...) or use http_client() of the loop you are on.")
        if holder is not None:  # opened on an earlier loop of this thread: never reuse it here
            self._sessions.pop(key, None)
        self._retire_stale()
        holder = self._sessions[key] = self._open(cfg, socks)
        if socks is None:
            self._last = (cfg, holder)
        return holder

    def _retire_stale(self) -> None:
        """Retire the sessions of replaced configurations, and idle extra ones past the cap."""
        replaced, self._replaced = self._replaced, set()
        replaced.discard(self._config)
        for key in [k for k in self._sessions if (k[0] if isinstance(k, tuple) else k) in replaced]:
            self._retire(self._sessions.pop(key))
        if len(self._sessions) < _MAX_SESSIONS:
            return
        for cfg, holder in list(self._sessions.items()):
            if cfg != self._config and holder.inflight == 0:
                del self._sessions[cfg]
                self._retire(holder)

    def _open(self, cfg: HttpConfig, socks: str | None = None) -> _Session:
        resolver = GuardedResolver(lambda: cfg.policy)
        tcp: dict[str, Any] = {
            "limit": cfg.limit, "limit_per_host": cfg.limit_per_host, "use_dns_cache": cfg.dns_cache,
            "ttl_dns_cache": cfg.dns_ttl if cfg.dns_cache else None, "ssl": cfg.verify,
        }
        if socks is None:
            connector: aiohttp.TCPConnector = _Connector(resolver=resolver, **tcp)
        else:  # every connection through the proxy; the guard resolves names when this process does
            from ._socks import open_socks_connector

            connector = open_socks_connector(socks, resolver, cfg.policy, **tcp)
        # No default headers: aiohttp would add them to every request, and a Session's request
        # sends exactly its own (urllib3's SKIP_HEADER leaves out a User-Agent); bridge.http adds
        # HttpConfig.user_agent per request (_send_once).
        session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
            timeout=aiohttp.ClientTimeout(total=None),
            max_line_size=_MAX_LINE, max_field_size=_MAX_LINE,
        )
        # Our retry policy is the only one: aiohttp would otherwise resend an idempotent request
        # once after a reset, doubling the attempts (and a PUT's or DELETE's side effects).
        # A private attribute (its own test client sets it too); absent on releases without it.
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        logger.debug("loopbridge: opened an HTTP session (%r%s)", cfg, "" if socks is None else f", through a SOCKS proxy at {urlsplit(socks).hostname}")
        return _Session(session, resolver, 0)

    def _retire(self, holder: _Session) -> None:
        holder.retired = True
        if self._last is not None and self._last[1] is holder:
            self._last = None
        if holder.inflight == 0:
            self._close_later(holder)
        else:
            self._retired.add(holder)

    def _close_later(self, holder: _Session) -> None:
        """Close ``holder`` in a task kept referenced until done (a task nothing references
        may be collected half-way, leaving the session unclosed)."""
        task = holder.loop.create_task(holder.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every session of this client (the loop's closer calls it at stop)."""
        self._closed = True
        _followers.discard(self)
        holders = [*self._sessions.values(), *self._retired]
        self._last = None
        self._sessions.clear()
        self._retired.clear()
        loop = asyncio.get_running_loop()
        closing = [t for t in self._closing if t.get_loop() is loop]
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)
        for holder in holders:
            if holder.loop is not loop:  # opened on a loop that is gone: nothing left to close
                continue
            try:
                await holder.close()
            except Exception:
                logger.exception("loopbridge: closing an HTTP session failed")

    # -- requests --------------------------------------------------------------------------
    async def request(self, method: str, url: Any, **kwargs: Any) -> Response:
        """Send one request (arguments as ``requests.request``) and return the :class:`Response`.

        Raises:
            UpstreamError: a subclass for each failure (connection, timeout, TLS, body size,
                redirects, blocked address); TypeError, ValueError or InvalidURL for bad arguments.
        """
        return await self.send(prepare_request(method, url, **kwargs))

    def resolve_config(self, config: HttpConfig | None = None) -> HttpConfig:
        """The configuration a request uses: ``config`` if given, else the one set for the
        current context (:func:`use_http_config`, e.g. a Flask app's ``LOOPBRIDGE_HTTP``),
        else the client's own."""
        cfg = config or _context_config.get() or self._config
        return self._config if cfg is not self._config and cfg == self._config else cfg

    def lease(self, cfg: HttpConfig, socks: str | None = None) -> SessionLease:
        """Take the session (pool) of ``cfg`` for one request; release it when done (loop thread).

        ``socks``: a SOCKS proxy URL (``loopbridge[socks]``); its connections have a pool of their own.
        """
        return SessionLease(self, self._session(cfg, socks))

    async def close_config(self, cfg: HttpConfig) -> None:
        """Close the session kept for ``cfg`` if it is idle and not the client's own (loop thread)."""
        if cfg == self._config:
            return
        for key in [k for k in self._sessions if (k[0] if isinstance(k, tuple) else k) == cfg]:
            holder = self._sessions[key]
            if holder.inflight == 0:
                del self._sessions[key]
                if self._last is not None and self._last[1] is holder:
                    self._last = None
                await holder.close()

    def connectors(self) -> list[aiohttp.BaseConnector]:
        """The connectors (pools) of this client's open sessions (loop thread)."""
        out = []
        for holder in [*self._sessions.values(), *self._retired]:
            connector = holder.session.connector
            if connector is not None:
                out.append(connector)
        return out

    async def send(self, prep: PreparedRequest, config: HttpConfig | None = None) -> Response:
        """Send a :class:`PreparedRequest`, with retries and redirects as configured.

        The configuration is the one :meth:`resolve_config` picks for ``config``.
        """
        cfg = self.resolve_config(config)
        lease = self.lease(cfg)
        loop = asyncio.get_running_loop()
        deadline = None if cfg.total_timeout is None else loop.time() + cfg.total_timeout
        failed = False
        try:
            if cfg.retries_for(prep.method) == 0:  # the default: no retry loop, one coroutine less
                return await self._follow(lease.session, prep, cfg, deadline)
            return await self._attempts(lease.session, prep, cfg, deadline)
        except UpstreamError:
            failed = True
            raise
        finally:
            lease.release(failed)

    async def _attempts(self, session: aiohttp.ClientSession, prep: PreparedRequest, cfg: HttpConfig, deadline: float | None) -> Response:
        retries = cfg.retries_for(prep.method)
        attempt = 0
        while True:
            try:
                resp = await self._follow(session, prep, cfg, deadline)
            except UpstreamError as exc:
                if attempt >= retries or not cfg.should_retry(exc) or not await self._pause(cfg, attempt + 1, deadline):
                    raise
            else:
                if attempt >= retries or resp.status_code not in cfg.retry_statuses or not await self._pause(cfg, attempt + 1, deadline):
                    return resp
            attempt += 1
            logger.debug("loopbridge: retry %d of %s %s", attempt, prep.method, prep.url)

    async def _pause(self, cfg: HttpConfig, attempt: int, deadline: float | None) -> bool:
        """Sleep before retry ``attempt``; False (no retry) if that would pass the deadline."""
        delay = cfg.backoff_delay(attempt)
        if deadline is not None and asyncio.get_running_loop().time() + delay >= deadline:
            return False
        self.retries += 1
        await asyncio.sleep(delay)
        return True

    async def _follow(self, session: aiohttp.ClientSession, prep: PreparedRequest, cfg: HttpConfig, deadline: float | None) -> Response:
        history: list[Response] = []
        policy = cfg.policy
        while True:
            if policy.block_private:
                policy.check_url_host(prep.url.host)
            resp = await self._send_once(session, prep, cfg, deadline)
            if not prep.allow_redirects or resp.status_code not in _REDIRECTS or "location" not in resp.headers:
                return dataclasses.replace(resp, history=tuple(history)) if history else resp
            if len(history) >= cfg.max_redirects:
                raise TooManyRedirects(
                    f"{prep.method} {history[0].url if history else prep.url}: more than max_redirects={cfg.max_redirects} redirects; "
                    "raise it in bridge.http.configure() or pass allow_redirects=False.", response=resp)
            history.append(resp)
            prep = next_hop(prep, resp)

    async def _send_once(self, session: aiohttp.ClientSession, prep: PreparedRequest, cfg: HttpConfig, deadline: float | None) -> Response:
        loop = asyncio.get_running_loop()
        timeout_arg = prep.timeout
        if timeout_arg is USE_CONFIG:
            connect, read = cfg.connect_timeout, cfg.read_timeout
        elif type(timeout_arg) is tuple and len(timeout_arg) == 2 and all(t is None or type(t) is float for t in timeout_arg):
            connect, read = timeout_arg  # already parsed in the caller's thread (prepare_request)
        else:
            connect, read = parse_timeout(timeout_arg)
        total = None
        if deadline is not None:
            total = deadline - loop.time()
            if total <= 0:
                raise UpstreamTimeout(f"{prep.method} {prep.url}: total_timeout={cfg.total_timeout}s passed before this attempt; raise it in bridge.http.configure().")
        # connect= also bounds the wait for a free pooled connection (limit / limit_per_host),
        # so a pool held by one hung host cannot hold every other caller past its timeout
        if total is None:
            timeout = _pool_timeout(connect, read)
        else:
            timeout = aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect, sock_read=read)
        extra: dict[str, Any] = {}
        if prep.json is not None:
            extra["json"] = prep.json
        elif prep.data is not None:
            extra["data"] = prep.data
        if prep.verify is not None and prep.verify != cfg.verify:
            extra["ssl"] = prep.verify
        if prep.skip_headers:
            extra["skip_auto_headers"] = prep.skip_headers
        started = loop.time()
        try:
            async with session.request(
                prep.method, prep.url, params=prep.params, headers=_with_user_agent(prep, cfg.user_agent), timeout=timeout,
                allow_redirects=False, cookies=prep.cookies, **extra,
            ) as raw:
                elapsed = loop.time() - started
                progress = CURRENT.get()
                if progress is not None:  # the head came: the caller's read deadline starts again
                    progress.step()
                content = await _read_body(raw, cfg.max_body, prep.method)
                return Response(
                    raw.status, (raw.reason or "").strip(), Headers(tuple([(str(k), v) for k, v in raw.headers.items()])), content, str(raw.url),
                    datetime.timedelta(seconds=elapsed), raw.charset, (), prep.method,
                )
        except BOUNDARY as exc:
            if isinstance(exc, UpstreamError):  # ours, raised inside (BodyTooLarge)
                raise
            raise translate_error(exc, prep.method, prep.url, (connect, read)) from exc

    # -- figures ---------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Pool and request figures (JSON-able; safe to call from any thread)."""
        cfg = self._config
        idle = in_use = 0
        for holder in list(self._sessions.values()):
            connector = holder.session.connector
            try:
                idle += sum(len(v) for v in list(getattr(connector, "_conns", {}).values()))
                in_use += len(getattr(connector, "_acquired", ()))
            except RuntimeError:  # the loop changed the pool while we counted; figures are best effort
                pass
        return {
            "limit": cfg.limit, "limit_per_host": cfg.limit_per_host,
            "connections_idle": idle, "connections_in_use": in_use,
            "requests_in_flight": self.inflight, "requests": self.requests,
            "errors": self.errors, "retries": self.retries,
            "sessions": len(self._sessions), "sessions_retiring": len(self._retired),
            "ssrf_guard": cfg.block_private,
        }


# -- the process's configuration and the per-loop singleton ----------------------------------
_process_config = HttpConfig()
_followers: weakref.WeakSet[HttpClient] = weakref.WeakSet()
_create_lock = threading.Lock()
#: sessions one client keeps open at most (beyond it, idle sessions of other configs close)
_MAX_SESSIONS = 16
#: longest status line and header line accepted, as requests (http.client) accepts them: a
#: large cookie or CSP header is common, and aiohttp's own default (8190) refuses them
_MAX_LINE = 65536
#: the configuration requests made in this context use (see :func:`use_http_config`)
_context_config: contextvars.ContextVar[HttpConfig | None] = contextvars.ContextVar("loopbridge_http_config", default=None)


def use_http_config(config: HttpConfig | None) -> contextvars.Token[HttpConfig | None]:
    """Make requests sent from the current context use ``config`` (``None``: the client's).

    Returns a token for :meth:`contextvars.ContextVar.reset`. Bridged calls carry the caller's
    context to the loop, so a Flask app sets its own ``LOOPBRIDGE_HTTP`` this way per request.
    """
    if config is not None and not isinstance(config, HttpConfig):
        raise TypeError(f"use_http_config() needs an HttpConfig or None, not {type(config).__name__}.")
    return _context_config.set(config)


def reset_http_config(token: contextvars.Token[HttpConfig | None]) -> None:
    """Undo a :func:`use_http_config` (the token it returned)."""
    _context_config.reset(token)


def current_http_config() -> HttpConfig:
    """The configuration a request sent from this context uses: the one :func:`use_http_config`
    set, else the process's (any thread; the caller's side reads its limits here)."""
    return _context_config.get() or _process_config


def default_http_config() -> HttpConfig:
    """The :class:`HttpConfig` clients of this process use unless given their own."""
    return _process_config


def set_default_http_config(config: HttpConfig) -> HttpConfig:
    """Make ``config`` the process's HTTP configuration; live clients switch for new requests."""
    global _process_config
    if not isinstance(config, HttpConfig):
        raise TypeError(f"set_default_http_config() needs an HttpConfig, not {type(config).__name__}.")
    _process_config = config
    for client in list(_followers):
        client.configure(config)
    logger.info("loopbridge: HTTP config is now %r", config)
    return config


def http_client(lt: LoopThread | None = None) -> HttpClient:
    """The HTTP client of ``lt`` (the default loop when ``None``), created on first use.

    Starts the loop if needed. The client is kept in ``lt.http`` and closed by the
    loop at stop; after a restart a new client is created.
    """
    if lt is None:
        lt = default_loop()
    elif not isinstance(lt, LoopThread):
        raise TypeError(f"http_client() needs a LoopThread or None, got {type(lt).__name__}.")
    client = lt.http
    if client is not None and not client._closed:
        return client
    lt.start()  # first: resources and closers are reset when the loop starts
    return loop_http_client(lt)


def loop_http_client(lt: LoopThread) -> HttpClient:
    """The HTTP client of an already running ``lt``; never starts (or waits for) the loop.

    This is the accessor for code running on the loop itself (``current_loop_thread()``).
    """
    client = lt.http
    if client is not None and not client._closed:
        return client
    with _create_lock:  # this also runs on the loop: held only for the few lines below
        client = lt.http
        if client is None or client._closed:
            client = lt.http = HttpClient(lt)
            lt.add_closer(client.aclose)
    return client
