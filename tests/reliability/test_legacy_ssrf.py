"""legacy_app's SSRF guard (issue 9, J): the add-site check and both checkers, with the guard on.

An "internal" HTTP server on 127.0.0.1 stands for what a user must never reach. Every form an
OS resolver reads as a loopback address, and names that resolve to one, must be refused at the
form, and neither checker may ever open a connection to it (the server counts its accepts).
Real app, real SQLite, real sockets.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from async_core import BlockedAddress
from async_core.http import AddressPolicy, default_http_config, set_default_http_config
from legacy_app import create_app, storage
from legacy_app.db import get_db
from legacy_app.ssrf import monitor_session
from tests.reliability.conftest import Figures

# Forms of 127.0.0.1 (and other blocked addresses) as a URL host; {p} is the internal port.
NUMERIC_FORMS = ["127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0x7f.1", "017700000001",
                 "127.0.0.1.", "0", "0.0.0.0", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"]
IPV6_ONLY_FORMS = ["[::1]", "[0:0:0:0:0:0:0:1]", "[::]", "[::127.0.0.1]", "[2002:7f00:1::]",
                   "[64:ff9b::7f00:1]", "[fe80::1%25lo]", "[fc00::1]"]


class _Internal(ThreadingHTTPServer):
    """Counts every connection it accepts: the figure that must stay 0."""

    daemon_threads = True
    accepted = 0

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.accepted += 1
        return True


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"internal secrets"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def internal() -> Iterator[_Internal]:
    server = _Internal(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def loopback_names() -> list[str]:
    """Names the OS resolves to a loopback address without DNS (from /etc/hosts), not localhost."""
    names: set[str] = {socket.gethostname()}
    for line in Path("/etc/hosts").read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split("#", 1)[0].split()
        names.update(fields[1:])
    found = []
    for name in sorted(names):
        if name.lower() in {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}:
            continue
        try:
            infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except OSError:
            continue
        if any(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos):
            found.append(name)
    return found


@pytest.fixture
def guarded_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    saved = default_http_config()  # the factory sets the process's guard; undo it after

    def build(**config: Any) -> Flask:
        return create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "DATABASE": str(tmp_path / "m.sqlite3"),
                           "SSRF_ALLOW": [], "CHECK_TIMEOUT": 2.0} | config)
    yield build
    set_default_http_config(saved)


@pytest.mark.parametrize("host", NUMERIC_FORMS + IPV6_ONLY_FORMS)
def test_add_site_refuses_every_numeric_form_of_a_blocked_address(guarded_app: Callable[..., Flask],
                                                                   internal: _Internal, host: str) -> None:
    client = guarded_app().test_client()
    resp = client.post("/api/sites", json={"url": f"http://{host}:{internal.server_port}/"})
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert "private or local address" in resp.get_json()["error"]
    assert client.get("/api/sites").get_json()["sites"] == []


def test_add_site_refuses_names_that_resolve_to_loopback(guarded_app: Callable[..., Flask],
                                                        internal: _Internal) -> None:
    names = loopback_names()
    assert names, "this machine's /etc/hosts and host name give no loopback name to test with"
    app = guarded_app()
    client = app.test_client()
    for name in names:
        for host in (name, name.upper(), name + "."):
            resp = client.post("/api/sites", json={"url": f"http://{host}:{internal.server_port}/"})
            assert resp.status_code == 400, (host, resp.get_data(as_text=True))
            assert "resolves to 127." in resp.get_json()["error"], resp.get_json()
    # The HTML form goes through the same check.
    app.config["WTF_CSRF_ENABLED"] = False  # the form's CSRF token is tested elsewhere
    resp = client.post("/sites", data={"url": f"http://{names[0]}:{internal.server_port}/"}, follow_redirects=True)
    assert "private or local address" in resp.get_data(as_text=True)
    assert client.get("/api/sites").get_json()["sites"] == []


def test_allow_list_is_judged_on_the_resolved_address(guarded_app: Callable[..., Flask], internal: _Internal) -> None:
    client = guarded_app(SSRF_ALLOW=["127.0.0.1"]).test_client()
    resp = client.post("/api/sites", json={"url": f"http://127.1:{internal.server_port}/"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert client.post("/api/sites", json={"url": "http://[::1]/"}).status_code == 400


@pytest.mark.parametrize("checker", ["legacy", "bridge"])
def test_checkers_never_connect_to_a_blocked_address(guarded_app: Callable[..., Flask], internal: _Internal,
                                                     checker: str, figures: Figures) -> None:
    """Sites stored before the guard (or whose name changed its answer) are refused at connect."""
    app = guarded_app()
    hosts = [h for h in NUMERIC_FORMS if h not in ("0", "0.0.0.0")] + ["localhost", *loopback_names()]
    with app.app_context():
        for host in hosts:
            storage.add_site(get_db(), f"http://{host}:{internal.server_port}/", host)
    before = internal.accepted
    client = app.test_client()
    run = client.post("/api/check-all", json={"checker": checker}).get_json()
    figures.add(f"J legacy_app {checker} checker: blocked hosts checked / connections reached",
                f"{len(hosts)} / {internal.accepted - before}")
    assert internal.accepted == before, f"the {checker} checker reached the internal server"
    assert (run["recorded"], run["ok_count"]) == (len(hosts), 0), run
    sites = client.get("/api/sites").get_json()["sites"]
    assert {s["state"] for s in sites} == {"down"}
    # "127.0.0.1." does not even resolve (the OS refuses the trailing dot on an address), and
    # the bridged checker's URL parser refuses non-canonical IPv4 text before any lookup.
    refused = [s for s in sites if s["name"] != "127.0.0.1."]
    reasons = ("BlockedAddress: refused to connect",) + (("InvalidURL:",) if checker == "bridge" else ())
    assert all(s["error"].startswith(reasons) for s in refused), refused
    assert sum(s["error"].startswith("BlockedAddress") for s in refused) >= 4, refused


def test_legacy_checker_refuses_a_redirect_to_a_blocked_address(guarded_app: Callable[..., Flask],
                                                                internal: _Internal) -> None:
    """An allowed site that redirects inward: requests follows, the next connection is judged."""
    target = f"http://127.0.0.1:{internal.server_port}/"

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    redirector = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=redirector.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        app = guarded_app(SSRF_ALLOW=["localhost"])  # the name is allowed, the address is not
        with app.app_context():
            storage.add_site(get_db(), f"http://localhost:{redirector.server_port}/", "redirects inward")
        before = internal.accepted
        run = app.test_client().post("/api/check-all", json={"checker": "legacy"}).get_json()
        assert internal.accepted == before
        assert run["ok_count"] == 0
        with app.app_context():
            (site,) = storage.site_statuses(get_db())
        assert site["error"].startswith("BlockedAddress: refused to connect to 127.0.0.1"), site
    finally:
        redirector.shutdown()
        redirector.server_close()
        thread.join(5)


def test_monitor_session_ignores_proxy_settings(internal: _Internal, monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would connect for us to an address no one judged: env proxies are ignored,
    explicit ones refused."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{internal.server_port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{internal.server_port}")
    before = internal.accepted
    with monitor_session(AddressPolicy.build(True, [])) as session:
        with pytest.raises(BlockedAddress):
            session.get(f"http://127.1:{internal.server_port}/", timeout=2)
        with pytest.raises(requests.exceptions.InvalidProxyURL, match="SSRF guard"):
            session.get("http://93.184.216.34/", timeout=2,
                        proxies={"http": f"http://127.0.0.1:{internal.server_port}"})
    assert internal.accepted == before


def test_monitor_session_connects_to_allowed_addresses(internal: _Internal) -> None:
    with monitor_session(AddressPolicy.build(True, ["127.0.0.0/8"])) as session:
        resp = session.get(f"http://127.1:{internal.server_port}/", timeout=5)
    assert resp.status_code == 200 and resp.text == "internal secrets"


def test_legacy_checker_connects_to_the_address_it_judged(internal: _Internal, monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name answers an allowed address when judged, then a blocked one.

    No DNS server can run here, so the resolver's answers are scripted (the one stand-in in
    this file); the sockets and servers are real. The connection must go to the address that
    was judged, never to a second answer.
    """
    port = internal.server_port
    allowed = ThreadingHTTPServer(("127.0.0.2", port), _Handler)
    thread = threading.Thread(target=allowed.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    real = socket.getaddrinfo
    answers = iter(["127.0.0.2"] + ["127.0.0.1"] * 20)

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            return real(next(answers), *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    before = internal.accepted
    try:
        with monitor_session(AddressPolicy.build(True, ["127.0.0.2"])) as session:
            resp = session.get(f"http://rebind.test:{port}/", timeout=5)
    finally:
        allowed.shutdown()
        allowed.server_close()
        thread.join(5)
    assert resp.status_code == 200
    assert internal.accepted == before, "a second DNS answer swapped the checked address"
