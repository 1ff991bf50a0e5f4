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
import json as _json
import logging
import math
import random
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import aiohttp
from yarl import URL

from ._errors import (
    BlockedAddress,
    BodyTooLarge,
    InvalidURL,
    LoopNotRunning,
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
from ._loop import LoopThread, default_loop
from ._ssrf import AddressPolicy, GuardedResolver

__all__ = [
    "Headers",
    "HttpClient",
    "HttpConfig",
    "PreparedRequest",
    "Response",
    "default_http_config",
    "http_client",
    "parse_timeout",
    "prepare_request",
    "set_default_http_config",
    "translate_error",
]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NEVER_RETRY = (BlockedAddress, UpstreamSSLError)
_UNSUPPORTED = {
    "files": "multipart uploads are not supported; build the body yourself and pass data=",
    "stream": "streaming responses are not supported; every body is read completely (see max_body)",
    "proxies": "proxies are not supported by bridge.http; call requests directly for proxied traffic",
    "cert": "client certificates are not supported; call requests directly for mutual TLS",
    "hooks": "response hooks are not supported; post-process the returned Response instead",
}


class _UseConfig:
    """Marker: take the value from the client's :class:`HttpConfig`."""

    def __repr__(self) -> str:
        return "USE_CONFIG"


USE_CONFIG: Any = _UseConfig()
Timeout = float | int | tuple[float | int | None, float | int | None] | None


def _seconds(name: str, value: Any, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise TypeError(f"{name} must be a number of seconds{' or None' if allow_none else ''}, not {value!r}.")
    if value <= 0:
        raise ValueError(f"{name} must be > 0 seconds, got {value!r}; use None for no limit.")
    return float(value)


def parse_timeout(timeout: Timeout) -> tuple[float | None, float | None]:
    """Turn a requests-style ``timeout`` into ``(connect, read)`` seconds.

    A number applies to both, a ``(connect, read)`` tuple sets each, ``None`` means no limit
    (as in requests; the config's ``total_timeout`` still applies).

    Raises:
        TypeError / ValueError: any other shape, or a value that is not a positive number.

    Example::

        >>> parse_timeout(5)
        (5.0, 5.0)
        >>> parse_timeout((3.05, None))
        (3.05, None)
    """
    if isinstance(timeout, tuple):
        if len(timeout) != 2:
            raise ValueError(f"timeout tuple must be (connect, read), got {len(timeout)} values: {timeout!r}.")
        return _seconds("connect timeout", timeout[0]), _seconds("read timeout", timeout[1])
    value = _seconds("timeout", timeout)
    return value, value


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


# -- the response value ------------------------------------------------------------------------
class Headers(Mapping[str, str]):
    """Immutable, case-insensitive response headers.

    A header sent several times reads as its values joined with ``", "`` (as in requests);
    :meth:`getall` gives them one by one.

    Example::

        h = Headers([("Content-Type", "text/html"), ("X-A", "1"), ("x-a", "2")])
        assert h["content-type"] == "text/html" and h["X-A"] == "1, 2"
    """

    __slots__ = ("_items", "_lazy_index")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple(items)
        self._lazy_index: dict[str, tuple[str, str]] | None = None

    @property
    def _index(self) -> dict[str, tuple[str, str]]:
        # built on first use: most callers read a header or two, or none, of each response
        index = self._lazy_index
        if index is None:
            index = {}
            for name, value in self._items:
                key = name.lower()
                seen = index.get(key)
                index[key] = (name, value) if seen is None else (seen[0], f"{seen[1]}, {value}")
            self._lazy_index = index
        return index

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._index.values())

    def __len__(self) -> int:
        return len(self._index)

    def getall(self, name: str) -> list[str]:
        """Every value of header ``name``, in the order received (empty list if absent)."""
        key = name.lower()
        return [v for k, v in self._items if k.lower() == key]

    def lower_items(self) -> Iterator[tuple[str, str]]:
        """``(lower-case name, value)`` pairs, as requests' ``CaseInsensitiveDict`` offers."""
        return ((k, v[1]) for k, v in self._index.items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.lower_items()) == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclasses.dataclass(frozen=True, eq=False)
class Response:
    """An HTTP response read completely on the loop: plain data, safe to pass between threads.

    Mirrors the parts of ``requests.Response`` legacy code uses: ``status_code``, ``ok``,
    ``reason``, case-insensitive ``headers``, ``content``, ``text``, ``json()``, ``url`` (after
    redirects), ``elapsed``, ``history``, ``encoding`` and ``raise_for_status()``.

    Example::

        resp = bridge.http.get("https://example.org/")
        resp.raise_for_status()
        print(resp.status_code, resp.headers["content-type"], len(resp.content))
    """

    status_code: int
    reason: str
    headers: Headers
    content: bytes
    url: str
    elapsed: datetime.timedelta
    encoding: str | None = None
    history: tuple[Response, ...] = ()
    method: str = "GET"

    @property
    def ok(self) -> bool:
        """``True`` when the status is below 400."""
        return self.status_code < 400

    def __bool__(self) -> bool:
        return self.ok

    @property
    def is_redirect(self) -> bool:
        """A redirect status with a ``Location`` header (only seen with ``allow_redirects=False``)."""
        return self.status_code in _REDIRECTS and "location" in self.headers

    @property
    def text(self) -> str:
        """The body decoded: the declared charset, else UTF-8, else a detected one (never raises)."""
        cached = self.__dict__.get("_text")
        if cached is None:
            cached = _decode(self.content, self.encoding)
            object.__setattr__(self, "_text", cached)
        return cached

    def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (``json.loads`` keyword arguments pass through).

        Raises:
            UpstreamJSONError: the body is not JSON (also ``requests.JSONDecodeError``).
        """
        try:
            return _json.loads(self.text if self.encoding else self.content, **kwargs)
        except _json.JSONDecodeError as exc:
            raise UpstreamJSONError(exc.msg, exc.doc, exc.pos) from exc

    def raise_for_status(self) -> None:
        """Raise :class:`UpstreamHTTPError` (a ``requests.HTTPError``) for a 4xx or 5xx status."""
        if self.status_code < 400:
            return
        kind = "Client" if self.status_code < 500 else "Server"
        raise UpstreamHTTPError(
            f"{self.status_code} {kind} Error: {self.reason} for url: {self.url}", response=self
        )

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


def _decode(content: bytes, encoding: str | None) -> str:
    if encoding:
        try:
            return content.decode(encoding, errors="replace")
        except LookupError:
            logger.debug("loopbridge: unknown charset %r declared; guessing", encoding)
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(content[:64 * 1024]).best()
        if best is not None:
            return content.decode(best.encoding, errors="replace")
    except ImportError:  # requests brings charset_normalizer or chardet; tolerate neither
        pass
    return content.decode("utf-8", errors="replace")


# -- request preparation (runs in the caller's thread: misuse fails there) ----------------------
@dataclasses.dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A validated request description (what :func:`prepare_request` returns)."""

    method: str
    url: URL
    params: tuple[tuple[str, str], ...] | None = None
    headers: dict[str, str] | None = None
    json: Any = None
    data: Any = None
    timeout: Any = USE_CONFIG
    allow_redirects: bool = True
    cookies: dict[str, str] | None = None
    verify: bool | None = None


def parse_url(url: Any) -> URL:
    """Parse and check an http(s) URL.

    Raises:
        TypeError: ``url`` is not a string.
        InvalidURL: no scheme, another scheme than http/https, or no host.
    """
    if isinstance(url, URL):
        parsed = url
    elif isinstance(url, str):
        try:
            parsed = URL(url.strip())
        except (ValueError, TypeError) as exc:
            raise InvalidURL(f"invalid URL {url!r}: {exc}; check its syntax.") from exc
    else:
        raise TypeError(f"url must be a string such as 'https://example.org/', not {type(url).__name__}.")
    if not parsed.scheme:
        raise InvalidURL(f"invalid URL {str(url)!r}: no scheme supplied; perhaps you meant 'http://{url}'?")
    if parsed.scheme not in ("http", "https"):
        raise InvalidURL(f"invalid URL {str(url)!r}: scheme {parsed.scheme!r} is not supported; use http:// or https://.")
    if not parsed.host:
        raise InvalidURL(f"invalid URL {str(url)!r}: no host; write it as 'http://host/path'.")
    return parsed


def _pairs(name: str, value: Any) -> Iterator[tuple[str, str]]:
    items = value.items() if isinstance(value, Mapping) else value
    try:
        for key, val in items:
            if val is None:
                continue
            vals = val if isinstance(val, list | tuple) else (val,)
            for v in vals:
                yield str(key), (v.decode() if isinstance(v, bytes) else str(v))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a dict or a list of (key, value) pairs, not {value!r}.") from None


def prepare_request(method: str, url: Any, *, params: Any = None, headers: Mapping[str, Any] | None = None,
                    json: Any = None, data: Any = None, timeout: Any = USE_CONFIG, allow_redirects: bool = True,
                    cookies: Mapping[str, str] | None = None, auth: Any = None, verify: bool | None = None,
                    **unsupported: Any) -> PreparedRequest:
    """Validate the arguments of a requests-style call and return a :class:`PreparedRequest`.

    Raises:
        TypeError: an argument of the wrong type, or a requests argument that is not supported
            (``files``, ``stream``, ``proxies``, ``cert``, ``hooks``) — the message says what to do.
        ValueError: an impossible value (a bad timeout, ``json`` and ``data`` together).
        InvalidURL: the URL has no scheme/host or is not http(s).
    """
    for name in unsupported:
        raise TypeError(f"{name}= {_UNSUPPORTED.get(name, 'is not an argument of bridge.http; supported: params, headers, json, data, timeout, allow_redirects, cookies, auth, verify')}.")
    if not isinstance(method, str) or not method.isalpha():
        raise TypeError(f"method must be an HTTP method name such as 'GET', not {method!r}.")
    if json is not None and data is not None:
        raise ValueError("pass either json= or data=, not both.")
    if data is not None and not isinstance(data, str | bytes | bytearray | Mapping | list | tuple):
        raise TypeError(f"data must be str, bytes, a dict or a list of pairs (files and iterators are not supported), not {type(data).__name__}.")
    if timeout is not USE_CONFIG:
        parse_timeout(timeout)
    if not isinstance(allow_redirects, bool):
        raise TypeError("allow_redirects must be True or False.")
    if verify is not None and not isinstance(verify, bool):
        raise TypeError("verify must be True or False (CA bundle paths are not supported; install the CA system-wide).")
    header_dict = None if headers is None else dict(_pairs("headers", headers))
    if auth is not None:
        header_dict = {k: v for k, v in (header_dict or {}).items() if k.lower() != "authorization"}
        header_dict["Authorization"] = _basic_auth(auth)
    return PreparedRequest(
        method.upper(), parse_url(url),
        params=None if params is None else (tuple(_pairs("params", params)) if not isinstance(params, str) else tuple(URL("?" + params).query.items())),
        headers=header_dict, json=json, data=data, timeout=timeout, allow_redirects=allow_redirects,
        cookies=None if cookies is None else dict(_pairs("cookies", cookies)), verify=verify,
    )


def _basic_auth(auth: Any) -> str:
    """The ``Authorization`` header value for requests-style basic ``auth``."""
    if isinstance(auth, tuple) and len(auth) == 2:
        return aiohttp.encode_basic_auth(str(auth[0]), str(auth[1]))
    user, password = getattr(auth, "username", None), getattr(auth, "password", None)
    if type(auth).__name__ == "HTTPBasicAuth" and user is not None:
        return aiohttp.encode_basic_auth(str(user), str(password))
    raise TypeError("auth must be a (user, password) tuple or requests.auth.HTTPBasicAuth; other auth schemes are not supported, set the Authorization header instead.")


def _next_hop(prep: PreparedRequest, resp: Response) -> PreparedRequest:
    """The request a redirect asks for, rewritten the way requests does it."""
    location = resp.headers["location"]
    try:
        target = prep.url.join(URL(location))
    except ValueError as exc:
        raise InvalidURL(f"{prep.url} redirected to an invalid URL {location!r}: {exc}.") from exc
    if target.scheme not in ("http", "https") or not target.host:
        raise InvalidURL(f"{prep.url} redirected to {location!r}, which is not an http(s) URL; not followed.")
    method, json, data, headers = prep.method, prep.json, prep.data, prep.headers
    status = resp.status_code
    if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
        method, json, data = "GET", None, None
        if headers:
            headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
    cookies = prep.cookies
    if target.host != prep.url.host:  # credentials are not sent to another host
        cookies = None
        if headers:
            headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
    return dataclasses.replace(prep, method=method, url=target, params=None, json=json, data=data,
                               headers=headers, cookies=cookies)


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
            prep = _next_hop(prep, resp)

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
