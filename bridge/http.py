"""``bridge.http``: a requests-shaped facade over the HTTP client on the shared loop.

A legacy call site migrates by changing its import::

    import requests                      import bridge.http as requests   # or: from bridge import http
    r = requests.get(url, timeout=5)     r = requests.get(url, timeout=5)
    r.raise_for_status(); r.json()       r.raise_for_status(); r.json()

Every call runs on the process's one event loop (``bridge.run``), whose aiohttp session keeps
its connection pool across calls and requests. :func:`map` fetches many URLs at once from sync
code; :func:`async_request`, :func:`async_get` and :func:`async_map` are the same calls for
``async def`` code. Errors are the project's (``UpstreamError`` and subclasses), which are also
the matching ``requests`` exceptions, so ``except requests.RequestException:`` keeps working.
``docs/http.md`` lists every difference from requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

import requests

from async_core import DeadlockRisk, InvalidURL, UpstreamError, default_loop, fan_out
from async_core.http import (
    DEFAULT_CONCURRENCY,
    USE_CONFIG,
    HttpConfig,
    Request,
    Response,
    async_get,
    async_map,
    async_request,
    check_map_args,
    default_http_config,
    fan_out_requests,
    PreparedRequest,
    prepare_items,
    prepare_request,
    send_on_loop,
    set_default_http_config,
)
from async_core.http._api import Item, Progress
from async_core.http._client import current_http_config
from async_core.http._request import parse_timeout
from async_core.http._track import CURRENT, CallerDeadline
from async_core.http._track import Progress as CallProgress

from . import _mocks
from ._adapter import LoopBridgeAdapter, SessionBatch
from ._calls import run_watched, to_async

#: requests' exceptions module (``except bridge.http.exceptions.RequestException:`` works)
exceptions = requests.exceptions
#: requests' status codes (``bridge.http.codes.ok == 200``)
codes = requests.codes

__all__ = [
    "HttpConfig",
    "LoopBridgeAdapter",
    "Request",
    "Response",
    "Session",
    "async_get",
    "async_map",
    "async_request",
    "codes",
    "configure",
    "delete",
    "exceptions",
    "get",
    "head",
    "map",
    "options",
    "patch",
    "post",
    "put",
    "request",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


# -- single requests ------------------------------------------------------------------------------
def request(method: str, url: str, **kwargs: Any) -> Response:
    """Send a request on the shared loop and return its :class:`Response` (like ``requests.request``).

    Parameters:
        method: ``"GET"``, ``"POST"``, …
        url: an ``http://`` or ``https://`` URL.
        **kwargs: ``params``, ``headers``, ``json``, ``data``, ``timeout`` (seconds, or a
            ``(connect, read)`` tuple), ``allow_redirects``, ``cookies``, ``auth`` (a
            ``(user, password)`` tuple), ``verify``.

    Raises:
        UpstreamError: the upstream failed (``UpstreamConnectionError``, ``UpstreamTimeout`` and
            their connect and read kinds, ``BlockedAddress``, ``TooManyRedirects``,
            ``BodyTooLarge``, ``InvalidURL``), each a ``requests.RequestException``.
        TypeError, ValueError: bad or unsupported arguments (``files=``, ``stream=``, …).
    """
    if method == "GET":
        _refuse_on_loop("get", "async_get(url, ...)")
    else:
        _refuse_on_loop(str(method).lower() if str(method).isalpha() else "request", f"async_request({method!r}, url, ...)")
    prep = prepare_request(method, url, **kwargs)
    if _mocks.requests_mocked():  # a test's HTTP mock library sees the call (bridge/_mocks.py)
        return _mocks.send_mocked(prep)
    return _send(prep)


def _send(prep: PreparedRequest) -> Response:
    """Send ``prep`` on the shared loop, its limits held from this thread too (a blocked loop cannot time out)."""
    cfg = current_http_config()
    connect, read = (cfg.connect_timeout, cfg.read_timeout) if prep.timeout is USE_CONFIG else prep.timeout
    progress = CallProgress()
    watch = CallerDeadline(default_loop(), progress, connect, read, cfg.total_timeout, lambda: f"{prep.method} {prep.url}")
    token = CURRENT.set(progress)  # the bridged call's context carries it to the loop
    try:
        return run_watched(send_on_loop(prep), watch)
    finally:
        CURRENT.reset(token)


def _run_batch(coro: Awaitable[list[Any]], count: int, timeout: Any, deadline: float | None,
               return_exceptions: bool) -> list[Any]:
    """Run a map's batch, its limits held from this thread too: if the loop is blocked past them,
    every item gets the timeout error (or it is raised, with ``return_exceptions=False``)."""
    cfg = current_http_config()
    connect, read = (cfg.connect_timeout, cfg.read_timeout) if timeout is USE_CONFIG else parse_timeout(timeout)
    progress = CallProgress()
    watch = CallerDeadline(default_loop(), progress, connect, read, deadline, f"map() of {count} requests",
                           total_name="deadline")
    token = CURRENT.set(progress)
    try:
        return run_watched(coro, watch)
    except UpstreamError as exc:
        if exc is not watch.error or not return_exceptions:
            raise
        return watch.split(count)
    finally:
        CURRENT.reset(token)


def _refuse_on_loop(name: str, twin: str) -> None:
    """Raise :class:`DeadlockRisk` naming the async twin when called on the loop thread."""
    if default_loop().in_loop_thread():
        raise DeadlockRisk(
            f"bridge.http.{name}() was called on the loopbridge loop thread (from a coroutine), where waiting for "
            f"the answer would block the loop that has to fetch it; in async code, await bridge.http.{twin} "
            "instead.")


def get(url: str, params: Any = None, **kwargs: Any) -> Response:
    """Send a GET request; see :func:`request`."""
    return request("GET", url, params=params, **kwargs)


def options(url: str, **kwargs: Any) -> Response:
    """Send an OPTIONS request; see :func:`request`."""
    return request("OPTIONS", url, **kwargs)


def head(url: str, **kwargs: Any) -> Response:
    """Send a HEAD request (redirects not followed unless ``allow_redirects=True``, as in requests)."""
    kwargs.setdefault("allow_redirects", False)
    return request("HEAD", url, **kwargs)


def post(url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Response:
    """Send a POST request; see :func:`request`."""
    return request("POST", url, data=data, json=json, **kwargs)


def put(url: str, data: Any = None, **kwargs: Any) -> Response:
    """Send a PUT request; see :func:`request`."""
    return request("PUT", url, data=data, **kwargs)


def patch(url: str, data: Any = None, **kwargs: Any) -> Response:
    """Send a PATCH request; see :func:`request`."""
    return request("PATCH", url, data=data, **kwargs)


def delete(url: str, **kwargs: Any) -> Response:
    """Send a DELETE request; see :func:`request`."""
    return request("DELETE", url, **kwargs)


# -- requests.Session on the loop ----------------------------------------------------------------
class Session(requests.Session):
    """A ``requests.Session`` whose http:// and https:// traffic runs on the shared loop.

    The same as mounting :class:`LoopBridgeAdapter` on a stock Session (docs/http.md, "Mount on
    your Session"); ``adapter`` is mounted for both schemes (a default one when ``None``).

    Example::

        with bridge.http.Session() as session:
            session.auth = ("user", "secret")
            session.get("https://example.org/api").raise_for_status()
    """

    def __init__(self, adapter: LoopBridgeAdapter | None = None) -> None:
        super().__init__()
        if adapter is not None and not isinstance(adapter, LoopBridgeAdapter):
            raise TypeError(f"adapter must be a LoopBridgeAdapter or None, not {type(adapter).__name__}.")
        adapter = adapter or LoopBridgeAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)


# -- fan-out --------------------------------------------------------------------------------------
class _ProgressPump:
    """Delivers ``(done, total)`` to a sync callback in the caller's thread, coalescing updates."""

    def __init__(self, callback: Progress) -> None:
        self._call = to_async(callback)
        self._latest: tuple[int, int] | None = None
        self._event = asyncio.Event()
        self._finished = False

    def update(self, done: int, total: int) -> None:
        self._latest = (done, total)
        self._event.set()

    def finish(self) -> None:
        self._finished = True
        self._event.set()

    async def pump(self) -> None:
        sent: tuple[int, int] | None = None
        while True:
            await self._event.wait()
            self._event.clear()
            latest = self._latest
            if latest is not None and latest != sent:
                sent = latest
                try:
                    await self._call(*latest)
                except Exception:
                    logger.exception("loopbridge: map() progress callback failed; no more progress calls")
                    return
            if self._finished and self._latest == sent:
                return


async def _with_progress(progress: Progress, work: Callable[[Callable[[int, int], None]], Awaitable[_T]]) -> _T:
    """Run ``work(update)`` while a pump delivers its ``update(done, total)`` calls to ``progress``."""
    pump = _ProgressPump(progress)
    task = asyncio.ensure_future(pump.pump())
    try:
        results = await work(pump.update)
    except BaseException:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    pump.finish()
    await task
    return results


async def _map_with_pump(preps: list[PreparedRequest | InvalidURL], concurrency: int, deadline: float | None,
                         return_exceptions: bool, progress: Progress) -> list[Response | Exception]:
    return await _with_progress(
        progress, lambda update: fan_out_requests(preps, concurrency, deadline, return_exceptions, update))


@overload
def map(items: Iterable[Item], *, concurrency: int = ..., timeout: Any = ..., deadline: float | None = ...,
        return_exceptions: bool = ..., progress: Progress | None = ..., session: None = ...) -> list[Response | Exception]: ...


@overload
def map(items: Iterable[Any], *, concurrency: int = ..., timeout: Any = ..., deadline: float | None = ...,
        return_exceptions: bool = ..., progress: Progress | None = ...,
        session: requests.Session) -> list[requests.Response | Exception]: ...


def map(items: Iterable[Any], *, concurrency: int = DEFAULT_CONCURRENCY, timeout: Any = USE_CONFIG,
        deadline: float | None = None, return_exceptions: bool = True,
        progress: Progress | None = None, session: requests.Session | None = None) -> list[Any]:
    """Send many requests, ``concurrency`` at a time, and return the results in input order.

    Parameters:
        items: URL strings (each a GET), :class:`Request` objects, or dicts of Request fields;
            or ``requests.Request`` / ``requests.PreparedRequest`` objects (see ``session``).
        session: a ``requests.Session`` whose auth, headers, cookies and params every item
            gets (``session.prepare_request``), sent through its :class:`LoopBridgeAdapter`;
            its jar receives the cookies, requests follows redirects and runs hooks. The
            results are then ``requests.Response`` objects. Items that are
            ``requests.Request`` objects without a ``session`` use a new ``requests.Session``.
        concurrency: requests in flight at once (1..10000; the pool limit applies too).
        timeout: per-request timeout (a number or ``(connect, read)``) for items that set none.
        deadline: seconds for the whole batch; unfinished items get an ``UpstreamTimeout``.
        return_exceptions: ``True`` puts each failure (an exception instance) in its slot;
            ``False`` raises the first failure and cancels the rest.
        progress: ``progress(done, total)``, called in this thread as items finish (updates
            are coalesced when it is slower than the requests).

    Returns:
        A list with, for each item, its :class:`Response` or its exception.

    Raises:
        TypeError, ValueError: a bad item or argument (before any request is sent).

    Example::

        for url, resp in zip(urls, bridge.http.map(urls, concurrency=50, timeout=5)):
            print(url, resp if isinstance(resp, Exception) else resp.status_code)
    """
    check_map_args(concurrency, deadline, progress, return_exceptions)
    _refuse_on_loop("map", "async_map(items, ...)")
    if session is not None or _has_requests_objects(items):
        return _map_session(session, items, concurrency, timeout, deadline, return_exceptions, progress)
    preps = prepare_items(items, timeout, return_exceptions)
    if not preps:
        return []
    if _mocks.requests_mocked():  # a test's HTTP mock library sees each item (bridge/_mocks.py)
        return _mocks.map_mocked(preps, deadline, return_exceptions, progress)  # type: ignore[return-value]
    if progress is None:
        coro = fan_out_requests(preps, concurrency, deadline, return_exceptions, None)
    else:
        coro = _map_with_pump(preps, concurrency, deadline, return_exceptions, progress)
    return _run_batch(coro, len(preps), timeout, deadline, return_exceptions)


def _has_requests_objects(items: Any) -> bool:
    if not isinstance(items, list | tuple):
        return False
    return any(isinstance(item, requests.Request | requests.PreparedRequest) for item in items)


def _map_session(session: requests.Session | None, items: Iterable[Any], concurrency: int, timeout: Any,
                 deadline: float | None, return_exceptions: bool, progress: Progress | None) -> list[Any]:
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise TypeError(f"map() needs a list of URLs or requests.Request objects, got {type(items).__name__}.")
    if timeout is USE_CONFIG:
        cfg = default_http_config()
        timeout = (cfg.connect_timeout, cfg.read_timeout)
    if _mocks.session_mocked(session):  # a test's HTTP mock library sees each item (bridge/_mocks.py)
        return _mocks.map_session_mocked(session, items, timeout, deadline, return_exceptions, progress)
    own = session is None
    batch = SessionBatch(session if session is not None else requests.Session(), list(items), timeout, return_exceptions)
    try:
        if not batch.jobs:
            return []
        lt = default_loop()
        results = _run_batch(_fan_out_batch(batch.factories(lt), concurrency, deadline, return_exceptions, progress),
                             len(batch.jobs), timeout, deadline, return_exceptions)
        return batch.finish(lt, results)
    finally:
        if own:
            batch.session.close()


async def _fan_out_batch(factories: list[Any], concurrency: int, deadline: float | None, return_exceptions: bool,
                         progress: Progress | None) -> list[Any]:
    if progress is None:
        return await fan_out(factories, concurrency=concurrency, deadline=deadline, return_exceptions=return_exceptions)
    return await _with_progress(progress, lambda update: fan_out(
        factories, concurrency=concurrency, deadline=deadline, return_exceptions=return_exceptions, progress=update))


# -- configuration --------------------------------------------------------------------------------
def configure(**changes: Any) -> HttpConfig:
    """Change the process's HTTP configuration (fields of :class:`HttpConfig`) and return it.

    New requests use it at once; requests in flight finish with the old one.

    Example::

        bridge.http.configure(block_private=True, allow=["127.0.0.1"], timeout=(3, 10), retries=1)

    Raises:
        TypeError, ValueError: an unknown field or a bad value (the message names it).
    """
    if not changes:
        return default_http_config()
    return set_default_http_config(default_http_config().replace(**changes))

