"""What the mock-library tests share: a real server that counts what reaches it, and the three
ways of sending a request a call site may use (stock requests, a Session with the adapter, the
``bridge.http`` facade).

The documented examples of each library are run with their URLs pointed at the counting server:
a request the mock lets through reaches it and is counted, a request the mock should have
answered would be counted too, so ``server.hits == 0`` proves nothing left the process. Nothing
in these tests can reach a host other than 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

import bridge.http
from bridge.http import LoopBridgeAdapter

#: the body the real server answers with: a test seeing it got a real answer
REAL_BODY = {"real": True}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: CountingServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        sent = self.rfile.read(length) if length else b""
        self.server.seen.append((self.command, self.path, sent))
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/landed")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = 404 if self.path.startswith("/missing") else 200
        body = json.dumps({**REAL_BODY, "path": self.path}).encode()
        self.send_response(status)
        if self.path.startswith("/gzip"):
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Real", "1")
        self.send_header("Set-Cookie", "a=1; Path=/")
        self.send_header("Set-Cookie", "b=2; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``server.seen``."""


class CountingServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 in a thread; ``seen`` lists ``(method, path, body)`` it got."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str, bytes]] = []
        self._thread = threading.Thread(target=self.serve_forever, name="test-counting-server", daemon=True)
        self._thread.start()

    @property
    def hits(self) -> int:
        return len(self.seen)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(10)


class Client:
    """One way of sending requests, with the call names of requests.

    ``requests``: requests itself, the baseline every example is written for; ``adapter``: a
    ``requests.Session`` with ``LoopBridgeAdapter`` mounted; ``facade``: ``bridge.http``.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.session: requests.Session | None = None
        if kind == "adapter":
            self.session = requests.Session()
            self.session.mount("http://", LoopBridgeAdapter())
            self.session.mount("https://", LoopBridgeAdapter())

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        if self.kind == "facade":
            return bridge.http.request(method, url, **kwargs)
        if self.session is not None:
            return self.session.request(method, url, **kwargs)
        return requests.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Any:
        return self.request("HEAD", url, **kwargs)

    def map(self, urls: list[str]) -> list[Any]:
        """Many GETs: ``bridge.http.map`` (with the Session for the adapter); one by one for requests."""
        if self.kind == "facade":
            return bridge.http.map(urls)
        if self.session is not None:
            return bridge.http.map(urls, session=self.session)
        results: list[Any] = []
        for url in urls:
            try:
                results.append(requests.get(url))
            except Exception as exc:  # noqa: BLE001 - as map() returns errors
                results.append(exc)
        return results

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
