"""legacy_app under hostile web input (issue 9, K and L): a 4xx with a JSON error, never a 500,
and request bodies refused at a size limit, by Flask and by the waitress server in front of it.

Flask's test client for the app's own answers (real app, real SQLite); a real
``python -m legacy_app.server`` process (waitress) where the server is what matters.
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from async_core.http import default_http_config, set_default_http_config
from legacy_app import create_app
from legacy_app.errors import LIMITS
from legacy_app.server import READY_PREFIX
from tests.reliability.conftest import Figures

BIG_ID = 2**63
MAX_BODY = LIMITS["MAX_CONTENT_LENGTH"]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    saved = default_http_config()  # the factory sets the process's SSRF guard; undo it after
    yield create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "DATABASE": str(tmp_path / "m.sqlite3"),
                      "SSRF_ALLOW": ["127.0.0.1"]})
    set_default_http_config(saved)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _json_error(resp: object, *statuses: int) -> str:
    status = resp.status_code  # type: ignore[attr-defined]
    assert status in statuses, (status, resp.get_data(as_text=True)[:300])  # type: ignore[attr-defined]
    assert resp.is_json, resp.content_type  # type: ignore[attr-defined]
    error = resp.get_json()["error"]  # type: ignore[attr-defined]
    assert isinstance(error, str) and error
    return error


@pytest.mark.parametrize(("path", "body", "needle"), [
    ("/api/check-all", {"checker": ["legacy"]}, "checker must be a string, got a JSON array"),
    ("/api/check-all", {"checker": {}}, "checker must be a string, got a JSON object"),
    ("/api/check-all", {"checker": 5}, "checker must be a string"),
    ("/api/check-all", {"checker": "nope"}, "unknown checker"),
    ("/api/sites", {"url": {}}, "url must be a string, got a JSON object"),
    ("/api/sites", {"url": ["http://example.com/"]}, "url must be a string"),
    ("/api/sites", {"url": "http://example.com/", "name": {"a": 1}}, "name must be a string"),
    ("/api/sites", [1, 2], "must be a JSON object"),
    ("/api/sites", "text", "must be a JSON object"),
])
def test_wrong_json_types_are_a_400_with_the_reason(client: FlaskClient, path: str, body: object,
                                                    needle: str) -> None:
    assert needle in _json_error(client.post(path, json=body), 400)
    assert client.get("/api/sites").get_json()["sites"] == []


@pytest.mark.parametrize("depth", [100_000, 20_000])
def test_deeply_nested_json_is_a_4xx_not_a_recursion_error(client: FlaskClient, depth: int) -> None:
    body = "[" * depth + "]" * depth
    error = _json_error(client.post("/api/sites", data=body, content_type="application/json"), 400, 413)
    expected = "larger than this monitor accepts" if len(body) > MAX_BODY else "nested too deeply"
    assert expected in error


@pytest.mark.parametrize("method_path", [
    ("GET", "/api/sites/{id}"), ("DELETE", "/api/sites/{id}"), ("GET", "/api/sites/{id}/checks"),
    ("POST", "/api/sites/{id}/probe"), ("GET", "/sites/{id}"), ("POST", "/sites/{id}/probe"),
    ("POST", "/sites/{id}/delete"),
])
@pytest.mark.parametrize("site_id", [BIG_ID, 2**64, 10**30, 0])
def test_ids_out_of_sqlites_range_are_a_404(client: FlaskClient, method_path: tuple[str, str], site_id: int) -> None:
    method, path = method_path
    resp = client.open(path.format(id=site_id), method=method, json={} if method == "POST" else None)
    # no route takes such an id: 404, or 405 where werkzeug matched the path for another method
    _json_error(resp, 404, 405)


def test_the_largest_id_is_looked_up_and_not_found(client: FlaskClient) -> None:
    assert "there is no site" in _json_error(client.get(f"/api/sites/{BIG_ID - 1}"), 404)
    assert "there is no site" in _json_error(client.get(f"/api/sites/{BIG_ID - 1}/checks"), 404)


def test_a_browser_still_gets_an_html_error_page(client: FlaskClient) -> None:
    resp = client.get(f"/sites/{BIG_ID}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert resp.status_code == 404 and resp.mimetype == "text/html"


def test_a_body_over_the_limit_is_a_413(client: FlaskClient) -> None:
    body = '{"url": "http://example.com/", "pad": "' + "x" * MAX_BODY + '"}'
    error = _json_error(client.post("/api/sites", data=body, content_type="application/json"), 413)
    assert "MAX_CONTENT_LENGTH" in error
    assert client.get("/api/sites").get_json()["sites"] == []


def test_form_limits_refuse_a_huge_field_and_too_many_fields(app: Flask, client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = False  # the limit must hold before any token is checked
    field = "x" * (LIMITS["MAX_FORM_MEMORY_SIZE"] + 1)
    for data in ({"url": field}, {f"f{i}": "1" for i in range(LIMITS["MAX_FORM_PARTS"] + 1)}):
        resp = client.post("/sites", data=data, content_type="multipart/form-data")
        assert "MAX_FORM" in _json_error(resp, 413)
    resp = client.post("/sites", data={"url": field}, content_type="multipart/form-data",
                       headers={"Accept": "text/html"})
    assert resp.status_code == 413 and resp.mimetype == "text/html"
    # A urlencoded form is read whole, so MAX_CONTENT_LENGTH is its bound (werkzeug's rule).
    resp = client.post("/sites", data={"url": "x" * MAX_BODY})
    assert "MAX_CONTENT_LENGTH" in _json_error(resp, 413)
    assert client.get("/api/sites").get_json()["sites"] == []


def test_limits_are_settings_checked_at_start(tmp_path: Path) -> None:
    saved = default_http_config()
    try:
        small = create_app({"INSTANCE_PATH": str(tmp_path), "MAX_CONTENT_LENGTH": 100})
        assert small.test_client().post("/api/sites", json={"url": "x" * 200}).status_code == 413
        with pytest.raises(ValueError, match="MAX_FORM_PARTS must be a positive int"):
            create_app({"INSTANCE_PATH": str(tmp_path), "MAX_FORM_PARTS": 0})
    finally:
        set_default_http_config(saved)


# --- the served app (waitress in a child process) ---------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    tmp = tmp_path_factory.mktemp("served")
    cmd = [sys.executable, "-m", "legacy_app.server", "--port", "0", "--db", str(tmp / "m.sqlite3"),
           "--threads", "2", "--grace", "1", "--allow", "127.0.0.1"]
    env = dict(os.environ, PYTHONUNBUFFERED="1", LEGACY_APP_INSTANCE_PATH=str(tmp / "inst"))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            line = proc.stdout.readline() if sel.select(30) else ""
        assert line.startswith(READY_PREFIX), f"the server did not start: {line!r}"
        port = int(line.rsplit(":", 1)[1])
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()


def _send(addr: tuple[str, int], head: bytes, body: bytes, timeout: float = 5.0) -> bytes:
    """Send the head and part of a body; return what the server answers within ``timeout``."""
    with socket.create_connection(addr, timeout=timeout) as sock:
        sock.sendall(head + body)
        deadline = time.monotonic() + timeout
        answer = b""
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
        return answer


def test_waitress_refuses_a_huge_body_on_its_headers(served: tuple[str, int], figures: Figures) -> None:
    """150 MiB announced, 1 KiB sent: the answer comes at once (nothing waits for, or buffers, the rest)."""
    head = (b"POST /api/sites HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (150 * 1024 * 1024))
    started = time.monotonic()
    answer = _send(served, head, b"[" * 1024)
    elapsed = time.monotonic() - started
    figures.add("L legacy_app under waitress: 150 MiB body announced, 1 KiB sent",
                f"{answer[9:12].decode(errors='replace')} after {elapsed * 1000:.0f} ms")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert elapsed < 4


def test_waitress_refuses_a_chunked_body_past_the_limit(served: tuple[str, int]) -> None:
    head = (b"POST /api/sites HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 16384
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_BODY // len(chunk) + 2))
    answer = _send(served, head, body)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_served_app_still_takes_a_normal_body(served: tuple[str, int]) -> None:
    body = b'{"url": "http://127.0.0.1:9/"}'
    head = (b"POST /api/sites HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
    assert _send(served, head, body).startswith(b"HTTP/1.1 201")
