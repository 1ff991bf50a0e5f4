"""Request preparation, in the caller's thread (so misuse fails there), and redirect rewriting."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from yarl import URL

from .._errors import InvalidURL
from .._validate import check_seconds
from ._response import Response

__all__ = [
    "SKIPPABLE_HEADERS",
    "SKIP_HEADER",
    "USE_CONFIG",
    "PreparedRequest",
    "Timeout",
    "check_skip",
    "header_text",
    "next_hop",
    "parse_timeout",
    "parse_url",
    "prepare_request",
]

Timeout = float | int | tuple[float | int | None, float | int | None] | None

_ADAPTER_WAY = ('mount bridge.http.LoopBridgeAdapter on a requests.Session, which takes it '
                '(docs/http.md, "Mount on your Session")')
_UNSUPPORTED = {
    "files": f"multipart uploads are not built by bridge.http; {_ADAPTER_WAY}, or build the body yourself and pass data=",
    "stream": f"streaming responses are not offered by bridge.http (every body is read whole, see max_body); {_ADAPTER_WAY} with stream=True",
    "proxies": f"proxies are not offered by bridge.http; {_ADAPTER_WAY} (http:// proxies, which tunnel https:// too)",
    "cert": f"client certificates are not offered by bridge.http; {_ADAPTER_WAY}",
    "hooks": f"response hooks are not offered by bridge.http; post-process the returned Response, or {_ADAPTER_WAY}",
}


def _seconds(name: str, value: Any) -> float | None:
    return check_seconds(name, value, allow_none=True)


def parse_timeout(timeout: Timeout) -> tuple[float | None, float | None]:
    """Turn a requests-style ``timeout`` into ``(connect, read)`` seconds.

    A number applies to both, a ``(connect, read)`` tuple sets each, ``None`` means no limit
    (as in requests; the config's ``total_timeout`` still applies).

    Raises:
        TypeError, ValueError: any other shape, or a value that is not a positive number.

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



class _UseConfig:
    """Marker: take the value from the client's :class:`HttpConfig`."""

    def __repr__(self) -> str:
        return "USE_CONFIG"


USE_CONFIG: Any = _UseConfig()


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
    #: lower-case names of the headers given as urllib3's SKIP_HEADER, which are not sent at all
    skip_headers: frozenset[str] = frozenset()


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


def _pairs(name: str, value: Any, raw: bool = False) -> Iterator[tuple[Any, Any]]:
    items = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(key, val) for key, val in items]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a dict or a list of (key, value) pairs, not {value!r}.") from None
    for key, val in pairs:
        if val is None:
            continue
        vals = val if isinstance(val, list | tuple) else (val,)
        for v in vals:
            if raw:
                yield key, v
            else:
                yield _text(key), _text(v)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


#: urllib3's marker for "send no such header" (``urllib3.util.SKIP_HEADER``)
SKIP_HEADER = "@@@SKIP_HEADER@@@"
#: the headers urllib3 lets SKIP_HEADER leave out (``urllib3.util.SKIPPABLE_HEADERS``)
SKIPPABLE_HEADERS = frozenset({"accept-encoding", "host", "user-agent"})


def header_text(name: str, value: Any) -> str:
    """A header value as it goes on the wire: a ``str`` as it is, ``bytes`` as the bytes they are.

    requests and http.client send a bytes value unchanged. aiohttp writes header lines as
    UTF-8, so bytes that are UTF-8 (ASCII included, the usual case) are sent unchanged; other
    bytes cannot be, and are refused rather than altered.

    Raises:
        requests.exceptions.InvalidHeader: bytes that are not UTF-8 (also a ``ValueError``).
    """
    if type(value) is str:
        return value
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise requests.exceptions.InvalidHeader(
                f"header {name!r}: the bytes {bytes(value)[:60]!r} are not UTF-8, and header lines are written as UTF-8 "
                "on the shared loop, so they cannot be sent unchanged; encode the value as UTF-8 (or ASCII), or mount "
                "requests.adapters.HTTPAdapter for this URL prefix (docs/http.md, 'Mount on your Session').") from None
    return str(value)


def check_skip(name: str) -> str:
    """The lower-case name of a header given as ``SKIP_HEADER``, refused as urllib3 refuses it."""
    lower = name.lower()
    if lower not in SKIPPABLE_HEADERS:
        raise ValueError(f"urllib3.util.SKIP_HEADER only supports 'Accept-Encoding', 'Host', 'User-Agent' "
                         f"(it was given for {name!r}); to send no {name} header, leave it out.")
    return lower


def _header_map(headers: Any) -> tuple[dict[str, str], frozenset[str]]:
    """Headers as sent (bytes names and values as their bytes), and the names SKIP_HEADER leaves out."""
    out: dict[str, str] = {}
    skip: set[str] = set()
    for key, val in _pairs("headers", headers, raw=True):
        name = key.decode("latin-1") if isinstance(key, bytes | bytearray) else str(key)
        text = header_text(name, val)
        if text == SKIP_HEADER:
            skip.add(check_skip(name))
            continue
        out[name] = text
    return out, frozenset(skip)


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
        timeout = parse_timeout(timeout)  # kept parsed: the loop does not parse it again
    if not isinstance(allow_redirects, bool):
        raise TypeError("allow_redirects must be True or False.")
    if verify is not None and not isinstance(verify, bool):
        raise TypeError("verify must be True or False here; for a CA bundle path, " + _ADAPTER_WAY + ", or install the CA system-wide.")
    header_dict, skip = (None, frozenset[str]()) if headers is None else _header_map(headers)
    if auth is not None:
        header_dict = {k: v for k, v in (header_dict or {}).items() if k.lower() != "authorization"}
        header_dict["Authorization"] = _basic_auth(auth)
    return PreparedRequest(
        method.upper(), parse_url(url),
        params=None if params is None else (tuple(_pairs("params", params)) if not isinstance(params, str) else tuple(URL("?" + params).query.items())),
        headers=header_dict, json=json, data=data, timeout=timeout, allow_redirects=allow_redirects,
        cookies=None if cookies is None else dict(_pairs("cookies", cookies)), verify=verify, skip_headers=skip,
    )


def _encode_basic(login: str, password: str) -> str:
    """``Basic base64(login:password)`` (RFC 7617, UTF-8), as aiohttp encodes it."""
    if ":" in login:
        raise ValueError('a ":" is not allowed in a basic-auth user name (RFC 7617, section 2).')
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode("ascii")


def _basic_auth(auth: Any) -> str:
    """The ``Authorization`` header value for requests-style basic ``auth``."""
    if isinstance(auth, tuple) and len(auth) == 2:
        return _encode_basic(str(auth[0]), str(auth[1]))
    user, password = getattr(auth, "username", None), getattr(auth, "password", None)
    if type(auth).__name__ == "HTTPBasicAuth" and user is not None:
        return _encode_basic(str(user), str(password))
    raise TypeError("auth must be a (user, password) tuple or requests.auth.HTTPBasicAuth; other auth schemes are not supported, set the Authorization header instead.")


def next_hop(prep: PreparedRequest, resp: Response) -> PreparedRequest:
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

