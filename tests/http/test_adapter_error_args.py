"""A connection that cannot be made fails with HTTPAdapter's shape: urllib3's error inside, its words outside.

Code written for requests prints ``str(exc)`` of a failed request and matches on it (Sphinx's
linkcheck writes it in its report, and its suite looks for "Max retries exceeded with url:" and
"SSLError"). Each case runs on stock ``HTTPAdapter`` and on ``LoopBridgeAdapter`` against the
same local endpoint, and the two errors are compared.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests
import urllib3.exceptions

import bridge.http
from bridge.http import LoopBridgeAdapter


@pytest.fixture
def ours() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.mount("http://", LoopBridgeAdapter())
        s.mount("https://", LoopBridgeAdapter())
        yield s


def _both(ours: requests.Session, url: str, expected: type[Exception]) -> tuple[Exception, Exception]:
    with requests.Session() as stock, pytest.raises(expected) as theirs:
        stock.get(url, timeout=5)
    with pytest.raises(expected) as mine:
        ours.get(url, timeout=5)
    return theirs.value, mine.value


def _reason(exc: Exception) -> Exception:
    inner = exc.args[0]
    assert isinstance(inner, urllib3.exceptions.MaxRetryError), f"args[0] is {inner!r}"
    assert inner.reason is not None
    return inner.reason


def test_refused_connection_says_what_httpadapter_says(ours: requests.Session, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/doesnotexist?q=1"
    theirs, mine = _both(ours, url, requests.exceptions.ConnectionError)
    assert type(_reason(mine)) is type(_reason(theirs)) is urllib3.exceptions.NewConnectionError
    for text in ("Max retries exceeded with url: /doesnotexist?q=1", "Caused by NewConnectionError(",
                 "Failed to establish a new connection: [Errno 111]"):
        assert text in str(theirs) and text in str(mine), text
    assert mine.request is not None and mine.request.url == url
    assert any("is the server up and listening?" in note for note in mine.__notes__)  # the advice stays


def test_tls_to_a_plain_http_server_says_what_httpadapter_says(ours: requests.Session, base: str) -> None:
    url = base.replace("http://", "https://") + "/doesnotexist"
    theirs, mine = _both(ours, url, requests.exceptions.SSLError)
    assert type(_reason(mine)) is type(_reason(theirs)) is urllib3.exceptions.SSLError
    for text in ("Max retries exceeded with url: /doesnotexist", "Caused by SSLError(", "WRONG_VERSION_NUMBER"):
        assert text in str(theirs) and text in str(mine), text
    assert any("TLS failed" in note for note in mine.__notes__)


def test_map_with_a_session_gives_the_same_shape(ours: requests.Session, closed_port: int) -> None:
    [result] = bridge.http.map([f"http://127.0.0.1:{closed_port}/x"], session=ours)
    assert isinstance(result, requests.exceptions.ConnectionError)
    assert isinstance(_reason(result), urllib3.exceptions.NewConnectionError)
    assert "Max retries exceeded with url: /x" in str(result)


@pytest.fixture
def hangs_up() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts each connection and closes it without a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, name="hangs-up", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    stop.set()
    thread.join(5)
    listener.close()


def test_a_connection_closed_without_an_answer_is_not_a_connect_failure(ours: requests.Session, hangs_up: str) -> None:
    """HTTPAdapter says ProtocolError('Connection aborted.') there, not MaxRetryError; ours keeps its message."""
    theirs, mine = _both(ours, hangs_up, requests.exceptions.ConnectionError)
    assert isinstance(theirs.args[0], urllib3.exceptions.ProtocolError)
    assert not isinstance(mine.args[0], urllib3.exceptions.MaxRetryError)
    assert str(mine).startswith(f"GET {hangs_up}: ")  # our message, naming the request
