"""HTTP mock libraries keep seeing the traffic that moved to the shared loop.

A test suite mocks HTTP where requests' stock path can be intercepted, in one of three places:

- ``requests.Session`` (``send``, ``get_adapter``, ``request``), as requests-mock does, or on one
  Session instance (``requests_mock.Mocker(session=s)``), or by mounting a transport adapter of
  its own on a Session (requests-mock's ``Adapter``, betamax);
- ``requests.adapters.HTTPAdapter.send``, as responses does;
- below requests, urllib3's connection pool and connection classes or ``http.client``'s, as
  vcrpy (and pytest-recording, which drives it) does.

Each of these places is a *seam*: an attribute whose stock value we know. While any seam holds
something else, a mock is active, and the traffic goes where that mock can see it:

- ``LoopBridgeAdapter.send`` hands the request to the patched ``HTTPAdapter.send`` (with an
  :class:`_AdapterView` standing for the adapter), or, when only urllib3/http.client is patched,
  sends it through a stock ``HTTPAdapter`` (:class:`_StockView`). A request the mock lets pass
  (responses' passthrough) reaches :class:`_LoopConnection` and is sent on the loop as usual;
- ``bridge.http.get/post/.../request`` send through a ``requests.Session`` with the adapter
  mounted (:func:`send_mocked`) and turn the answer into the facade's :class:`Response`;
- ``bridge.http.map`` sends its items one after the other the same way, errors as values
  (:func:`map_mocked`, :func:`map_session_mocked`).

Nothing here imports a mock library: the seams are requests', urllib3's and http.client's own
attributes, so any library that patches them is seen. docs/http.md ("Testing") has the details.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import requests
import requests.adapters
import urllib3.connectionpool
from requests.utils import _parse_content_type_header

from async_core import InvalidURL, UpstreamTimeout
from async_core.http import (
    USE_CONFIG,
    Headers,
    HttpConfig,
    PreparedRequest,
    Response,
    default_http_config,
)
from async_core.http._client import _context_config

if TYPE_CHECKING:
    from ._adapter import LoopBridgeAdapter

__all__ = ["adapter_send", "map_mocked", "map_session_mocked", "requests_mocked", "send_mocked", "session_mocked"]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], object]


class _Seam:
    """One attribute a mock library replaces, and how to recognise its stock value.

    The stock value is recognised by where it is defined (module and qualified name), so a
    seam taken while a mock was already active is still judged right; the identity check
    first keeps the common case to one attribute read. A wrapper made with ``functools.wraps``
    carries the name of what it wraps and counts as stock: tracing instrumentation wraps
    ``Session.send`` that way, and it is not a mock (it calls the original).
    """

    __slots__ = ("module", "name", "owner", "qualname", "stock")

    def __init__(self, owner: Any, name: str, module: str, qualname: str) -> None:
        self.owner, self.name, self.module, self.qualname = owner, name, module, qualname
        self.stock: Any = None
        self.patched()

    def patched(self) -> bool:
        current = getattr(self.owner, self.name, None)
        if current is self.stock:
            return False
        if getattr(current, "__module__", None) == self.module and getattr(current, "__qualname__", None) == self.qualname:
            self.stock = current
            return False
        return True


_POOL = urllib3.connectionpool.HTTPConnectionPool
_TLS_POOL = urllib3.connectionpool.HTTPSConnectionPool

#: requests' Session: requests-mock's Mocker, ``mock.patch("requests.Session.request")``
_SESSION_SEAMS = (
    _Seam(requests.Session, "send", "requests.sessions", "Session.send"),
    _Seam(requests.Session, "get_adapter", "requests.sessions", "Session.get_adapter"),
    _Seam(requests.Session, "request", "requests.sessions", "Session.request"),
)
#: requests' transport: responses
_ADAPTER_SEAM = _Seam(requests.adapters.HTTPAdapter, "send", "requests.adapters", "HTTPAdapter.send")
#: below requests: vcrpy / pytest-recording (connection classes), mocks of urllib3's urlopen
_WIRE_SEAMS = (
    _Seam(_POOL, "urlopen", "urllib3.connectionpool", "HTTPConnectionPool.urlopen"),
    _Seam(_POOL, "ConnectionCls", "urllib3.connection", "HTTPConnection"),
    _Seam(_TLS_POOL, "ConnectionCls", "urllib3.connection", "HTTPSConnection"),
    _Seam(http.client, "HTTPConnection", "http.client", "HTTPConnection"),
    _Seam(http.client, "HTTPSConnection", "http.client", "HTTPSConnection"),
)
_ALL_SEAMS = (*_SESSION_SEAMS, _ADAPTER_SEAM, *_WIRE_SEAMS)

#: per thread: inside a mock's own "send it for real" (responses' passthrough)
_local = threading.local()


def _any_patched(seams: tuple[_Seam, ...]) -> bool:
    for seam in seams:  # a plain loop with the identity test inline: this runs on every request
        if getattr(seam.owner, seam.name, None) is not seam.stock and seam.patched():
            return True
    return False


def _wire_patched() -> bool:
    return _any_patched(_WIRE_SEAMS)


def requests_mocked() -> bool:
    """Whether a mock library has replaced part of requests' stock path (any seam)."""
    return _any_patched(_ALL_SEAMS)


def session_mocked(session: requests.Session | None) -> bool:
    """Whether ``session``'s traffic must go through ``session.send`` for a mock to see it.

    True while a mock is active (:func:`requests_mocked`); for a ``session``, also when the instance itself is
    patched (``requests_mock.Mocker(session=s)``), or when it has a transport adapter mounted
    that is neither an ``HTTPAdapter`` nor a ``LoopBridgeAdapter`` (requests-mock's
    ``Adapter``, betamax's): such an adapter answers its requests itself.
    """
    if session is None:
        return requests_mocked()
    if not isinstance(session, requests.Session):
        return False  # map() raises its TypeError for it
    if requests_mocked():
        return True
    own = vars(session)
    if "send" in own or "get_adapter" in own or "request" in own:
        return True
    return any(not isinstance(adapter, requests.adapters.HTTPAdapter | _loop_adapter_class())
               for adapter in session.adapters.values())


def _loop_adapter_class() -> type:
    from ._adapter import LoopBridgeAdapter

    return LoopBridgeAdapter


# -- the adapter ------------------------------------------------------------------------------------
def adapter_send(adapter: LoopBridgeAdapter, request: requests.PreparedRequest, stream: bool, timeout: Any,
                 verify: Any, cert: Any, proxies: Any) -> requests.Response | None:
    """The response a mock gives for ``request``, or ``None`` when no mock is active.

    Called first thing in ``LoopBridgeAdapter.send`` with its arguments.
    """
    mocked = not getattr(_local, "passing", 0) and _ADAPTER_SEAM.patched()
    if not mocked and not _wire_patched():
        return None
    kwargs = {"stream": stream, "timeout": timeout, "verify": verify, "cert": cert, "proxies": proxies}
    if mocked:
        return _through_patched_adapter(adapter, request, kwargs)
    return _through_stock_adapter(adapter, request, kwargs)


class _Carried(Exception):
    """Carries our send's exception through ``HTTPAdapter.send``, whose ``except OSError``
    would otherwise wrap it (requests' exceptions are ``OSError`` subclasses)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


class _AdapterView(requests.adapters.HTTPAdapter):
    """What a mock that replaced ``HTTPAdapter.send`` is handed as the adapter.

    The mock reads ``max_retries`` and calls ``build_response`` (both the real adapter's). When
    it sends for real, it calls requests' stock ``HTTPAdapter.send`` on this view, whose
    connection (:class:`_LoopConnection`) sends the request on the loop through the real adapter.
    """

    def __init__(self, owner: LoopBridgeAdapter, request: requests.PreparedRequest, kwargs: dict[str, Any]) -> None:
        super().__init__(max_retries=0)
        self.max_retries = owner.max_retries
        self.owner = owner
        self.request = request
        self.kwargs = kwargs
        self.sent: requests.Response | None = None

    # the step of requests' HTTPAdapter.send that picks a connection: named so from requests
    # 2.32.2, ``_get_connection`` in 2.32.0-2.32.1, ``get_connection(url, proxies)`` before
    def get_connection_with_tls_context(self, request: requests.PreparedRequest, verify: Any, proxies: Any = None,
                                        cert: Any = None) -> Any:
        return _LoopConnection(self, request)

    def _get_connection(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        return _LoopConnection(self, request)

    def get_connection(self, url: Any, proxies: Any = None) -> Any:
        return _LoopConnection(self, self.request)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """The real adapter checks ``verify`` and ``cert`` when it sends."""

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        """The real adapter's ``send`` calls its ``add_headers`` (once)."""

    def proxy_headers(self, proxy: str) -> dict[str, str]:
        return self.owner.proxy_headers(proxy)

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        sent = self.sent
        if sent is not None and resp is sent.raw:
            return sent
        return self.owner.build_response(req, resp)


class _LoopConnection:
    """The connection ``HTTPAdapter.send`` gets on an :class:`_AdapterView`: ``urlopen`` sends the
    request through the real adapter (on the loop) and returns its urllib3 response."""

    def __init__(self, view: _AdapterView, request: requests.PreparedRequest) -> None:
        self.view = view
        self.request = request

    def urlopen(self, *args: Any, **kwargs: Any) -> Any:
        view = self.view
        _local.passing = getattr(_local, "passing", 0) + 1
        try:
            view.sent = view.owner.send(self.request, **view.kwargs)
        except BaseException as exc:  # noqa: BLE001 - carried out unchanged, whatever it is
            raise _Carried(exc) from None
        finally:
            _local.passing -= 1
        return view.sent.raw


def _through_patched_adapter(adapter: LoopBridgeAdapter, request: requests.PreparedRequest,
                             kwargs: dict[str, Any]) -> requests.Response:
    view = _AdapterView(adapter, request, kwargs)
    try:
        return view.send(request, **kwargs)  # the mock's send, called as requests calls it
    except _Carried as carried:
        error = carried.error
    finally:
        view.close()
    raise error  # outside the handler: the error keeps its own cause and context


class _StockView(requests.adapters.HTTPAdapter):
    """A stock ``HTTPAdapter`` with the real adapter's hooks, for mocks below requests (vcrpy)."""

    def __init__(self, owner: LoopBridgeAdapter) -> None:
        super().__init__(max_retries=0)
        self.max_retries = owner.max_retries
        self.owner = owner

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        self.owner.add_headers(request, **kwargs)

    def proxy_headers(self, proxy: str) -> dict[str, str]:
        return self.owner.proxy_headers(proxy)

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        return self.owner.build_response(req, resp)


def _through_stock_adapter(adapter: LoopBridgeAdapter, request: requests.PreparedRequest,
                           kwargs: dict[str, Any]) -> requests.Response:
    stock = _StockView(adapter)
    send = _ADAPTER_SEAM.stock or requests.adapters.HTTPAdapter.send
    try:
        # the pool closes now; a connection still reading a streamed body closes when released
        return send(stock, request, **kwargs)  # type: ignore[no-any-return]
    finally:
        stock.close()


# -- the facade ---------------------------------------------------------------------------------------
def _config() -> HttpConfig:
    return _context_config.get() or default_http_config()


def _mock_session(cfg: HttpConfig) -> requests.Session:
    from ._adapter import _default_adapter

    session = requests.Session()
    adapter = _default_adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = cfg.user_agent
    session.max_redirects = cfg.max_redirects
    session.trust_env = False  # bridge.http reads no proxy or .netrc from the environment
    return session


def _request_kwargs(prep: PreparedRequest, cfg: HttpConfig) -> dict[str, Any]:
    """``requests.Session.request`` arguments sending what the loop would send for ``prep``."""
    headers = dict(prep.headers or {})
    data = prep.data
    if isinstance(data, str):  # as aiohttp sends a str body
        data = data.encode("utf-8")
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "text/plain; charset=utf-8"
    timeout = (cfg.connect_timeout, cfg.read_timeout) if prep.timeout is USE_CONFIG else prep.timeout
    return {
        "method": prep.method, "url": str(prep.url), "params": list(prep.params) if prep.params else None,
        "headers": headers, "json": prep.json, "data": data, "cookies": prep.cookies,
        "allow_redirects": prep.allow_redirects, "timeout": timeout,
        "verify": cfg.verify if prep.verify is None else prep.verify,
    }


def send_mocked(prep: PreparedRequest) -> Any:
    """Send ``prep`` through a ``requests.Session`` (so an active mock answers) as a :class:`Response`.

    Raises what the mock raises (a registered exception as registered, the mock's own error
    for a request it does not know). An answer that is not a ``requests.Response`` (a
    ``unittest.mock`` object a test made ``Session.request`` return) is returned as it is, as
    requests would return it.
    """
    cfg = _config()
    with _mock_session(cfg) as session:
        answer = session.request(**_request_kwargs(prep, cfg))
    return as_response(answer) if isinstance(answer, requests.Response) else answer


def as_response(answer: requests.Response) -> Response:
    """The facade's :class:`Response` for a ``requests.Response`` (its history too)."""
    headers = Headers([(str(name), str(value)) for name, value in answer.headers.items()])
    raw_headers: Any = getattr(answer.raw, "headers", None)
    if hasattr(raw_headers, "getlist"):  # urllib3's: a repeated header's values one by one
        split = Headers([(str(name), str(value)) for name, value in raw_headers.items()])
        if split == headers:  # unless a hook or callback changed response.headers after the fact
            headers = split
    content_type = headers.get("content-type")
    charset = _parse_content_type_header(content_type)[1].get("charset") if content_type else None
    return Response(
        answer.status_code, answer.reason or "", headers, answer.content or b"", str(answer.url), answer.elapsed,
        charset or None, tuple(as_response(hop) for hop in answer.history), str(answer.request.method),
    )


class _Batch:
    """Results of a batch sent one item at a time in this thread, as ``map`` returns them."""

    def __init__(self, total: int, deadline: float | None, return_exceptions: bool, progress: Progress | None) -> None:
        self.total = total
        self.ends = None if deadline is None else time.monotonic() + deadline
        self.deadline = deadline
        self.return_exceptions = return_exceptions
        self.progress = progress
        self.results: list[Any] = []

    def run(self, send: Callable[[Any], Any], item: Any) -> None:
        try:
            if self.ends is not None and time.monotonic() >= self.ends:
                raise UpstreamTimeout(f"map() deadline of {self.deadline}s passed before this item was sent; raise deadline=.")
            result = send(item)
        except Exception as exc:  # each item's failure is its result, as in map()
            if not self.return_exceptions:
                raise
            result = exc
        self.results.append(result)
        if self.progress is not None:
            try:
                self.progress(len(self.results), self.total)
            except Exception:  # a broken progress display must not fail the work
                logger.exception("loopbridge: map() progress callback failed; no more progress calls")
                self.progress = None


def _raise(exc: Exception) -> Any:
    raise exc


def map_mocked(preps: list[PreparedRequest | InvalidURL], deadline: float | None, return_exceptions: bool,
               progress: Progress | None) -> list[Response | Exception]:
    """``bridge.http.map`` while a mock is active: each item through :func:`send_mocked`, in order."""
    batch = _Batch(len(preps), deadline, return_exceptions, progress)
    for prep in preps:
        batch.run(send_mocked if isinstance(prep, PreparedRequest) else _raise, prep)
    return batch.results


def map_session_mocked(session: requests.Session | None, items: Iterable[Any], timeout: Any, deadline: float | None,
                       return_exceptions: bool, progress: Progress | None) -> list[requests.Response | Exception]:
    """``bridge.http.map(session=)`` while a mock sees the Session: each item by ``session.send``.

    Without a ``session`` (``requests.Request`` items), a new Session sends them, closed after.
    """
    if session is None:
        with requests.Session() as own:
            return map_session_mocked(own, items, timeout, deadline, return_exceptions, progress)
    from ._adapter import prepare_session_item

    preps: list[requests.PreparedRequest | Exception] = []
    for index, item in enumerate(items):  # every item first: misuse raises before anything is sent
        try:
            preps.append(prepare_session_item(session, index, item))
        except (requests.RequestException, ValueError) as exc:
            if not return_exceptions:
                raise
            preps.append(exc)
    batch = _Batch(len(preps), deadline, return_exceptions, progress)
    for prep in preps:
        batch.run(lambda p: _raise(p) if isinstance(p, Exception) else _send_item(session, p, timeout), prep)
    return batch.results


def _send_item(session: requests.Session, prep: requests.PreparedRequest, timeout: Any) -> requests.Response:
    settings = session.merge_environment_settings(str(prep.url), {}, None, None, None)
    return session.send(prep, timeout=timeout, allow_redirects=True, **settings)
