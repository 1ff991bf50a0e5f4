"""The observable table: the same requests through stock ``HTTPAdapter`` and ``LoopBridgeAdapter``.

Each row sends one request (or provokes one failure) to the same local upstream, once through a
stock ``requests.Session`` and once through a Session with the adapter mounted, and compares
every observable: the request as the server saw it (header lines in order), status, reason,
headers, ``raw`` (status, reason, version, ``_original_response``), cookies, history, elapsed,
encoding, url, body; for failures, the requests exception classes the error is an instance of
and the phase it surfaces in (``send`` or reading the ``body``). The upstreams are an aiohttp
app and a raw-socket server (for answers aiohttp would not give: bad status lines, bad chunk
sizes, cut bodies, odd reason phrases) on 127.0.0.1.

What must differ is listed in ``DIFFERENCES`` with its reason, and in docs/http.md ("What
differs from HTTPAdapter"); a row not listed there must match exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import requests.exceptions as rex
from urllib3.util import SKIP_HEADER
from urllib3.util.response import is_fp_closed

import bridge.http

from .raw_server import RAW_ROUTES, RawServer
from .test_adapter import Upstream

#: requests' exception classes, by name (what an ``except`` clause can name)
_CLASSES = {name: cls for name, cls in vars(rex).items() if isinstance(cls, type) and issubclass(cls, rex.RequestException)}



@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    with RawServer(RAW_ROUTES, close_after=frozenset({"/truncated", "/until-close"})) as server:
        yield server


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


# -- rows ------------------------------------------------------------------------------------------
#: (row id, where: "raw" | "aiohttp" | "tls" | "refused" | "backlog" | "dns", method, path, request kwargs, stream)
ROWS: list[tuple[str, str, str, str, dict[str, Any], bool]] = [
    # what goes out (the raw server records the bytes)
    ("get-defaults", "raw", "GET", "/ok", {}, False),
    ("get-params", "raw", "GET", "/ok", {"params": {"q": "é x", "n": [1, 2]}}, False),
    ("get-bytes-headers", "raw", "GET", "/ok", {"headers": {"Authorization": b"Basic eDp5", "X-B": b"v"}}, False),
    ("get-skip-header", "raw", "GET", "/ok", {"headers": {"User-Agent": SKIP_HEADER, "Accept-Encoding": SKIP_HEADER}}, False),
    ("get-no-defaults", "raw", "GET", "/ok", {"headers": {"User-Agent": None, "Accept-Encoding": None, "Accept": None}}, False),
    ("get-host-header", "raw", "GET", "/ok", {"headers": {"Host": "example.test"}}, False),
    ("get-skip-host", "raw", "GET", "/ok", {"headers": {"Host": SKIP_HEADER}}, False),
    ("get-auth-cookies", "raw", "GET", "/ok", {"auth": ("u", "p"), "cookies": {"c": "1"}}, False),
    ("get-latin1-str-header", "raw", "GET", "/ok", {"headers": {"X-L": "é"}}, False),
    ("post-form", "raw", "POST", "/ok", {"data": {"a": "1", "b": "é"}}, False),
    ("post-json", "raw", "POST", "/ok", {"json": {"a": [1, 2]}}, False),
    ("post-empty", "raw", "POST", "/ok", {}, False),
    ("post-bytes", "raw", "POST", "/ok", {"data": b"\x00\x01"}, False),
    ("post-generator", "raw", "POST", "/ok", {"data": (c for c in [b"ab", b"cd"])}, False),
    ("put-str", "raw", "PUT", "/ok", {"data": "text é"}, False),
    ("delete", "raw", "DELETE", "/ok", {}, False),
    ("options", "raw", "OPTIONS", "/ok", {}, False),
    ("head", "raw", "HEAD", "/ok", {}, False),
    # what comes back
    ("spaced-reason", "raw", "GET", "/spaced-reason", {}, False),
    ("http10", "raw", "GET", "/http10", {}, False),
    ("no-reason", "raw", "GET", "/no-reason", {}, False),
    ("latin1-response-header", "raw", "GET", "/latin1-header", {}, False),
    ("chunked", "raw", "GET", "/chunked", {}, False),
    ("chunked-stream", "raw", "GET", "/chunked", {}, True),
    ("body-until-close", "raw", "GET", "/until-close", {}, False),
    ("cookies", "raw", "GET", "/cookies", {}, False),
    ("charset", "raw", "GET", "/charset", {}, False),
    ("json", "raw", "GET", "/json", {}, False),
    ("see-other-post", "raw", "POST", "/see-other", {"data": b"x"}, False),
    ("links", "raw", "GET", "/links", {}, False),
    ("no-content", "raw", "GET", "/empty", {}, False),
    ("aiohttp-cookies-utf8", "aiohttp", "GET", "/hello", {}, False),
    ("aiohttp-redirect", "aiohttp", "GET", "/redirect", {}, False),
    ("aiohttp-redirect-not-followed", "aiohttp", "GET", "/redirect", {"allow_redirects": False}, False),
    ("aiohttp-gzip", "aiohttp", "GET", "/gzip", {}, False),
    ("aiohttp-gzip-stream", "aiohttp", "GET", "/gzip", {}, True),
    ("aiohttp-404", "aiohttp", "GET", "/status/404", {}, False),
    ("aiohttp-500", "aiohttp", "GET", "/status/500", {}, False),
    ("tls-verify-false", "tls", "GET", "/ok", {"verify": False}, False),
    ("tls-ca-bundle", "tls", "GET", "/ok", {"verify": "cert.pem"}, False),
    # errors, by phase
    ("error-dns", "dns", "GET", "/", {"timeout": 5}, False),
    ("error-refused", "refused", "GET", "/", {}, False),
    ("error-connect-timeout", "backlog", "GET", "/", {"timeout": (0.2, 5)}, False),
    ("error-read-timeout", "raw", "GET", "/silent", {"timeout": (2, 0.3)}, False),
    ("error-read-timeout-streaming", "raw", "GET", "/first-then-silent", {"timeout": (2, 0.3)}, True),
    ("error-tls-verify", "tls", "GET", "/ok", {"timeout": 5}, False),
    ("error-tls-bad-client-cert", "tls", "GET", "/ok", {"cert": "notpem.txt", "verify": "cert.pem"}, False),
    ("error-tls-cert-without-key", "tls", "GET", "/ok", {"cert": "cert-only.pem", "verify": "cert.pem"}, False),
    ("error-tls-verify-not-a-bundle", "tls", "GET", "/ok", {"verify": "notpem.txt"}, False),
    ("error-bad-status-line", "raw", "GET", "/bad-status", {}, False),
    ("error-bad-chunk", "raw", "GET", "/bad-chunk", {}, False),
    ("error-bad-chunk-stream", "raw", "GET", "/bad-chunk", {}, True),
    ("error-truncated", "raw", "GET", "/truncated", {}, False),
    ("error-truncated-stream", "raw", "GET", "/truncated", {}, True),
    ("error-too-many-redirects", "raw", "GET", "/loop", {}, False),
    ("error-bad-gzip", "aiohttp", "GET", "/bad-gzip", {}, False),
    ("error-over-100-headers", "raw", "GET", "/many-headers", {}, False),
    ("error-over-100-headers-stream", "raw", "GET", "/many-headers", {}, True),
]

#: row id -> {observable: why it differs}. The observable's two values are checked to differ as said.
DIFFERENCES: dict[str, dict[str, str]] = {
    "get-latin1-str-header": {
        "sent": "a str header value is written as UTF-8 (aiohttp), not Latin-1 (http.client); send bytes for exact bytes",
    },
    "get-host-header": {
        "sent": "aiohttp writes Host first; http.client writes a Host given by the caller where the caller put it",
    },
    "get-skip-host": {
        "sent": "aiohttp always writes a Host header; SKIP_HEADER leaves out User-Agent and Accept-Encoding only",
    },
    "error-bad-chunk-stream": {
        "phase": "aiohttp reads the first chunk size with the head: a bad one fails send(), not the first body read",
    },
}

#: row id -> requests classes our error is also an instance of, beyond the stock error's (and why)
EXTRA_CLASSES: dict[str, tuple[set[str], str]] = {
    "error-bad-chunk": ({"ConnectionError"}, "our ChunkedEncodingError is also a ConnectionError (UpstreamPayloadError)"),
    "error-bad-chunk-stream": ({"ConnectionError"}, "as error-bad-chunk"),
    "error-truncated": ({"ConnectionError"}, "as error-bad-chunk"),
}


def _url(where: str, path: str, raw: RawServer, upstream: Upstream, tls: tuple[RawServer, Path], closed: int, backlog: int) -> str:
    if where == "raw":
        return raw.url(path)
    if where == "aiohttp":
        return upstream.base + path
    if where == "tls":
        return tls[0].url(path)
    if where == "refused":
        return f"http://127.0.0.1:{closed}{path}"
    if where == "backlog":
        return f"http://127.0.0.1:{backlog}{path}"
    return "http://no-such-host.invalid/"


def _session(ours: bool) -> requests.Session:
    session = requests.Session()
    session.max_redirects = 3
    if ours:
        adapter = bridge.http.LoopBridgeAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def _error(exc: BaseException, phase: str) -> dict[str, Any]:
    return {"phase": phase, "classes": sorted(name for name, cls in _CLASSES.items() if isinstance(exc, cls))}


def _observe(ours: bool, method: str, url: str, kwargs: dict[str, Any], stream: bool, raw: RawServer) -> dict[str, Any]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seen = _observe_quietly(ours, method, url, kwargs, stream, raw)
    seen["warnings"] = sorted({w.category.__name__ for w in caught})
    return seen


def _observe_quietly(ours: bool, method: str, url: str, kwargs: dict[str, Any], stream: bool, raw: RawServer) -> dict[str, Any]:
    before = len(raw.requests)
    with _session(ours) as session:
        try:
            r = session.request(method, url, stream=stream, **kwargs)
        except requests.RequestException as exc:
            return _error(exc, "send")
        try:
            body = b"".join(r.iter_content(3)) if stream else r.content
        except requests.RequestException as exc:
            return _error(exc, "body")
        o = r.raw._original_response
        seen = raw.requests[before:]
        return {
            "sent": [_normal(s) for s in seen],
            "status": r.status_code, "reason": r.reason, "ok": r.ok, "url": r.url,
            "headers": [(k, v) for k, v in r.headers.items() if k.lower() != "date"],
            "raw": (r.raw.status, r.raw.reason, r.raw.version, getattr(r.raw, "version_string", None), r.raw.decode_content),
            "original": (o.version, o.status, o.reason, [(k, v) for k, v in o.getheaders() if k.lower() != "date"],
                         o.getheader("Set-Cookie")),
            "cookies": sorted(r.cookies.items()), "jar": sorted(session.cookies.items()),
            "history": [(h.status_code, h.url, h.reason) for h in r.history],
            "elapsed": type(r.elapsed).__name__, "encoding": r.encoding, "body": body, "links": r.links,
            "text": None if stream else r.text, "apparent": None if stream else r.apparent_encoding,
            "is_redirect": r.is_redirect, "next": None if r.next is None else r.next.url,
            "request_headers": sorted((k, v if isinstance(v, str) else v.decode()) for k, v in r.request.headers.items()),
        }


def _normal(request: bytes) -> list[bytes]:
    """A request as the server saw it, its multipart boundary (random) left aside."""
    return request.split(b"\r\n")


@pytest.mark.parametrize(("row", "where", "method", "path", "kwargs", "stream"), ROWS, ids=[r[0] for r in ROWS])
def test_observables_match_httpadapter(row: str, where: str, method: str, path: str, kwargs: dict[str, Any], stream: bool,
                                       raw: RawServer, upstream: Upstream, tls_server: tuple[RawServer, Path], closed_port: int,
                                       full_backlog: int) -> None:
    tls = tls_server
    url = _url(where, path, raw, upstream, tls, closed_port, full_backlog)
    kwargs = {k: (str(tls[1] / v) if k in ("cert", "verify") and isinstance(v, str) else v) for k, v in kwargs.items()}
    if "data" in kwargs and not isinstance(kwargs["data"], bytes | str | dict):  # a generator: one per run
        stock_kwargs = {**kwargs, "data": iter([b"ab", b"cd"])}
        ours_kwargs = {**kwargs, "data": iter([b"ab", b"cd"])}
    else:
        stock_kwargs = ours_kwargs = kwargs
    stock = _observe(False, method, url, stock_kwargs, stream, raw)
    ours = _observe(True, method, url, ours_kwargs, stream, raw)
    differs = DIFFERENCES.get(row, {})
    for key in sorted(set(stock) | set(ours)):
        if key == "classes":
            continue
        if key in differs:
            assert stock.get(key) != ours.get(key), f"{row}: {key} is listed as differing but matches; drop it from DIFFERENCES"
        else:
            assert ours.get(key) == stock.get(key), f"{row}: {key} differs: stock {stock.get(key)!r}, ours {ours.get(key)!r}"
    if "classes" in stock:
        extra, _ = EXTRA_CLASSES.get(row, (set(), ""))
        assert set(stock["classes"]) <= set(ours["classes"]), f"{row}: an except that catches stock's error misses ours"
        assert set(ours["classes"]) - set(stock["classes"]) == extra, f"{row}: classes {ours['classes']} vs stock {stock['classes']}"


@pytest.mark.parametrize("limit", [1, 100, float("inf")])
def test_the_header_limit_code_sets_in_http_client_holds_for_both(limit: float, raw: RawServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """http.client refuses an answer with more than ``http.client._MAXHEADERS`` header lines (100);
    clients tune that limit there (HTTPie's ``--max-headers``), and the adapter keeps to it."""
    monkeypatch.setattr("http.client._MAXHEADERS", limit)
    outcomes = []
    for ours in (False, True):
        with _session(ours) as session:
            try:
                outcomes.append(session.get(raw.url("/ok"), timeout=5).status_code)
            except requests.ConnectionError as exc:
                outcomes.append(str(exc))
    stock, mine = outcomes
    # /ok answers with a few header lines: over a limit of 1, under 100
    assert stock == (200 if limit >= 100 else f"('Connection aborted.', HTTPException('got more than {int(limit)} headers'))")
    assert mine == stock


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", ["/ok", "/chunked", "/until-close"])
def test_the_body_source_closes_itself_at_the_end_as_http_clients(path: str, stream: bool, raw: RawServer) -> None:
    """http.client's response closes itself once its body was read (``isclosed()``, and so
    urllib3's ``is_fp_closed``); code that tees the body through ``raw._fp`` in a
    ``build_response`` override (CacheControl) stores it at that moment."""
    seen: list[Any] = []

    def reading(base: type) -> Any:
        class Tee(base):  # type: ignore[misc,valid-type]
            def build_response(self, req: Any, resp: Any) -> Any:
                source = resp._fp
                before = (source.isclosed(), is_fp_closed(source))
                body = b"".join(iter(lambda: source.read(4), b""))
                seen.append((before, body, source.isclosed(), is_fp_closed(source)))
                return super().build_response(req, resp)

        return Tee()

    for base in (requests.adapters.HTTPAdapter, bridge.http.LoopBridgeAdapter):
        with requests.Session() as session:
            session.mount("http://", reading(base))
            session.get(raw.url(path), stream=stream, timeout=5).close()
    stock, mine = seen
    assert stock[0] == (False, False) and stock[2:] == (True, True)
    assert mine == stock
