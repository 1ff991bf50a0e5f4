"""A ``requests`` transport adapter that sends a Session's traffic on the shared loop.

Mount it and keep the Session's code (auth, cookies, hooks, base headers, redirects)::

    session = requests.Session()
    session.mount("http://", bridge.http.LoopBridgeAdapter())
    session.mount("https://", bridge.http.LoopBridgeAdapter())

requests does everything around ``send()`` as usual: it prepares the request, applies auth and
cookies, follows redirects and runs hooks. ``send()`` hands the prepared request to the loop's
aiohttp pool (``bridge.run``) and returns a real ``requests.Response`` whose ``raw`` is a
urllib3 ``HTTPResponse`` reading the body as it arrives (``stream=True``) or from memory.
docs/http.md ("Mount on your Session") lists what differs from ``HTTPAdapter``.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import inspect
import logging
import os
import socket
import ssl
import threading
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import requests
import requests.adapters
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.auth import _basic_auth_str
from requests.utils import get_auth_from_url, get_encoding_from_headers, prepend_scheme_if_needed, select_proxy
import urllib3.exceptions
from urllib3 import HTTPHeaderDict, HTTPResponse
from urllib3.util import parse_url
from urllib3.util.retry import Retry
from yarl import URL

from async_core import (
    BlockedAddress,
    DeadlockRisk,
    LoopNotRunning,
    UpstreamConnectionError,
    UpstreamConnectTimeout,
    UpstreamError,
    UpstreamReadTimeout,
    UpstreamSSLError,
    default_loop,
)
from async_core.http import HttpConfig, default_http_config
from async_core.http._request import SKIP_HEADER, check_skip, header_text
from async_core.http._socks import SOCKS_SCHEMES, socks_available
from async_core.http._stream import (
    BodyPipe,
    Opened,
    StreamSpec,
    Transport,
    drop_opened,
    iterate_in_thread,
)
from async_core.http._track import CallerDeadline, Progress

from ._calls import run_watched
from ._mocks import adapter_send
from ._raw import Raw, Source

__all__ = ["LoopBridgeAdapter", "SessionBatch", "prepare_session_item", "retry_overrides"]

logger = logging.getLogger(__name__)

#: seconds close() waits for the loop to close the adapter's connections
_CLOSE_WAIT = 2.0
#: urllib3 2.3+ responses carry ``version_string`` (what the connection speaks)
_HAS_VERSION_STRING = "version_string" in inspect.signature(HTTPResponse.__init__).parameters
_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
_COOKIE_HEADERS = frozenset({"set-cookie", "set-cookie2"})


def retry_overrides(max_retries: Any) -> tuple[dict[str, Any], bool]:
    """The :class:`HttpConfig` retry fields an ``HTTPAdapter``-style ``max_retries`` maps to.

    Returns ``(fields, raise_on_status)``. An int is the number of retries (as ``HTTPAdapter``:
    connection failures only, never a read after the request was sent, no status retries). A
    urllib3 ``Retry`` maps ``total`` (capped by the largest of ``connect``/``read``/``status``),
    ``connect=0``, ``read=0``/``False``, ``backoff_factor``, ``backoff_max``,
    ``status_forcelist``, ``allowed_methods`` and ``raise_on_status``; its other fields
    (``redirect``, ``respect_retry_after_header``, ``backoff_jitter``, ``other``,
    ``remove_headers_on_redirect``) have no effect here.
    """
    if isinstance(max_retries, bool) or not isinstance(max_retries, int | Retry):
        raise TypeError(f"max_retries must be an int or a urllib3 Retry, as for HTTPAdapter, not {max_retries!r}.")
    if isinstance(max_retries, int):
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {max_retries}.")
        return {"retries": max_retries, "retry_on_timeouts": False, "retry_statuses": frozenset()}, False
    r = max_retries
    counts = [c for c in (r.connect, r.read, r.status) if isinstance(c, int) and not isinstance(c, bool)]
    total = r.total if isinstance(r.total, int) and not isinstance(r.total, bool) else None
    if counts:  # one count for every kind here: the largest specific one, within the total
        total = max(counts) if total is None else min(total, max(counts))
    total = total or 0
    methods = r.allowed_methods
    fields: dict[str, Any] = {
        "retries": max(0, total),
        "retry_on_connection_errors": r.connect != 0,
        "retry_on_timeouts": r.read not in (0, False),
        "retry_statuses": frozenset(r.status_forcelist or ()),
        "backoff": float(r.backoff_factor),
        "backoff_max": float(getattr(r, "backoff_max", 120)),
        "retry_methods": frozenset(methods) if methods else frozenset(
            {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH", "TRACE", "CONNECT"}),
    }
    return fields, bool(r.raise_on_status)


class LoopBridgeAdapter(requests.adapters.BaseAdapter):
    """A requests transport adapter whose requests run on the shared loop's aiohttp pool.

    Parameters:
        config: an :class:`HttpConfig` for this adapter (its own pool, SSRF guard, size cap,
            timeouts, retries); ``None`` (default) uses the loop's shared pool and the
            process's configuration (``bridge.http.configure``).
        max_retries: as for ``HTTPAdapter``: an int, or a urllib3 ``Retry`` (see
            ``retry_overrides`` for what is mapped). Not given: the retry policy of
            ``config`` / ``**changes`` when either is given, else none (``HTTPAdapter``'s 0).
        pool_maxsize: as for ``HTTPAdapter``: connections per host (gives the adapter its own pool).
        pool_connections, pool_block: accepted for ``HTTPAdapter`` compatibility; aiohttp has
            no per-host pool count and always waits for a free connection.
        **changes: fields of :class:`HttpConfig` (``block_private=True``, ``max_body=...``),
            applied to ``config`` (or the process's) for an adapter-own configuration.

    Example::

        session = requests.Session()
        adapter = LoopBridgeAdapter(block_private=True, allow=["10.1.0.0/16"], max_retries=2)
        session.mount("https://", adapter)
        session.get("https://example.org/", timeout=(3, 10)).raise_for_status()
    """

    def __init__(self, config: HttpConfig | None = None, *, max_retries: int | Retry | None = None,
                 pool_connections: int = 10, pool_maxsize: int | None = None, pool_block: bool = False,
                 **changes: Any) -> None:
        super().__init__()
        if config is not None and not isinstance(config, HttpConfig):
            raise TypeError(f"config must be an HttpConfig or None, not {type(config).__name__}.")
        if pool_maxsize is not None:
            changes["limit_per_host"] = pool_maxsize
        if changes:
            config = (config or default_http_config()).replace(**changes)
        if max_retries is None and config is None and not changes:
            max_retries = requests.adapters.DEFAULT_RETRIES  # as HTTPAdapter: no retry unless asked
        self._max_retries_given = max_retries
        overrides, self._raise_on_status = ({}, False) if max_retries is None else retry_overrides(max_retries)
        self.max_retries = max_retries if isinstance(max_retries, Retry) else Retry(max_retries or 0, read=False)
        self._transport = Transport(config, overrides)
        self._ssl_cache: dict[tuple[Any, ...], ssl.SSLContext] = {}
        self._ssl_lock = threading.Lock()
        self._pool_kwargs: dict[str, Any] = {}
        # as HTTPAdapter.__init__: a subclass overriding init_poolmanager (to pass ssl_context=) runs here
        self.init_poolmanager(pool_connections, requests.adapters.DEFAULT_POOLSIZE if pool_maxsize is None else pool_maxsize,
                              block=pool_block)

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self._transport.config, "max_retries": self._max_retries_given}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"], max_retries=state["max_retries"])  # type: ignore[misc]

    def __repr__(self) -> str:
        config = self._transport.config
        return f"<LoopBridgeAdapter {'shared pool' if config is None else repr(config)}>"

    # -- requests' adapter interface --------------------------------------------------------
    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: bool | str = True, cert: Any = None, proxies: Mapping[str, str] | None = None) -> requests.Response:
        """Send a prepared request on the shared loop; see ``requests.adapters.HTTPAdapter.send``."""
        lt = default_loop()
        if lt.in_loop_thread():
            raise DeadlockRisk(
                f"{request.method} {request.url}: a Session with LoopBridgeAdapter was called on the loopbridge loop "
                "thread (from a coroutine), where waiting for the answer would block the loop that has to fetch it. "
                "In async code, await bridge.http.async_request(...) / async_get(...) / async_map(...), or move the "
                "Session call off the loop: await asyncio.to_thread(session.get, url).")
        mocked = adapter_send(self, request, stream, timeout, verify, cert, proxies)
        if mocked is not None:  # an HTTP mock library is active in a test (bridge/_mocks.py)
            return mocked
        self.add_headers(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        spec = self._spec(request, stream, timeout, verify, cert, proxies)
        if spec.ssl is False or (isinstance(spec.ssl, ssl.SSLContext) and spec.ssl.verify_mode == ssl.CERT_NONE):
            # as urllib3 warns, so that code (and tests) relying on the warning keep it
            warnings.warn(f"Unverified HTTPS request is being made to host '{spec.url.host}'. Adding certificate "
                          "verification is strongly advised. See: https://urllib3.readthedocs.io/en/latest/"
                          "advanced-usage.html#tls-warnings", urllib3.exceptions.InsecureRequestWarning, stacklevel=2)
        progress = Progress(self._transport.connections)
        watch = CallerDeadline(lt, progress, spec.connect, spec.read, self._transport.caller_total(),
                               f"{spec.method} {request.url}", settle=drop_opened)
        try:
            opened: Opened = run_watched(self._transport.open(lt, spec, progress), watch)
        except UpstreamError as exc:
            exc.request = request
            _as_urllib3_error(exc, spec)
            raise
        return self._response(lt, request, spec, opened)

    def _response(self, lt: Any, request: requests.PreparedRequest, spec: StreamSpec, opened: Opened) -> requests.Response:
        head = opened.head
        limit = getattr(http.client, "_MAXHEADERS", 100)
        if len(head.headers) > limit:  # http.client refuses such an answer (and code tunes the limit there)
            if opened.body is not None:
                lt.call_soon(opened.body.abandon)
            raise requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
                "Connection aborted.", http.client.HTTPException(f"got more than {int(limit)} headers")), request=request)
        if head.retries_exhausted and self._raise_on_status:
            if opened.body is not None:
                lt.call_soon(opened.body.abandon)
            raise requests.exceptions.RetryError(
                f"{request.method} {request.url}: still {head.status} after the retries max_retries allows "
                "(the status is in its status_forcelist; pass Retry(raise_on_status=False) to get the response).",
                request=request)
        pipe = None if opened.body is None else BodyPipe(lt, opened.body, spec.read)
        source = Source(head, opened.content, pipe)
        raw = Raw(
            body=source,  # type: ignore[arg-type]
            headers=HTTPHeaderDict(list(head.headers)), status=head.status, version=head.version, reason=head.reason,
            preload_content=False, decode_content=False, original_response=source,  # type: ignore[arg-type]
            request_method=request.method, request_url=request.url,
        )
        # urllib3 2.3+ gives the version its connection speaks, HTTP/1.1, whatever the response's own (that
        # is raw.version); older urllib3 responses have no such attribute, and neither do ours there
        if _HAS_VERSION_STRING:
            raw.version_string = "HTTP/1.1"
        return self.build_response(request, raw)

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        """Add headers a subclass needs on every request; nothing by default.

        Called by :meth:`send` with its keyword arguments, before the request goes to the loop:
        the hook ``HTTPAdapter`` offers to subclasses, kept so that a subclass of one works as a
        subclass of this adapter.
        """

    def proxy_headers(self, proxy: str) -> dict[str, str]:
        """The headers for an http:// proxy (``Proxy-Authorization`` from credentials in its URL).

        As ``HTTPAdapter.proxy_headers``, and overridable the same way. They reach the proxy,
        not the destination: on the request line's request for http:// URLs, on the CONNECT for
        https:// ones.
        """
        username, password = get_auth_from_url(proxy)
        return {"Proxy-Authorization": _basic_auth_str(username, password)} if username else {}

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        """Take the pool arguments ``HTTPAdapter.init_poolmanager`` takes; called by ``__init__``.

        The hook a subclass of ``HTTPAdapter`` overrides to hand urllib3 its own TLS settings
        (``super().init_poolmanager(*args, ssl_context=ctx, **kwargs)``), kept so that such a
        subclass works as a subclass of this adapter: an ``ssl_context`` given here is the TLS
        context of every https:// request, with the request's ``verify`` and ``cert`` applied to
        it as urllib3 applies them (:meth:`cert_verify`). The pool itself is the loop's:
        ``connections`` and ``block`` are recorded only; other keyword arguments are ignored.
        """
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block
        context = pool_kwargs.get("ssl_context")
        if context is not None and not isinstance(context, ssl.SSLContext):
            raise TypeError(f"ssl_context must be an ssl.SSLContext, not {type(context).__name__}.")
        self._pool_kwargs = pool_kwargs
        with self._ssl_lock:
            self._ssl_cache.clear()

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        """Note the TLS settings of a request to ``url`` on ``conn``, as ``HTTPAdapter.cert_verify`` does.

        Sets ``conn.cert_reqs`` (``"CERT_REQUIRED"`` or ``"CERT_NONE"``), ``conn.ca_certs`` or
        ``conn.ca_cert_dir`` (a ``verify`` path; ``None`` for ``verify=True``: the system's CA
        store), ``conn.cert_file`` and ``conn.key_file`` (from ``cert``). A subclass may set more
        of what urllib3's connection offers, such as ``conn.key_password`` for an encrypted key,
        and the adapter builds the request's TLS context from what ``conn`` holds afterwards.

        Raises:
            OSError: a ``verify``, certificate or key path that does not exist (HTTPAdapter's messages).
        """
        if url.lower().startswith("https") and verify:
            conn.cert_reqs = "CERT_REQUIRED"
            if verify is not True:
                if not os.path.exists(verify):
                    raise OSError(f"Could not find a suitable TLS CA certificate bundle, invalid path: {verify}")
                if os.path.isdir(verify):
                    conn.ca_cert_dir = verify
                else:
                    conn.ca_certs = verify
        else:
            conn.cert_reqs = "CERT_NONE"
            conn.ca_certs = conn.ca_cert_dir = None
        if cert:
            conn.cert_file, conn.key_file = (cert, None) if isinstance(cert, str) else (cert[0], cert[1])
            if conn.cert_file and not os.path.exists(conn.cert_file):
                raise OSError(f"Could not find the TLS certificate file, invalid path: {conn.cert_file}")
            if conn.key_file and not os.path.exists(conn.key_file):
                raise OSError(f"Could not find the TLS key file, invalid path: {conn.key_file}")

    def build_response(self, req: requests.PreparedRequest, resp: HTTPResponse) -> requests.Response:
        """A ``requests.Response`` from the urllib3 response, as ``HTTPAdapter.build_response`` makes it."""
        response = requests.Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason  # type: ignore[assignment]
        response.url = req.url.decode("utf-8") if isinstance(req.url, bytes) else req.url  # type: ignore[assignment]
        if any(name.lower() in _COOKIE_HEADERS for name in resp.headers):  # else the jar stays as empty as it is
            extract_cookies_to_jar(response.cookies, req, resp)
        response.request = req
        response.connection = self  # type: ignore[assignment]
        return response

    def close(self) -> None:
        """Close the idle connections this adapter's requests used, and its own pool if it has one.

        As with ``HTTPAdapter``, a Session's connections end with ``session.close()``: those it
        used that sit idle in the loop's shared pool are closed (a server waiting for its
        clients to hang up is not kept waiting for the pool's keep-alive timeout), while
        connections busy with any Session's request are left to finish. The pool kept for the
        adapter's own configuration closes once idle. Idempotent; the adapter stays usable (a
        later request opens new connections), as ``HTTPAdapter`` after ``close()``.
        """
        lt = default_loop()
        if lt.running_loop is None or lt.in_loop_thread():
            return  # a stopped loop closed its sessions already
        try:
            lt.submit(self._close_on_loop(lt)).result(timeout=_CLOSE_WAIT)
        except LoopNotRunning:
            pass
        except concurrent.futures.TimeoutError:  # a blocked loop closes them once it runs again
            logger.debug("loopbridge: the loop did not close the adapter's connections within %ss; it will", _CLOSE_WAIT)

    async def _close_on_loop(self, lt: Any) -> None:
        self._transport.close_idle(lt)
        if self._transport.config is not None:
            await self._transport.aclose(lt)

    # -- preparing the spec (caller's thread: misuse fails here) ----------------------------
    def _spec(self, request: requests.PreparedRequest, stream: bool, timeout: Any, verify: bool | str,
              cert: Any, proxies: Mapping[str, str] | None) -> StreamSpec:
        url = request.url
        if not isinstance(url, str) or not url:
            raise requests.exceptions.InvalidURL(f"invalid URL {url!r}: the adapter needs a prepared http(s) URL.", request=request)
        try:
            parsed = URL(url, encoded=True)
        except (ValueError, TypeError) as exc:
            raise requests.exceptions.InvalidURL(f"invalid URL {url!r}: {exc}", request=request) from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise requests.exceptions.InvalidURL(f"invalid URL {url!r}: LoopBridgeAdapter sends http:// and https:// URLs only.", request=request)
        if parsed.user is not None or parsed.password is not None:
            parsed = parsed.with_user(None)  # requests already made it the Authorization header
        connect, read = _timeouts(timeout)
        proxy, proxy_headers, socks = self._proxy(request, proxies)
        headers = _wire_headers(request.headers.items())
        if proxy_headers and parsed.scheme == "http":  # no CONNECT: the proxy reads them on the request
            headers += proxy_headers
            proxy_headers = ()
        body, chunked = _body(request.body)
        if chunked:
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        present = {k.lower() for k, _ in headers}
        skip = frozenset(h for h in _AUTO_HEADERS if h.lower() not in present)
        return StreamSpec(
            method=str(request.method), url=parsed, headers=tuple(headers), body=body, connect=connect, read=read,
            ssl=self._ssl(request, verify, cert) if parsed.scheme == "https" else None, proxy=proxy, proxy_headers=proxy_headers, stream=bool(stream),
            chunked=chunked, skip_auto_headers=skip, socks=socks,
        )

    def _proxy(self, request: requests.PreparedRequest, proxies: Mapping[str, str] | None
               ) -> tuple[str | None, tuple[tuple[str, str], ...], str | None]:
        """``(http proxy, its headers, SOCKS proxy URL)`` for the request, as ``HTTPAdapter`` picks them."""
        if not proxies:  # the common case: select_proxy would parse the URL to find no proxy
            return None, (), None
        proxy = select_proxy(str(request.url), dict(proxies))
        if not proxy:
            return None, (), None
        proxy = prepend_scheme_if_needed(proxy, "http")
        if not parse_url(proxy).host:
            raise requests.exceptions.InvalidProxyURL(
                "Please check proxy URL. It is malformed and could be missing the host.", request=request)
        parsed = URL(proxy)
        if parsed.scheme in SOCKS_SCHEMES:
            if not socks_available():
                raise requests.exceptions.InvalidSchema(
                    f"Missing dependencies for SOCKS support: the proxy {parsed.with_password(None)} needs aiohttp-socks; "
                    "pip install 'loopbridge[socks]'.", request=request)
            if parsed.port is None:
                raise requests.exceptions.InvalidProxyURL(f"SOCKS proxy {parsed.with_password(None)} has no port; add one "
                                                          "(1080 is the usual).", request=request)
            return None, (), proxy  # credentials stay in the URL: the SOCKS handshake sends them
        if parsed.scheme != "http":
            raise requests.exceptions.InvalidProxyURL(
                f"proxy {parsed.with_password(None)} uses {parsed.scheme}://, which LoopBridgeAdapter does not support: "
                "it speaks to http:// proxies (they tunnel https:// too) and, with loopbridge[socks], to socks4, socks4a, "
                "socks5 and socks5h proxies. Use one of those, or mount requests.adapters.HTTPAdapter() for this URL "
                "prefix (docs/http.md, 'Mount on your Session').",
                request=request)
        headers = tuple((str(k), str(v)) for k, v in self.proxy_headers(proxy).items())
        return str(parsed.with_user(None)) if parsed.user or parsed.password else proxy, headers, None

    def _ssl(self, request: requests.PreparedRequest, verify: bool | str, cert: Any) -> Any:
        """The request's TLS setting for aiohttp: ``None`` (the pool's default), ``False`` or a context."""
        custom = self._pool_kwargs.get("ssl_context")
        hooked = type(self).cert_verify is not LoopBridgeAdapter.cert_verify
        if custom is None and not hooked:  # the common cases, without building the settings
            if verify is True and not cert:
                return None  # the pool's default context (system CAs, as HttpConfig.verify says)
            if verify is False and not cert:
                return False
        settings = _TLSSettings()
        self.cert_verify(settings, str(request.url), verify, cert)
        key = settings.key()
        if custom is None and key == _TLSSettings.DEFAULT:
            return None
        if custom is None and key == _TLSSettings.UNVERIFIED:
            return False
        with self._ssl_lock:
            context = self._ssl_cache.get(key)
            if context is None:
                try:
                    context = settings.context(custom)
                except ssl.SSLError as exc:  # HTTPAdapter raises requests' SSLError for these
                    raise UpstreamSSLError(
                        f"{request.method} {request.url}: the TLS settings could not be loaded ({exc}): verify={verify!r} "
                        f"must be a CA bundle (PEM certificates) or a directory of them, and cert={cert!r} a PEM client "
                        "certificate with its private key (in the same file, or as (cert, key)), with the key's "
                        "password if it is encrypted.",
                        request=request) from exc
                self._ssl_cache[key] = context
        return context


class _TLSSettings:
    """What ``cert_verify`` notes for a request: the part of urllib3's connection it sets."""

    #: key() of verify=True without a certificate, and of verify=False without one
    DEFAULT = ("CERT_REQUIRED", None, None, None, None, None)
    UNVERIFIED = ("CERT_NONE", None, None, None, None, None)

    def __init__(self) -> None:
        self.cert_reqs: str | int | None = None
        self.ca_certs: str | None = None
        self.ca_cert_dir: str | None = None
        self.cert_file: str | None = None
        self.key_file: str | None = None
        self.key_password: str | bytes | None = None

    def key(self) -> tuple[Any, ...]:
        required = self.cert_reqs in ("CERT_REQUIRED", ssl.CERT_REQUIRED, "REQUIRED")
        return ("CERT_REQUIRED" if required else "CERT_NONE", self.ca_certs, self.ca_cert_dir, self.cert_file,
                self.key_file, self.key_password)

    def context(self, custom: ssl.SSLContext | None) -> ssl.SSLContext:
        """A context with these settings; on ``custom`` (an ``init_poolmanager`` context), as urllib3 applies them."""
        required = self.key()[0] == "CERT_REQUIRED"
        if custom is not None:  # urllib3 sets its verify mode (a ValueError if it checks host names)
            context = custom
            if required and (self.ca_certs or self.ca_cert_dir):
                context.load_verify_locations(cafile=self.ca_certs, capath=self.ca_cert_dir)
            context.verify_mode = ssl.CERT_REQUIRED if required else ssl.CERT_NONE
        else:
            context = ssl.create_default_context(cafile=self.ca_certs, capath=self.ca_cert_dir)
            if not required:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        if self.cert_file:
            context.load_cert_chain(self.cert_file, self.key_file, self.key_password)
        return context


#: the User-Agent urllib3 sends when a request has none
_URLLIB3_USER_AGENT = f"python-urllib3/{urllib3.__version__}"


def _wire_headers(items: Any) -> list[tuple[str, str]]:
    """A prepared request's headers as ``HTTPAdapter`` (urllib3, http.client) puts them on the wire.

    ``bytes`` values are sent as their bytes; ``SKIP_HEADER`` leaves a header out; a request
    without ``Accept-Encoding`` says ``identity`` (http.client) and one without ``User-Agent``
    names urllib3 (as urllib3 does), unless skipped.
    """
    headers: list[tuple[str, str]] = []
    skipped: set[str] = set()
    for name, value in items:
        if type(value) is not str or value == SKIP_HEADER:
            name = name.decode("latin-1") if isinstance(name, bytes) else str(name)
            value = header_text(name, value)
            if value == SKIP_HEADER:
                skipped.add(check_skip(name))
                continue
        headers.append((name, value))
    present = {k.lower() for k, _ in headers}
    if "user-agent" not in present and "user-agent" not in skipped:
        headers.insert(0, ("User-Agent", _URLLIB3_USER_AGENT))
    if "accept-encoding" not in present and "accept-encoding" not in skipped:
        headers.insert(0, ("Accept-Encoding", "identity"))  # http.client's, right after Host
    return headers


def _as_urllib3_error(exc: UpstreamError, spec: StreamSpec) -> None:
    """Give a read timeout or a failed connection the shape ``HTTPAdapter``'s has.

    ``args[0]`` is urllib3's error and the text is urllib3's ("…: Read timed out. (read
    timeout=2.0)", "…: Max retries exceeded with url: /path (Caused by SSLError(…))"), which code
    written for requests prints and matches on (Sphinx's linkcheck report does); the project's
    advice stays as a note. Errors after a response began, and the SSRF guard's, keep ours.
    """
    pool = f"LoopBridgeAdapter(host={spec.url.host!r}, port={spec.url.port})"
    inner: Exception
    if isinstance(exc, UpstreamReadTimeout):
        inner = urllib3.exceptions.ReadTimeoutError(pool, str(spec.url), f"Read timed out. (read timeout={spec.read})")  # type: ignore[arg-type]
    else:
        reason = _connect_failure(exc, spec, pool)
        if reason is None:
            return
        inner = urllib3.exceptions.MaxRetryError(pool, spec.url.raw_path_qs, reason)  # type: ignore[arg-type]
    advice = str(exc)
    exc.args = (inner,)
    exc.add_note(advice)


def _connect_failure(exc: UpstreamError, spec: StreamSpec, pool: str) -> Exception | None:
    """urllib3's error for a connection that could not be made, or None for any other failure."""
    cause = exc.__cause__
    if isinstance(exc, UpstreamConnectTimeout):
        return urllib3.exceptions.ConnectTimeoutError(pool, f"Connection to {spec.url.host} timed out. (connect timeout={spec.connect})")
    if isinstance(exc, UpstreamSSLError):
        tls = getattr(cause, "certificate_error", None) or getattr(cause, "os_error", None) or cause
        return urllib3.exceptions.SSLError(tls)
    if isinstance(exc, BlockedAddress) or not isinstance(exc, UpstreamConnectionError):
        return None
    if isinstance(exc, requests.exceptions.ProxyError):
        return urllib3.exceptions.ProxyError("Unable to connect to proxy", getattr(cause, "os_error", None) or exc)
    if isinstance(cause, aiohttp.ClientConnectorDNSError) and isinstance(cause.os_error, socket.gaierror):
        return urllib3.exceptions.NameResolutionError(str(spec.url.host), pool, cause.os_error)  # type: ignore[arg-type]
    if isinstance(cause, aiohttp.ClientConnectorError):
        return urllib3.exceptions.NewConnectionError(pool, f"Failed to establish a new connection: {cause.os_error}")  # type: ignore[arg-type]
    return None


def _timeouts(timeout: Any) -> tuple[float | None, float | None]:
    """requests' ``timeout`` (None, a number, ``(connect, read)``, urllib3 ``Timeout``) as two values."""
    if isinstance(timeout, tuple):
        try:
            connect, read = timeout
        except ValueError:
            raise ValueError(f"Invalid timeout {timeout}. Pass a (connect, read) timeout tuple, or a single float to set both timeouts to the same value.") from None
        return _seconds(connect), _seconds(read)
    if timeout is None:
        return None, None
    if hasattr(timeout, "connect_timeout") and hasattr(timeout, "read_timeout"):  # urllib3 Timeout
        return _seconds(timeout.connect_timeout), _seconds(timeout.read_timeout)
    value = _seconds(timeout)
    return value, value


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"Timeout value must be an int, float or None, got {value!r}.")
    if value <= 0:
        raise ValueError(f"Attempted to set timeout to {value}, but the timeout cannot be set to a value less than or equal to 0.")
    return float(value)


def _body(body: Any) -> tuple[Any, bool]:
    """The request body for aiohttp, and whether it is sent chunked (an iterable of unknown size)."""
    if body is None or isinstance(body, bytes):
        return body, False
    if isinstance(body, bytearray | memoryview):
        return bytes(body), False
    if isinstance(body, str):
        return body.encode("utf-8"), False  # as urllib3 2 sends a str body
    if hasattr(body, "read"):
        return _read_file(body), False
    return iterate_in_thread(body), True


def _read_file(file: Any) -> bytes:
    """A file body read here, in the caller's thread (file reads would block the loop)."""
    data = file.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


# -- many requests of one Session at once (bridge.http.map(..., session=)) -------------------------
def _default_adapter() -> LoopBridgeAdapter:
    global _shared_adapter
    if _shared_adapter is None:
        _shared_adapter = LoopBridgeAdapter()
    return _shared_adapter


_shared_adapter: LoopBridgeAdapter | None = None


def prepare_session_item(session: requests.Session, index: int, item: Any) -> requests.PreparedRequest:
    """Item ``index`` of ``map(..., session=)`` prepared by the Session (TypeError for a bad item)."""
    if isinstance(item, str):
        item = requests.Request("GET", item)
    elif isinstance(item, Mapping):
        try:
            item = requests.Request(**{"method": "GET", **item})
        except TypeError as exc:
            raise TypeError(f"map() item {index}: {exc}; with session=, a dict item takes the arguments of requests.Request.") from None
    if isinstance(item, requests.Request):
        return session.prepare_request(item)
    if isinstance(item, requests.PreparedRequest):
        return item
    raise TypeError(f"map() item {index} is a {type(item).__name__}; with session=, pass URL strings, "
                    "requests.Request / PreparedRequest objects, or dicts of requests.Request arguments.")


class SessionBatch:
    """A batch of a Session's requests, prepared here, sent together on the loop, finished here.

    Each item is prepared by the Session (its auth, headers, cookies, params), sent through the
    Session's :class:`LoopBridgeAdapter` (a default one if the Session has a stock adapter
    mounted for that URL), and its response built, cookies stored in the Session's jar,
    redirects followed and hooks run in this thread, as ``Session.send`` does.
    """

    def __init__(self, session: requests.Session, items: list[Any], timeout: Any, return_exceptions: bool) -> None:
        if not isinstance(session, requests.Session):
            raise TypeError(f"session must be a requests.Session, not {type(session).__name__}.")
        self.session = session
        self.timeout = timeout
        self._environments: dict[tuple[str, str], dict[str, Any]] = {}
        self.jobs: list[tuple[requests.PreparedRequest, LoopBridgeAdapter, StreamSpec, dict[str, Any]] | Exception] = []
        for index, item in enumerate(items):
            try:
                self.jobs.append(self._prepare(index, item))
            except (requests.RequestException, ValueError) as exc:
                if not return_exceptions:
                    raise
                self.jobs.append(exc)

    def _prepare(self, index: int, item: Any) -> tuple[requests.PreparedRequest, LoopBridgeAdapter, StreamSpec, dict[str, Any]]:
        session = self.session
        prep = prepare_session_item(session, index, item)
        settings = self._environment(str(prep.url))
        adapter = session.get_adapter(str(prep.url))
        if not isinstance(adapter, LoopBridgeAdapter):
            adapter = _default_adapter()
        kwargs = {"timeout": self.timeout, "verify": settings["verify"], "cert": settings["cert"],
                  "proxies": dict(settings["proxies"])}
        adapter.add_headers(prep, stream=False, **kwargs)
        spec = adapter._spec(prep, False, **kwargs)
        return prep, adapter, spec, kwargs

    def _environment(self, url: str) -> dict[str, Any]:
        """The Session's environment settings for ``url`` (proxies, verify, cert), as ``Session.request`` merges them.

        They depend on the URL only through its scheme and host (which proxy, ``no_proxy``), and
        the environment does not change while a batch is prepared, so each scheme and host is
        merged once per batch: reading the proxy variables is most of requests' own cost per
        item (``urllib.request.getproxies_environment`` walks ``os.environ`` twice per call).
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        settings = self._environments.get(key)
        if settings is None:
            settings = self._environments[key] = self.session.merge_environment_settings(url, {}, None, None, None)
        return settings

    def factories(self, lt: Any) -> list[Any]:
        """One coroutine factory per item, for ``fan_out`` on the loop."""
        out: list[Any] = []
        for job in self.jobs:
            if isinstance(job, Exception):
                out.append(lambda e=job: _raise(e))
            else:
                prep, adapter, spec, _ = job
                out.append(lambda a=adapter, s=spec: a._transport.open(lt, s))
        return out

    def finish(self, lt: Any, results: list[Any]) -> list[requests.Response | Exception]:
        """Turn what the loop sent back into the Session's responses (this thread)."""
        finished: list[requests.Response | Exception] = []
        for job, result in zip(self.jobs, results, strict=True):
            if isinstance(job, Exception) or isinstance(result, BaseException):
                if isinstance(result, requests.RequestException) and not isinstance(job, Exception):
                    result.request = job[0]
                    if isinstance(result, UpstreamError):
                        _as_urllib3_error(result, job[2])
                finished.append(result if isinstance(result, Exception) else job)  # type: ignore[arg-type]
                continue
            prep, adapter, spec, kwargs = job
            try:
                finished.append(self._response(lt, prep, adapter, spec, kwargs, result))
            except requests.RequestException as exc:
                finished.append(exc)
        return finished

    def _response(self, lt: Any, prep: requests.PreparedRequest, adapter: LoopBridgeAdapter, spec: StreamSpec,
                  kwargs: dict[str, Any], opened: Opened) -> requests.Response:
        session = self.session
        r = adapter._response(lt, prep, spec, opened)
        r.elapsed = opened.head.elapsed
        r = requests.hooks.dispatch_hook("response", prep.hooks, r, **kwargs)
        if r.history:  # a hook may have resent the request itself
            for resp in r.history:
                extract_cookies_to_jar(session.cookies, resp.request, resp.raw)
        extract_cookies_to_jar(session.cookies, prep, r.raw)
        history = list(session.resolve_redirects(r, prep, **kwargs)) if r.is_redirect else []
        if history:
            history.insert(0, r)
            r = history.pop()
            r.history = history
        r.content  # noqa: B018  (read the body, as Session.send does when not streaming)
        return r


async def _raise(exc: Exception) -> Any:
    raise exc
