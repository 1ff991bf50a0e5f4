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

