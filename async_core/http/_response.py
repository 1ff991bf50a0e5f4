"""The response value handed across threads: bytes, a header copy, no aiohttp object."""

from __future__ import annotations

import dataclasses
import datetime
import json as _json
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._errors import UpstreamHTTPError, UpstreamJSONError

__all__ = ["REDIRECT_STATUSES", "Headers", "Response"]

logger = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_REDIRECTS = REDIRECT_STATUSES


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
    redirects), ``elapsed``, ``history``, ``encoding``, ``raise_for_status()``, ``cookies``,
    ``iter_content``/``iter_lines`` (over the body already read), ``links``,
    ``apparent_encoding``, ``is_redirect``/``is_permanent_redirect``, and ``close()`` / ``with``
    (nothing to release). ``request``, ``raw``, ``connection`` and ``next`` raise an
    ``AttributeError`` naming the way to the full ``requests.Response``.

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
        """The body decoded, with the declared charset, else UTF-8, else a detected one (never raises)."""
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

    @property
    def cookies(self) -> Any:
        """The cookies the response set (``Set-Cookie``), as requests' ``RequestsCookieJar``.

        Only this response's own cookies: ``bridge.http`` keeps no jar between calls (mount
        ``bridge.http.LoopBridgeAdapter`` on a ``requests.Session`` for a session's jar).
        """
        from http.cookies import CookieError, SimpleCookie

        from requests.cookies import RequestsCookieJar, create_cookie

        jar = RequestsCookieJar()
        host = _host_of(self.url)
        for header in self.headers.getall("set-cookie"):
            parsed: SimpleCookie = SimpleCookie()
            try:
                parsed.load(header)
            except CookieError:
                logger.debug("loopbridge: ignoring a malformed Set-Cookie header: %r", header)
                continue
            for name, morsel in parsed.items():
                jar.set_cookie(create_cookie(name, morsel.value, domain=morsel["domain"] or host,
                                             path=morsel["path"] or "/", secure=bool(morsel["secure"])))
        return jar

    def iter_content(self, chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[Any]:
        """The body in pieces of ``chunk_size`` bytes (all at once for ``None``), as requests does.

        The body was read whole on the loop already; for a body streamed from the network, mount
        ``bridge.http.LoopBridgeAdapter`` on a ``requests.Session`` and pass ``stream=True``.
        """
        if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
            raise TypeError(f"chunk_size must be a positive int or None, not {chunk_size!r}.")
        size = len(self.content) or 1 if chunk_size is None else chunk_size
        pieces = (self.content[i:i + size] for i in range(0, len(self.content), size))
        if not decode_unicode:
            yield from pieces
            return
        import codecs

        decoder = codecs.getincrementaldecoder(self.encoding or "utf-8")(errors="replace")
        for piece in pieces:
            text = decoder.decode(piece)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def iter_lines(self, chunk_size: int = 512, decode_unicode: bool = False, delimiter: Any = None) -> Iterator[Any]:
        """The body line by line, as requests' ``iter_lines`` (over the body already read)."""
        body: Any = self.text if decode_unicode else self.content
        lines = body.split(delimiter) if delimiter is not None else body.splitlines()
        yield from lines

    @property
    def is_permanent_redirect(self) -> bool:
        """A permanent redirect (301 or 308) with a ``Location`` header, as in requests."""
        return self.status_code in (301, 308) and "location" in self.headers

    @property
    def links(self) -> dict[str, dict[str, str]]:
        """The ``Link`` header parsed, keyed by ``rel`` (else ``url``), as requests' ``links``."""
        header = self.headers.get("link")
        if not header:
            return {}
        from requests.utils import parse_header_links

        return {link.get("rel") or link.get("url", ""): link for link in parse_header_links(header)}

    @property
    def apparent_encoding(self) -> str | None:
        """The charset detected from the body (requests' own detector), as requests' ``apparent_encoding``."""
        from requests.compat import chardet

        if chardet is None:  # requests installed without charset_normalizer or chardet
            return "utf-8"
        return chardet.detect(self.content)["encoding"]

    def close(self) -> None:
        """Nothing to release: the body was read whole and the connection went back to the pool.

        There so that code written for requests (``resp.close()``, ``with ... as resp:``) runs as is.
        """

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        hint = _NOT_OFFERED.get(name)
        if hint is None:
            raise AttributeError(f"'Response' object has no attribute {name!r}")
        raise AttributeError(
            f"bridge.http's Response has no {name!r}: {hint} for the full requests.Response, mount "
            "bridge.http.LoopBridgeAdapter on a requests.Session (docs/http.md, \"Mount on your Session\")."
        )

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


#: requests.Response attributes this value object does not carry, and why
_NOT_OFFERED = {
    "request": "no PreparedRequest is built (the request is prepared on the loop);",
    "raw": "the body was read whole on the loop, there is no socket-level stream;",
    "connection": "no adapter object sent it;",
    "next": "no PreparedRequest of the next redirect is built (follow resp.headers['location'] yourself);",
}


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""


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

