"""The TLS hooks of ``HTTPAdapter`` subclasses: ``init_poolmanager(ssl_context=)`` and ``cert_verify``.

Clients customise TLS by subclassing ``HTTPAdapter`` and overriding two urllib3 hooks: they hand
urllib3 an ``ssl_context`` of their own in ``init_poolmanager`` (protocol versions, ciphers), and
set what urllib3's connection offers in ``cert_verify`` (a client key's password). A client
migrating derives the same class from ``LoopBridgeAdapter``; each test runs the same subclass
body on both bases against one TLS server on 127.0.0.1 and expects the same outcome.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from cryptography.hazmat.primitives import serialization
from urllib3.exceptions import InsecureRequestWarning

import bridge.http

from .raw_server import RAW_ROUTES, RawServer

_PASSWORD = "s3cret"


class _Files:
    def __init__(self, root: Path, ca: trustme.CA) -> None:
        self.ca = root / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca))
        client = ca.issue_cert("client@example.test")
        self.client_cert = root / "client.pem"
        client.cert_chain_pems[0].write_to_path(str(self.client_cert))
        key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
        self.encrypted_key = root / "client.key"
        self.encrypted_key.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(_PASSWORD.encode())))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> _Files:
    return _Files(tmp_path_factory.mktemp("tls-hooks"), ca)


def _server_context(ca: trustme.CA, *, client_certs: bool, max_tls12: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    if client_certs:
        ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    if max_tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@pytest.fixture(scope="module")
def mutual(ca: trustme.CA) -> Iterator[RawServer]:
    """A TLS server that asks every client for a certificate issued by ``ca``."""
    with RawServer(RAW_ROUTES, tls=_server_context(ca, client_certs=True)) as server:
        yield server


@pytest.fixture(scope="module")
def tls12(ca: trustme.CA) -> Iterator[RawServer]:
    """A TLS server that speaks TLS 1.2 at most."""
    with RawServer(RAW_ROUTES, tls=_server_context(ca, client_certs=False, max_tls12=True)) as server:
        yield server


def _key_password_adapter(base: type) -> Any:
    """HTTPie's shape: ``cert`` carries the key's password, ``cert_verify`` hands it to the connection."""

    class KeyPassword(base):  # type: ignore[misc,valid-type]
        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            if isinstance(cert, tuple) and len(cert) == 3:
                conn.key_password = cert[2]
                cert = cert[:2]
            super().cert_verify(conn, url, verify, cert)

    return KeyPassword()


def _context_adapter(base: type, context: ssl.SSLContext) -> Any:
    """The usual shape: an ``ssl_context`` of the client's own, given to urllib3's pool manager."""

    class OwnContext(base):  # type: ignore[misc,valid-type]
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

    return OwnContext()


def _get(adapter: Any, url: str, **kwargs: Any) -> int | str:
    with requests.Session() as session:
        session.mount("https://", adapter)
        try:
            return session.get(url, timeout=10, **kwargs).status_code
        except requests.exceptions.SSLError:
            return "SSLError"


BASES = [requests.adapters.HTTPAdapter, bridge.http.LoopBridgeAdapter]


@pytest.mark.parametrize("password", [_PASSWORD, "wrong"])
def test_a_key_password_set_in_cert_verify_loads_the_encrypted_key(password: str, files: _Files,
                                                                   mutual: RawServer) -> None:
    outcomes = [_get(_key_password_adapter(base), mutual.url("/ok"), verify=str(files.ca),
                     cert=(str(files.client_cert), str(files.encrypted_key), password)) for base in BASES]
    assert outcomes == ([200, 200] if password == _PASSWORD else ["SSLError", "SSLError"])


def test_without_its_certificate_the_client_is_refused_by_both(files: _Files, mutual: RawServer) -> None:
    """The server really asks for the certificate (so the passing case above proves it was sent)."""
    for base in BASES:
        with requests.Session() as session:
            session.mount("https://", base())
            with pytest.raises(requests.exceptions.RequestException):
                session.get(mutual.url("/ok"), timeout=10, verify=str(files.ca))


@pytest.mark.parametrize("floor", ["tls13", "tls12"])
def test_an_ssl_context_given_to_init_poolmanager_is_the_one_used(floor: str, ca: trustme.CA, files: _Files,
                                                                  tls12: RawServer) -> None:
    outcomes = []
    for base in BASES:
        context = ssl.create_default_context(cafile=str(files.ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_3 if floor == "tls13" else ssl.TLSVersion.TLSv1_2
        outcomes.append(_get(_context_adapter(base, context), tls12.url("/ok")))
    # a TLS 1.3 floor cannot meet a TLS 1.2 server; verify=True trusts the context's own CA
    assert outcomes == (["SSLError", "SSLError"] if floor == "tls13" else [200, 200])


def test_verify_false_applies_to_a_given_context_as_urllib3_applies_it(tls12: RawServer) -> None:
    def unverified_capable() -> ssl.SSLContext:  # as urllib3's create_urllib3_context makes them
        context = ssl.create_default_context()  # does not trust the test CA
        context.check_hostname = False
        return context

    outcomes = []
    for base in BASES:
        verified = _get(_context_adapter(base, unverified_capable()), tls12.url("/ok"))
        with pytest.warns(InsecureRequestWarning):
            outcomes.append((verified, _get(_context_adapter(base, unverified_capable()), tls12.url("/ok"), verify=False)))
    assert outcomes == [("SSLError", 200), ("SSLError", 200)]
    for base in BASES:  # a context that checks host names cannot be made to verify nothing: urllib3 says so
        with pytest.raises(ValueError, match="check_hostname"):
            _get(_context_adapter(base, ssl.create_default_context()), tls12.url("/ok"), verify=False)


def test_init_poolmanager_records_the_pool_arguments_as_httpadapter() -> None:
    for base in BASES:
        adapter = base(pool_connections=3, pool_maxsize=7, pool_block=True)
        assert (adapter._pool_connections, adapter._pool_maxsize, adapter._pool_block) == (3, 7, True)
    with pytest.raises(TypeError, match="ssl_context must be an ssl.SSLContext"):
        _context_adapter(bridge.http.LoopBridgeAdapter, "not a context")  # type: ignore[arg-type]


def test_cert_verify_notes_httpadapters_settings(files: _Files, tmp_path: Path) -> None:
    class Conn:
        cert_reqs = ca_certs = ca_cert_dir = cert_file = key_file = None

    adapter = bridge.http.LoopBridgeAdapter()
    conn = Conn()
    adapter.cert_verify(conn, "https://x.test/", str(files.ca), (str(files.client_cert), str(files.encrypted_key)))
    assert (conn.cert_reqs, conn.ca_certs, conn.ca_cert_dir, conn.cert_file, conn.key_file) == (
        "CERT_REQUIRED", str(files.ca), None, str(files.client_cert), str(files.encrypted_key))
    adapter.cert_verify(conn := Conn(), "https://x.test/", str(tmp_path), None)
    assert (conn.cert_reqs, conn.ca_cert_dir) == ("CERT_REQUIRED", str(tmp_path))
    adapter.cert_verify(conn := Conn(), "http://x.test/", True, None)
    assert conn.cert_reqs == "CERT_NONE"
    for verify, cert, missing in ((str(tmp_path / "nope.pem"), None, "CA certificate bundle"),
                                  (True, str(tmp_path / "nope.pem"), "certificate file"),
                                  (True, (str(files.client_cert), str(tmp_path / "nope.key")), "key file")):
        with pytest.raises(OSError, match=f"Could not find .*{missing}.*invalid path"):
            adapter.cert_verify(Conn(), "https://x.test/", verify, cert)
