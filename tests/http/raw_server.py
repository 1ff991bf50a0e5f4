"""A raw-socket HTTP server on 127.0.0.1: it records each request's bytes as they arrived and
answers with the bytes a route gives, well-formed or not (a bad status line, a bad chunk size,
a body cut short, a reason phrase with spaces). One thread per connection, keep-alive honoured.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: a route: request head (bytes, up to the blank line) -> the bytes to send back (a list: pieces sent
#: 0.4 s apart); ``None``: say nothing
Route = Callable[[bytes], Any]


class RawServer:
    """``with RawServer(routes) as server: server.url("/path")``; ``server.requests`` holds what came."""

    def __init__(self, routes: dict[str, Route], close_after: frozenset[str] = frozenset(),
                 tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.routes = routes
        self.close_after = close_after  # paths after whose answer the server hangs up
        self.requests: list[bytes] = []
        self.closed_by_client = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="raw-server", daemon=True)

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        except OSError:
            pass
        self._sock.close()
        for conn in list(self._conns):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        self.closed_by_client.set()
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                chunked = b"transfer-encoding: chunked" in head.lower()
                end = b"0\r\n\r\n" if chunked else b""
                length = _content_length(head)
                while (end not in buffer) if chunked else (len(buffer) < length):
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                if chunked:
                    cut = buffer.index(end) + len(end)
                    body, buffer = buffer[:cut], buffer[cut:]
                else:
                    body, buffer = buffer[:length], buffer[length:]
                self.requests.append(head + b"\r\n\r\n" + body)
                method, target = head.split(b" ", 2)[:2]
                answer = self.routes[target.decode("latin-1").split("?")[0]](head)
                if answer is None:  # say nothing; hold the connection until the test ends
                    self._stop.wait(30)
                    return
                if method == b"HEAD":  # the head only, as HTTP says
                    answer = answer.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                if isinstance(answer, list):  # pieces, sent 0.4 s apart (a body that trickles in)
                    for piece in answer[:-1]:
                        conn.sendall(piece)
                        time.sleep(0.4)
                    answer = answer[-1]
                conn.sendall(answer)
                if b"connection: close" in answer.lower().split(b"\r\n\r\n")[0] or target.decode("latin-1") in self.close_after:
                    conn.shutdown(socket.SHUT_RDWR)
                    return
        except OSError:
            return
        finally:
            conn.close()

    def wait_closed_by_client(self, seconds: float) -> bool:
        """Whether a client hung up a kept-alive connection within ``seconds``."""
        return self.closed_by_client.wait(seconds)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def answer(status: bytes = b"200 OK", headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b"",
           version: bytes = b"HTTP/1.1", length: bool = True) -> bytes:
    """A response's bytes (``Content-Length`` added unless ``length=False``)."""
    lines = [version + b" " + status]
    for name, value in headers or []:
        lines.append(name + b": " + value)
    if length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def wait_until(predicate: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """``(cert.pem, key.pem)``: a self-signed certificate for 127.0.0.1 (openssl)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


class OkHandler(http.server.BaseHTTPRequestHandler):
    """http.server's handler answering every GET with ``ok``, logging nothing."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


#: routes for the tests: well-formed answers of every shape, and malformed ones
RAW_ROUTES: dict[str, Route] = {
    "/ok": lambda head: answer(headers=[(b"X-A", b"1"), (b"X-A", b"2"), (b"Content-Type", b"text/plain")], body=b"hi"),
    "/spaced-reason": lambda head: answer(status=b"200   Fine  ", body=b"x"),
    "/http10": lambda head: answer(version=b"HTTP/1.0", status=b"201 Made", body=b"x"),
    "/no-reason": lambda head: answer(status=b"299", body=b"x"),
    "/latin1-header": lambda head: answer(headers=[(b"X-L", "é".encode("latin-1"))], body=b"x"),
    "/chunked": lambda head: answer(headers=[(b"Transfer-Encoding", b"chunked")], body=b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", length=False),
    "/until-close": lambda head: answer(headers=[(b"Connection", b"close")], body=b"read to the end", length=False),
    "/cookies": lambda head: answer(headers=[(b"Set-Cookie", b"a=1; Path=/"), (b"Set-Cookie", b"b=2; Path=/; HttpOnly")], body=b"c"),
    "/charset": lambda head: answer(headers=[(b"Content-Type", b"text/html; charset=ISO-8859-1")], body="é".encode("latin-1")),
    "/json": lambda head: answer(headers=[(b"Content-Type", b"application/json")], body=b'{"a": [1, 2]}'),
    "/see-other": lambda head: answer(status=b"303 See Other", headers=[(b"Location", b"/ok")]),
    "/loop": lambda head: answer(status=b"302 Found", headers=[(b"Location", b"/loop")]),
    "/links": lambda head: answer(headers=[(b"Link", b'<http://x/2>; rel="next"')], body=b""),
    "/empty": lambda head: answer(status=b"204 No Content", length=False),
    "/many-headers": lambda head: answer(headers=[(b"X-N%d" % n, b"v") for n in range(101)], body=b"x"),
    # malformed answers
    "/bad-status": lambda head: b"NONSENSE\r\n\r\n",
    "/bad-chunk": lambda head: answer(headers=[(b"Transfer-Encoding", b"chunked")], body=b"zz\r\nhello\r\n0\r\n\r\n", length=False),
    "/truncated": lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
    "/silent": lambda head: None,
    "/first-then-silent": lambda head: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n",
}
