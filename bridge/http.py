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
import builtins
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from async_core import current_loop_thread, default_loop
from async_core._errors import InvalidURL
from async_core._fanout import fan_out
from async_core._http import HttpClient, HttpConfig, default_http_config, loop_http_client, set_default_http_config
from async_core._request import USE_CONFIG, PreparedRequest, parse_timeout, parse_url, prepare_request
from async_core._response import Response

from ._calls import run, to_async

__all__ = [
    "HttpConfig",
    "Request",
    "Response",
    "async_get",
    "async_map",
    "async_request",
    "configure",
    "delete",
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

#: concurrency of :func:`map` when not given
DEFAULT_CONCURRENCY = 10
MAX_CONCURRENCY = 10_000
Progress = Callable[[int, int], object]
Item = Any  # a URL string, a Request, or a Mapping of Request fields


@dataclasses.dataclass(frozen=True)
class Request:
    """One request for :func:`map`: the arguments of :func:`request` as a value.

    Example::

        bridge.http.map([
            "https://example.org/",                                   # a GET
            Request("POST", "https://example.org/api", json={"a": 1}),
            {"method": "HEAD", "url": "https://example.org/big"},     # a dict works too
        ], concurrency=10)
    """

    method: str
    url: str
    params: Any = None
    headers: Mapping[str, str] | None = None
    json: Any = None
    data: Any = None
    timeout: Any = USE_CONFIG
    allow_redirects: bool = True
    cookies: Mapping[str, str] | None = None
    auth: Any = None
    verify: bool | None = None

    def prepare(self, timeout: Any = USE_CONFIG) -> PreparedRequest:
        """Validate into a prepared request; ``timeout`` applies if the request sets none."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if fields["timeout"] is USE_CONFIG:
            fields["timeout"] = timeout
        return prepare_request(fields.pop("method"), fields.pop("url"), **fields)


# -- single requests ------------------------------------------------------------------------------
def _loop_client() -> HttpClient:
    """The client of the loop this coroutine runs on (never starts or waits for a loop)."""
    lt = current_loop_thread()
    if lt is None:
        raise RuntimeError(
            "bridge.http's async functions run on the loopbridge loop: await them in an async "
            "view under LoopBridge or in a coroutine passed to bridge.run; from sync code, call "
            "bridge.http.get/map instead."
        )
    return loop_http_client(lt)


async def _send(prep: PreparedRequest) -> Response:
    return await _loop_client().send(prep)


def request(method: str, url: str, **kwargs: Any) -> Response:
    """Send a request on the shared loop and return its :class:`Response` (like ``requests.request``).

    Parameters:
        method: ``"GET"``, ``"POST"``, …
        url: an ``http://`` or ``https://`` URL.
        **kwargs: ``params``, ``headers``, ``json``, ``data``, ``timeout`` (seconds, or a
            ``(connect, read)`` tuple), ``allow_redirects``, ``cookies``, ``auth`` (a
            ``(user, password)`` tuple), ``verify``.

    Raises:
        UpstreamConnectionError, UpstreamTimeout (and their connect/read kinds), BlockedAddress,
        TooManyRedirects, BodyTooLarge, InvalidURL: all ``requests.RequestException``.
        TypeError / ValueError: bad or unsupported arguments (``files=``, ``stream=``, …).
    """
    return run(_send(prepare_request(method, url, **kwargs)))


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


# -- async side -----------------------------------------------------------------------------------
async def _on_shared_loop(coro: Any) -> Any:
    """Await ``coro`` on the shared loop, hopping there if we run on another loop."""
    if current_loop_thread() is not None:
        return await coro
    # default_loop() locks only once per process, to create the LoopThread object
    return await asyncio.wrap_future(default_loop().submit(coro))  # noqa: LB201


async def async_request(method: str, url: str, **kwargs: Any) -> Response:
    """``await`` form of :func:`request` for ``async def`` code (views, tasks on the loop)."""
    return await _on_shared_loop(_send(prepare_request(method, url, **kwargs)))  # type: ignore[no-any-return]


async def async_get(url: str, params: Any = None, **kwargs: Any) -> Response:
    """``await`` form of :func:`get`."""
    return await async_request("GET", url, params=params, **kwargs)


# -- fan-out --------------------------------------------------------------------------------------
def _check_map_args(concurrency: int, deadline: float | None, progress: Progress | None, return_exceptions: bool) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise TypeError(f"concurrency must be an int, not {type(concurrency).__name__}.")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be in 1..{MAX_CONCURRENCY}, got {concurrency}; "
                         "the connection pool (HttpConfig.limit) bounds it further.")
    if deadline is not None and (isinstance(deadline, bool) or not isinstance(deadline, int | float) or not deadline > 0):
        raise ValueError(f"deadline must be a positive number of seconds or None, got {deadline!r}.")
    if progress is not None and not callable(progress):
        raise TypeError("progress must be a callable taking (done, total), or None.")
    if not isinstance(return_exceptions, bool):
        raise TypeError("return_exceptions must be True or False.")


def _prepare_items(items: Iterable[Item], timeout: Any, return_exceptions: bool) -> list[PreparedRequest | InvalidURL]:
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise TypeError(f"map() needs a list of URLs or Requests, got {type(items).__name__}; "
                        "wrap a single URL in a list: map([url]).")
    if timeout is not USE_CONFIG:
        parse_timeout(timeout)  # once, not per item
    prepared: list[PreparedRequest | InvalidURL] = []
    for index, item in enumerate(items):
        if isinstance(item, str):  # the common case, kept lean: a bare URL is a GET
            try:
                prepared.append(PreparedRequest("GET", parse_url(item), timeout=timeout))
            except InvalidURL as exc:
                if not return_exceptions:
                    raise
                prepared.append(exc)
            continue
        if isinstance(item, Mapping):
            try:
                item = Request(**{"method": "GET", **item})
            except TypeError as exc:
                raise TypeError(f"map() item {index}: {exc}; a dict item takes the fields of bridge.http.Request.") from None
        elif not isinstance(item, Request):
            raise TypeError(f"map() item {index} is a {type(item).__name__}; pass a URL string, a "
                            "bridge.http.Request, or a dict with 'url' (and 'method', ...).")
        try:
            prepared.append(item.prepare(timeout))
        except InvalidURL as exc:
            if not return_exceptions:
                raise
            prepared.append(exc)  # bad data, not misuse: this item's result is its error
    return prepared


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


async def _fan_out_requests(preps: list[PreparedRequest | InvalidURL], concurrency: int, deadline: float | None,
                            return_exceptions: bool, progress: Progress | None) -> list[Response | Exception]:
    client = _loop_client()
    send = client.send
    factories: list[Any] = []
    for prep in preps:
        if isinstance(prep, PreparedRequest):
            factories.append(lambda p=prep: send(p))
        else:
            factories.append(lambda e=prep: _raise(e))
    return await fan_out(factories, concurrency=concurrency, deadline=deadline,
                         return_exceptions=return_exceptions, progress=progress)


async def _raise(exc: Exception) -> Any:
    raise exc


async def _map_with_pump(preps: list[PreparedRequest | InvalidURL], concurrency: int, deadline: float | None,
                         return_exceptions: bool, progress: Progress) -> list[Response | Exception]:
    pump = _ProgressPump(progress)
    task = asyncio.ensure_future(pump.pump())
    try:
        results = await _fan_out_requests(preps, concurrency, deadline, return_exceptions, pump.update)
    except BaseException:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise
    pump.finish()
    await task
    return results


def map(items: Iterable[Item], *, concurrency: int = DEFAULT_CONCURRENCY, timeout: Any = USE_CONFIG,
        deadline: float | None = None, return_exceptions: bool = True,
        progress: Progress | None = None) -> list[Response | Exception]:
    """Send many requests, ``concurrency`` at a time, and return the results in input order.

    Parameters:
        items: URL strings (each a GET), :class:`Request` objects, or dicts of Request fields.
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
        TypeError / ValueError: a bad item or argument (before any request is sent).

    Example::

        for url, resp in zip(urls, bridge.http.map(urls, concurrency=50, timeout=5)):
            print(url, resp if isinstance(resp, Exception) else resp.status_code)
    """
    _check_map_args(concurrency, deadline, progress, return_exceptions)
    preps = _prepare_items(items, timeout, return_exceptions)
    if not preps:
        return []
    if progress is None:
        return run(_fan_out_requests(preps, concurrency, deadline, return_exceptions, None))
    return run(_map_with_pump(preps, concurrency, deadline, return_exceptions, progress))


async def async_map(items: Iterable[Item], *, concurrency: int = DEFAULT_CONCURRENCY, timeout: Any = USE_CONFIG,
                    deadline: float | None = None, return_exceptions: bool = True,
                    progress: Progress | None = None) -> list[Response | Exception]:
    """``await`` form of :func:`map`; ``progress`` is called on the loop thread (keep it quick)."""
    _check_map_args(concurrency, deadline, progress, return_exceptions)
    preps = _prepare_items(items, timeout, return_exceptions)
    if not preps:
        return []
    coro = _fan_out_requests(preps, concurrency, deadline, return_exceptions, progress)
    return await _on_shared_loop(coro)  # type: ignore[no-any-return]


# -- configuration --------------------------------------------------------------------------------
def configure(**changes: Any) -> HttpConfig:
    """Change the process's HTTP configuration (fields of :class:`HttpConfig`) and return it.

    New requests use it at once; requests in flight finish with the old one.

    Example::

        bridge.http.configure(block_private=True, allow=["127.0.0.1"], timeout=(3, 10), retries=1)

    Raises:
        TypeError / ValueError: an unknown field or a bad value (the message names it).
    """
    if not changes:
        return default_http_config()
    return set_default_http_config(default_http_config().replace(**changes))


_ = builtins  # ``map`` shadows the builtin in this module on purpose (requests-style name)
