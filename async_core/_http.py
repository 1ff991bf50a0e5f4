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
import dataclasses
import datetime
import logging
import random
import weakref
from collections.abc import Iterable
from typing import Any

import aiohttp

from ._errors import (
    BlockedAddress,
    BodyTooLarge,
    InvalidURL,
    LoopNotRunning,
    TooManyRedirects,
    UpstreamConnectionError,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamPayloadError,
    UpstreamReadTimeout,
    UpstreamSSLError,
    UpstreamTimeout,
)
from ._loop import LoopThread, default_loop
from ._request import (
    USE_CONFIG,
    PreparedRequest,
    _seconds,
    next_hop,
    parse_timeout,
    prepare_request,
)
from ._response import REDIRECT_STATUSES as _REDIRECTS
from ._response import Headers, Response
from ._ssrf import AddressPolicy, GuardedResolver

__all__ = [
    "Headers",
    "HttpClient",
    "HttpConfig",
    "PreparedRequest",
    "Response",
    "default_http_config",
    "http_client",
    "loop_http_client",
    "parse_timeout",
    "prepare_request",
    "set_default_http_config",
    "translate_error",
]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_NEVER_RETRY = (BlockedAddress, UpstreamSSLError)




def _int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")


@dataclasses.dataclass(frozen=True)
class HttpConfig:
    """How a loop's HTTP client connects, waits, retries and what it refuses.

    Parameters:
        limit: connections open at once, all hosts together (0 = no limit).
        limit_per_host: connections open at once to one host:port (0 = no limit per host).
        dns_cache / dns_ttl: cache DNS answers for ``dns_ttl`` seconds.
        connect_timeout / read_timeout: seconds to connect, and to wait for each piece of the
            response. ``timeout=`` sets both the requests way (a number or ``(connect, read)``).
        total_timeout: seconds for a whole call, redirects and retries included (None = none).
        retries: extra attempts for idempotent methods (``retry_methods``) after a retryable
            failure; ``backoff`` * 2**(attempt-1) seconds apart, capped at ``backoff_max``, with
            jitter (half the delay is random).
        retry_on_connection_errors / retry_on_timeouts / retry_statuses: which failures retry.
        max_body: largest response body accepted, in bytes (streamed; larger is an error).
        max_redirects: longest redirect chain followed.
        verify: verify TLS certificates.
        block_private / allow: the SSRF guard and its allow-list of hosts and networks.
        user_agent: the ``User-Agent`` header sent unless a request sets its own.

    Example::

        cfg = HttpConfig(timeout=(3, 10), retries=0).replace(block_private=True, allow=["10.0.0.0/8"])
    """

    limit: int = 100
    limit_per_host: int = 0
    dns_cache: bool = True
    dns_ttl: float = 10.0
    connect_timeout: float | None = 10.0
    read_timeout: float | None = 30.0
    total_timeout: float | None = 60.0
    retries: int = 2
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
            _int(name, getattr(self, name), 0)
        _int("max_body", self.max_body, 1)
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            _seconds(name, getattr(self, name))
        for name in ("dns_ttl", "backoff", "backoff_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}.")
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


# -- the one boundary where foreign errors become ours -----------------------------------------
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
        return UpstreamConnectTimeout(f"{where}: no connection within the connect timeout ({connect}s); the host may be down or filtered. Raise it with timeout=(connect, read).")
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
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamPayloadError(f"{where}: the response body broke off or could not be decoded: {exc}.")
    if isinstance(exc, aiohttp.TooManyRedirects):
        return TooManyRedirects(f"{where}: too many redirects.")
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return InvalidURL(f"{where}: invalid URL: {exc}.")
    if isinstance(exc, aiohttp.ClientConnectionError | ConnectionError | OSError):
        return UpstreamConnectionError(f"{where}: connection failed: {exc!r}.")
    if isinstance(exc, aiohttp.ClientResponseError):
        return UpstreamError(f"{where}: the server's answer is not valid HTTP: {exc.message}.")
    return UpstreamError(f"{where}: request failed: {exc!r}.")


_BOUNDARY = (aiohttp.ClientError, OSError, asyncio.TimeoutError)


async def _read_body(resp: aiohttp.ClientResponse, cap: int, where: str) -> bytes:
    """Read the whole body, refusing (without reading it) one larger than ``cap`` bytes."""
    length = resp.content_length
    if length is not None and length > cap:
        raise BodyTooLarge(f"{where}: the body is {length} bytes (Content-Length), more than max_body={cap}; raise max_body in bridge.http.configure() if it is expected.")
    if length is not None and "Content-Encoding" not in resp.headers:
        return await resp.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(f"{where}: the body passed max_body={cap} bytes while streaming and was not read further; raise max_body in bridge.http.configure() if it is expected.")
        chunks.append(chunk)
    return b"".join(chunks)


# -- the client --------------------------------------------------------------------------------
class _Session:
    """One aiohttp session and its resolver, with the count of requests using it."""

    __slots__ = ("generation", "inflight", "resolver", "retired", "session")

    def __init__(self, session: aiohttp.ClientSession, resolver: GuardedResolver, generation: int) -> None:
        self.session, self.resolver, self.generation = session, resolver, generation
        self.inflight = 0
        self.retired = False

    async def close(self) -> None:
        await self.session.close()
        await self.resolver.close()


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
        self._generation = 0
        self._current: _Session | None = None
        self._retired: set[_Session] = set()
        self._closed = False
        self.requests = self.errors = self.retries = self.inflight = 0
        if self._follows_default:
            _followers.add(self)

    @property
    def config(self) -> HttpConfig:
        """The configuration new requests use."""
        return self._config

    def configure(self, config: HttpConfig) -> None:
        """Use ``config`` for new requests (any thread); the old session closes once idle."""
        if not isinstance(config, HttpConfig):
            raise TypeError(f"configure() needs an HttpConfig, not {type(config).__name__}.")
        self._config = config
        self._generation += 1

    def __repr__(self) -> str:
        return f"<HttpClient {'closed' if self._closed else 'open'} requests={self.requests} {self._config!r}>"

    # -- session lifecycle (loop thread only) ------------------------------------------------
    def _session(self) -> _Session:
        current = self._current
        if current is not None and current.generation == self._generation:
            return current
        if self._closed:
            raise LoopNotRunning("this HttpClient was closed when its loop stopped; use http_client() to get the current one.")
        loop = asyncio.get_running_loop()
        if self._lt._loop is not loop:
            raise RuntimeError("this HttpClient belongs to another event loop; await bridge.http.async_request(...) or use http_client() of the loop you are on.")
        if current is not None:
            self._retire(current)
        self._current = self._open(self._config)
        return self._current

    def _open(self, cfg: HttpConfig) -> _Session:
        resolver = GuardedResolver(lambda: self._config.policy)
        connector = aiohttp.TCPConnector(
            limit=cfg.limit, limit_per_host=cfg.limit_per_host, use_dns_cache=cfg.dns_cache,
            ttl_dns_cache=cfg.dns_ttl if cfg.dns_cache else None,  # type: ignore[arg-type]
            resolver=resolver, ssl=cfg.verify,
        )
        session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
            headers={"User-Agent": cfg.user_agent}, timeout=aiohttp.ClientTimeout(total=None),
        )
        logger.debug("loopbridge: opened an HTTP session (%r)", cfg)
        return _Session(session, resolver, self._generation)

    def _retire(self, holder: _Session) -> None:
        holder.retired = True
        if holder.inflight == 0:
            self._lt.loop.create_task(holder.close())
        else:
            self._retired.add(holder)

    async def aclose(self) -> None:
        """Close every session of this client (the loop's closer calls it at stop)."""
        self._closed = True
        _followers.discard(self)
        holders = [h for h in (self._current, *self._retired) if h is not None]
        self._current = None
        self._retired.clear()
        for holder in holders:
            try:
                await holder.close()
            except Exception:
                logger.exception("loopbridge: closing an HTTP session failed")

    # -- requests --------------------------------------------------------------------------
    async def request(self, method: str, url: Any, **kwargs: Any) -> Response:
        """Send one request (arguments as ``requests.request``) and return the :class:`Response`.

        Raises:
            UpstreamError: a subclass for each failure (connection, timeout, TLS, body size,
                redirects, blocked address); TypeError / ValueError / InvalidURL for bad arguments.
        """
        return await self.send(prepare_request(method, url, **kwargs))

    async def send(self, prep: PreparedRequest) -> Response:
        """Send a :class:`PreparedRequest`, with retries and redirects as configured."""
        holder = self._session()
        cfg = self._config
        loop = asyncio.get_running_loop()
        deadline = None if cfg.total_timeout is None else loop.time() + cfg.total_timeout
        self.requests += 1
        self.inflight += 1
        holder.inflight += 1
        try:
            return await self._attempts(holder.session, prep, cfg, deadline)
        except UpstreamError:
            self.errors += 1
            raise
        finally:
            self.inflight -= 1
            holder.inflight -= 1
            if holder.retired and holder.inflight == 0 and holder in self._retired:
                self._retired.discard(holder)
                loop.create_task(holder.close())

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
        connect, read = (cfg.connect_timeout, cfg.read_timeout) if prep.timeout is USE_CONFIG else parse_timeout(prep.timeout)
        total = None
        if deadline is not None:
            total = deadline - loop.time()
            if total <= 0:
                raise UpstreamTimeout(f"{prep.method} {prep.url}: total_timeout={cfg.total_timeout}s passed before this attempt; raise it in bridge.http.configure().")
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)
        extra: dict[str, Any] = {}
        if prep.json is not None:
            extra["json"] = prep.json
        elif prep.data is not None:
            extra["data"] = prep.data
        if prep.verify is not None and prep.verify != cfg.verify:
            extra["ssl"] = prep.verify
        started = loop.time()
        try:
            async with session.request(
                prep.method, prep.url, params=prep.params, headers=prep.headers, timeout=timeout,
                allow_redirects=False, cookies=prep.cookies, **extra,
            ) as raw:
                elapsed = loop.time() - started
                content = await _read_body(raw, cfg.max_body, f"{prep.method} {raw.url}")
                return Response(
                    raw.status, raw.reason or "", Headers(tuple([(str(k), v) for k, v in raw.headers.items()])), content, str(raw.url),
                    datetime.timedelta(seconds=elapsed), raw.charset, (), prep.method,
                )
        except _BOUNDARY as exc:
            if isinstance(exc, UpstreamError):  # ours, raised inside (BodyTooLarge)
                raise
            raise translate_error(exc, prep.method, prep.url, (connect, read)) from exc

    # -- figures ---------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Pool and request figures (JSON-able; safe to call from any thread)."""
        cfg = self._config
        idle = in_use = 0
        current = self._current
        if current is not None:
            connector = current.session.connector
            try:
                idle = sum(len(v) for v in list(getattr(connector, "_conns", {}).values()))
                in_use = len(getattr(connector, "_acquired", ()))
            except RuntimeError:  # the loop changed the pool while we counted; figures are best effort
                pass
        return {
            "limit": cfg.limit, "limit_per_host": cfg.limit_per_host,
            "connections_idle": idle, "connections_in_use": in_use,
            "requests_in_flight": self.inflight, "requests": self.requests,
            "errors": self.errors, "retries": self.retries,
            "sessions_retiring": len(self._retired), "ssrf_guard": cfg.block_private,
        }


# -- the process's configuration and the per-loop singleton ----------------------------------
_process_config = HttpConfig()
_followers: weakref.WeakSet[HttpClient] = weakref.WeakSet()


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

    Starts the loop if needed. The client is kept in ``lt.resources["http"]`` and closed by the
    loop at stop; after a restart a new client is created.
    """
    if lt is None:
        lt = default_loop()
    elif not isinstance(lt, LoopThread):
        raise TypeError(f"http_client() needs a LoopThread or None, got {type(lt).__name__}.")
    client = lt.resources.get("http")
    if client is not None and not client._closed:
        return client  # type: ignore[no-any-return]
    lt.start()  # first: resources and closers are reset when the loop starts
    return loop_http_client(lt)


def loop_http_client(lt: LoopThread) -> HttpClient:
    """The HTTP client of an already running ``lt``; never starts (or waits for) the loop.

    This is the accessor for code running on the loop itself (``current_loop_thread()``).
    """
    client = lt.resources.get("http")
    if client is not None and not client._closed:
        return client  # type: ignore[no-any-return]
    # no lock (this also runs on the loop): setdefault is atomic, and a client that loses the
    # race has not opened anything yet (its session is created on first use), so it is dropped
    candidate = HttpClient(lt)
    client = lt.resources.setdefault("http", candidate)
    if client._closed:  # closed by hand while the loop runs: replace it
        lt.resources["http"] = client = candidate
    if client is candidate:
        lt.add_closer(candidate.aclose)
    else:
        _followers.discard(candidate)
    return client  # type: ignore[no-any-return]
