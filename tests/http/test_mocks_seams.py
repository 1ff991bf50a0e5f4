"""How bridge tells an active mock from requests' own code (bridge/_mocks.py): by where the
attribute at each seam is defined, so the order of imports does not matter and a wrapper that
calls the original (tracing instrumentation) is not taken for a mock."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from typing import Any
from unittest import mock

import requests

import bridge.http
from bridge import _mocks

from .mock_support import REAL_BODY, CountingServer


def test_bridge_imported_while_a_mock_is_active_still_sees_it_and_its_end(server: CountingServer) -> None:
    script = textwrap.dedent(f"""
        import responses
        with responses.RequestsMock() as rsps:
            import bridge.http   # first import of the project, under an active mock
            rsps.get({server.url("/x")!r}, body="mocked")
            assert bridge.http.get({server.url("/x")!r}).text == "mocked"
        assert bridge.http.get({server.url("/x")!r}).json()["real"] is True
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    assert server.hits == 1


def test_a_wrapper_that_keeps_the_original_name_is_not_a_mock(server: CountingServer) -> None:
    original = requests.Session.send
    calls: list[str] = []

    @functools.wraps(original)
    def traced(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        calls.append(str(request.url))
        return original(self, request, **kwargs)

    with mock.patch.object(requests.Session, "send", traced):
        assert not _mocks.requests_mocked()
        assert bridge.http.get(server.url("/traced")).json() == {**REAL_BODY, "path": "/traced"}
        with bridge.http.Session() as session:
            assert session.get(server.url("/traced-session")).status_code == 200
    assert calls == [server.url("/traced-session")]  # the facade went straight to the loop
    assert server.hits == 2


def test_no_seam_is_patched_outside_a_mock() -> None:
    assert not _mocks.requests_mocked()
    with requests.Session() as session:
        assert not _mocks.session_mocked(session)
    with mock.patch("http.client.HTTPConnection"):
        assert _mocks.requests_mocked()
    assert not _mocks.requests_mocked()
