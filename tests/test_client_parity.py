"""The harness that runs real requests clients' suites with the adapter (tests/client_parity/).

The verdict is a pure function of two passes; the plugin is tested the way the harness uses it:
a pytest run in a subprocess, on a small suite that sends real requests to a local server
through a client's own ``HTTPAdapter`` subclass, rebased onto the adapter.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

HARNESS = Path(__file__).resolve().parent / "client_parity"
_spec = importlib.util.spec_from_file_location("client_parity_harness", HARNESS / "parity.py")
assert _spec is not None and _spec.loader is not None
parity = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(parity)
Outcome, Suite, verdict = parity.Outcome, parity.Suite, parity.verdict


def _outcome(passed: set[str], failures: dict[str, str], sent: int = 3) -> Any:
    return Outcome(frozenset(passed), frozenset(failures), sent, failures)


def _suite(expected: dict[str, str] | None = None, by_text: dict[str, str] | None = None) -> Any:
    return Suite("a client's suite", Path("."), ("tests",), expected or {}, by_text or {})


def test_a_test_broken_by_the_adapter_and_not_listed_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    base = _outcome({"t::a", "t::b[1]"}, {})
    adapted = _outcome({"t::a"}, {"t::b[1]": "AssertionError: 401"})
    assert verdict(_suite(), base, adapted) == 1
    assert "BROKEN by the adapter: t::b[1]" in capsys.readouterr().out


def test_differences_listed_by_id_or_by_failure_text_pass_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    base = _outcome({"t::a", "t::b[1]", "t::c"}, {"t::d": "fails as is"})
    adapted = _outcome({"t::a"}, {"t::b[1]": "x", "t::c": "ConnectionError: http://never.invalid/", "t::d": "y"})
    suite = _suite({"t::b": "reads urllib3 internals"}, {r"never\.invalid": "mocked with responses"})
    assert verdict(suite, base, adapted) == 0
    out = capsys.readouterr().out
    assert "differs, explained: t::b[1]: reads urllib3 internals" in out
    assert "differs, explained: t::c: mocked with responses" in out
    assert "fails without the adapter too (not ours): t::d" in out


def test_a_pattern_explains_only_the_failures_it_matches() -> None:
    base = _outcome({"t::a"}, {})
    adapted = _outcome(set(), {"t::a": "AssertionError: b'x' != 'x'"})
    assert verdict(_suite(by_text={r"never\.invalid": "mocked"}), base, adapted) == 1


def test_a_run_in_which_the_adapter_carried_nothing_fails(capsys: pytest.CaptureFixture[str]) -> None:
    base = _outcome({"t::a"}, {})
    assert verdict(_suite(), base, _outcome({"t::a"}, {}, sent=0)) == 1
    assert "carried no request" in capsys.readouterr().out


def test_plugin_mounts_the_adapter_and_rebases_the_clients_adapter(tmp_path: Path) -> None:
    """A client whose own HTTPAdapter subclass adds a header: rebased, its override still runs on ours."""
    (tmp_path / "fakeclient.py").write_text(textwrap.dedent("""
        import requests
        from requests.adapters import HTTPAdapter

        class ClientAdapter(HTTPAdapter):
            def add_headers(self, request, **kwargs):
                request.headers["X-Client"] = "yes"

        def session():
            s = requests.Session()
            s.mount("http://", ClientAdapter())
            return s
    """))
    (tmp_path / "test_client.py").write_text(textwrap.dedent("""
        import http.server, threading
        import requests, fakeclient
        from bridge.http import LoopBridgeAdapter

        class Echo(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = self.headers.get("X-Client", "none").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass

        def test_client_session():
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                with fakeclient.session() as s:
                    assert isinstance(s.get_adapter("http://x"), LoopBridgeAdapter)
                    assert s.get(f"http://127.0.0.1:{server.server_port}/").text == "yes"
                with requests.Session() as plain:
                    assert isinstance(plain.get_adapter("https://x"), LoopBridgeAdapter)
            finally:
                server.shutdown()
                server.server_close()
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HARNESS), str(tmp_path)]),
           "LOOPBRIDGE_PARITY_REBASE": "fakeclient:ClientAdapter"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:loopbridge",
                           "-p", "loopbridge_adapter_everywhere", "test_client.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "loopbridge-adapter-requests: 1" in proc.stdout
