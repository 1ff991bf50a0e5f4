"""The HTTP feature for code on the loop: ``await async_request(...)``, ``await async_map(...)``.

The one :class:`Request` value type (what :func:`async_map` and ``bridge.http.map`` take), the
preparation of a batch (validated in the caller's thread, so misuse fails there), and the fan-out
of a batch over the loop's :class:`~async_core.http.HttpClient`. ``bridge.http`` wraps these in
``bridge.run`` for sync code; nothing here knows about the sync side.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._errors import InvalidURL
from .._fanout import fan_out
from .._loop import current_loop_thread, default_loop
from .._validate import check_int, check_seconds
from ._client import HttpClient, loop_http_client
from ._request import USE_CONFIG, PreparedRequest, parse_timeout, parse_url, prepare_request
from ._response import Response

__all__ = [
    "DEFAULT_CONCURRENCY",
    "MAX_CONCURRENCY",
    "Request",
    "async_get",
    "async_map",
    "async_request",
    "check_map_args",
    "fan_out_requests",
    "loop_client",
    "prepare_items",
    "send_on_loop",
]

#: concurrency of a fan-out when not given
DEFAULT_CONCURRENCY = 10
MAX_CONCURRENCY = 10_000
Progress = Callable[[int, int], object]
Item = Any  # a URL string, a Request, or a Mapping of Request fields


@dataclasses.dataclass(frozen=True)
class Request:
    """One request for :func:`map`: the arguments of :func:`request` as a value.

    Example::

        async_map([
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


def loop_client() -> HttpClient:
    """The client of the loop this coroutine runs on (never starts or waits for a loop)."""
    lt = current_loop_thread()
    if lt is None:
        raise RuntimeError(
            "bridge.http's async functions run on the loopbridge loop: await them in an async "
            "view under LoopBridge or in a coroutine passed to bridge.run; from sync code, call "
            "bridge.http.get/map instead."
        )
    return loop_http_client(lt)


async def send_on_loop(prep: PreparedRequest) -> Response:
    """Send ``prep`` with the HTTP client of the loop this coroutine runs on."""
    return await loop_client().send(prep)


async def _on_shared_loop(coro: Any) -> Any:
    """Await ``coro`` on the shared loop, hopping there if we run on another loop."""
    if current_loop_thread() is not None:
        return await coro
    # default_loop() locks only once per process, to create the LoopThread object
    return await asyncio.wrap_future(default_loop().submit(coro))


async def async_request(method: str, url: str, **kwargs: Any) -> Response:
    """``await`` form of :func:`request` for ``async def`` code (views, tasks on the loop)."""
    return await _on_shared_loop(send_on_loop(prepare_request(method, url, **kwargs)))  # type: ignore[no-any-return]


async def async_get(url: str, params: Any = None, **kwargs: Any) -> Response:
    """``await`` form of :func:`get`."""
    return await async_request("GET", url, params=params, **kwargs)


# -- fan-out --------------------------------------------------------------------------------------
def check_map_args(concurrency: int, deadline: float | None, progress: Progress | None, return_exceptions: bool) -> None:
    """Validate a fan-out's own arguments in the caller's thread, before anything is sent.

    Raises:
        TypeError, ValueError: ``concurrency`` outside 1..``MAX_CONCURRENCY``, a negative or
            non-numeric ``deadline``, a ``progress`` that is not callable, a non-bool
            ``return_exceptions`` (the message names the argument).
    """
    check_int("concurrency", concurrency, minimum=1, maximum=MAX_CONCURRENCY)
    check_seconds("deadline", deadline, allow_none=True)
    if progress is not None and not callable(progress):
        raise TypeError("progress must be a callable taking (done, total), or None.")
    if not isinstance(return_exceptions, bool):
        raise TypeError("return_exceptions must be True or False.")


def prepare_items(items: Iterable[Item], timeout: Any, return_exceptions: bool) -> list[PreparedRequest | InvalidURL]:
    """Turn a fan-out's items (URLs, dicts of request arguments, ``Request`` objects) into prepared requests.

    Runs in the caller's thread so bad input fails before anything is sent. With
    ``return_exceptions``, an item whose URL is invalid becomes its :class:`InvalidURL` in place
    (the fan-out returns it as that item's result); without, the first one is raised.

    Raises:
        TypeError: ``items`` is a single URL, a mapping or not iterable, or an item is neither
            a URL, a dict nor a ``Request``.
        InvalidURL: an item's URL cannot be sent (without ``return_exceptions``).
    """
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise TypeError(f"map() needs a list of URLs or Requests, got {type(items).__name__}; "
                        "wrap a single URL in a list: map([url]).")
    if timeout is not USE_CONFIG:
        timeout = parse_timeout(timeout)  # once, not per item, and kept parsed for the loop
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


async def fan_out_requests(preps: list[PreparedRequest | InvalidURL], concurrency: int, deadline: float | None,
                            return_exceptions: bool, progress: Progress | None) -> list[Response | Exception]:
    """Send prepared requests on the running loop's client with a concurrency bound (loop side).

    Results keep the order of ``preps``; with ``return_exceptions`` each failure is returned in
    its place, otherwise the first one is raised and the rest are cancelled. Call it on the loop
    thread (``bridge.http.map`` does it through ``bridge.run``).
    """
    client = loop_client()
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


async def async_map(items: Iterable[Item], *, concurrency: int = DEFAULT_CONCURRENCY, timeout: Any = USE_CONFIG,
                    deadline: float | None = None, return_exceptions: bool = True,
                    progress: Progress | None = None) -> list[Response | Exception]:
    """``await`` form of :func:`map`; ``progress`` is called on the loop thread (keep it quick)."""
    check_map_args(concurrency, deadline, progress, return_exceptions)
    preps = prepare_items(items, timeout, return_exceptions)
    if not preps:
        return []
    coro = fan_out_requests(preps, concurrency, deadline, return_exceptions, progress)
    return await _on_shared_loop(coro)  # type: ignore[no-any-return]
