"""SOCKS proxies for the requests adapter: aiohttp-socks connectors, with the SSRF guard kept.

aiohttp speaks to http:// proxies only; SOCKS4/5 need a connector that opens every connection
through the proxy (``aiohttp_socks.ProxyConnector``, the optional extra ``loopbridge[socks]``).
So a SOCKS proxy gets a pool of its own: the :class:`HttpClient` keeps one session per
(configuration, proxy URL), as requests keeps one urllib3 ``SOCKSProxyManager`` per proxy.

The schemes mean what they mean to requests (urllib3's ``SOCKSProxyManager``):

=========  =======================  =============================================
scheme     protocol                 who resolves the destination's name
=========  =======================  =============================================
socks4     SOCKS4                   this process
socks4a    SOCKS4a                  the proxy
socks5     SOCKS5                   this process
socks5h    SOCKS5                   the proxy
=========  =======================  =============================================

The SSRF guard (``block_private``) checks every address this process connects to. Through a
SOCKS proxy that resolves here (socks4, socks5) the destination's name goes through the
guard's resolver and the proxy is told the checked address, TLS still verifying the name; a
proxy that resolves names itself (socks4a, socks5h) would connect to addresses nobody checked,
so with the guard on those schemes are refused for names (an IP literal is checked as always).
"""

from __future__ import annotations

import functools
import socket
import ssl
from typing import Any

import aiohttp
from yarl import URL

from .._errors import BlockedAddress, UpstreamError
from ._ssrf import AddressPolicy, GuardedResolver, is_ip_literal
from ._track import TrackConnections

__all__ = ["SOCKS_SCHEMES", "open_socks_connector", "socks_available"]

#: scheme -> (python-socks proxy type name, the proxy resolves names)
SOCKS_SCHEMES: dict[str, tuple[str, bool]] = {
    "socks4": ("SOCKS4", False),
    "socks4a": ("SOCKS4", True),
    "socks5": ("SOCKS5", False),
    "socks5h": ("SOCKS5", True),
}


def socks_available() -> bool:
    """Whether aiohttp-socks (the ``loopbridge[socks]`` extra) is installed."""
    try:
        import aiohttp_socks  # noqa: F401
    except ImportError:
        return False
    return True


def open_socks_connector(proxy: str, guard: GuardedResolver, policy: AddressPolicy, **tcp: Any) -> aiohttp.TCPConnector:
    """A connector whose connections all go through the SOCKS proxy ``proxy`` (loop thread).

    ``tcp`` are :class:`aiohttp.TCPConnector` arguments (limits, ``ssl``). ``guard`` resolves
    destination names when this process resolves them; ``policy`` says whether the guard is on.

    Raises:
        ImportError: aiohttp-socks is not installed.
        ValueError: ``proxy`` is not a socks4/4a/5/5h URL with a host and a port.
    """
    url = URL(proxy)
    host, port = url.host, url.port
    if url.scheme not in SOCKS_SCHEMES or not host or port is None:
        shown = url.with_password("***") if url.password else url
        raise ValueError(f"{shown} is not a SOCKS proxy URL (socks4://, socks4a://, socks5:// or socks5h://, "
                         "with a host and a port).")
    connector: aiohttp.TCPConnector = _connector_class()(url, host, port, guard, policy, **tcp)
    return connector


@functools.cache
def _connector_class() -> Any:
    """The connector class, made on first use (aiohttp-socks is an optional extra)."""
    from aiohttp_socks import ProxyConnectionError, ProxyConnector, ProxyError, ProxyTimeoutError
    from aiohttp_socks.connector import _ResponseHandler
    from python_socks import ProxyType
    from python_socks.async_.asyncio.v2 import Proxy

    class GuardedProxyConnector(TrackConnections, ProxyConnector):  # type: ignore[misc]
        """``ProxyConnector`` with aiohttp's errors and, when the guard is on, names resolved through it."""

        def __init__(self, url: URL, host: str, port: int, guard: GuardedResolver, policy: AddressPolicy, **tcp: Any) -> None:
            kind, remote_dns = SOCKS_SCHEMES[url.scheme]
            super().__init__(host=host, port=port, proxy_type=ProxyType[kind], username=url.user,
                             password=url.password, rdns=remote_dns, **tcp)
            self._where = f"SOCKS proxy {url.scheme}://{host}:{port}"
            self._url, self._host, self._port = url, host, port
            self._kind, self._remote_dns = ProxyType[kind], remote_dns
            self._guard, self._policy = guard, policy

        async def _wrap_create_connection(self, *args: Any, req: Any, timeout: Any, **kwargs: Any) -> Any:
            # aiohttp-socks raises errors of its own, which aiohttp passes through untouched: make
            # them aiohttp's, as a direct connection's would be (requests' ProxyError, ConnectTimeout)
            try:
                return await super()._wrap_create_connection(*args, req=req, timeout=timeout, **kwargs)
            except ProxyTimeoutError as exc:
                raise aiohttp.ConnectionTimeoutError(f"{self._where}: {exc}") from exc
            except UpstreamError:  # the guard's refusal, as it is
                raise
            except ssl.SSLCertVerificationError as exc:  # TLS to the destination, through the tunnel
                raise aiohttp.ClientConnectorCertificateError(req.connection_key, exc) from exc
            except ssl.SSLError as exc:
                raise aiohttp.ClientConnectorSSLError(req.connection_key, exc) from exc
            except (ProxyConnectionError, ProxyError, OSError, EOFError) as exc:  # EOFError: it hung up mid-handshake
                detail = str(exc) or "it closed the connection during the SOCKS handshake"
                raise aiohttp.ClientProxyConnectionError(req.connection_key, OSError(0, f"{self._where}: {detail}")) from exc

        async def _connect_via_proxy(self, host: str, port: int, ssl: Any = None, timeout: float | None = None) -> Any:
            if not self._policy.block_private or is_ip_literal(host):  # an IP literal is checked before each request
                return await super()._connect_via_proxy(host, port, ssl, timeout)
            if self._remote_dns:
                scheme = self._url.scheme
                raise BlockedAddress(
                    f"{host}: block_private is on and the {self._where} resolves names itself, so the address it "
                    f"connects to cannot be checked; use {scheme[:-1]}:// (names resolved and checked here), "
                    "allow the name (allow=[...]), or turn the guard off for this adapter.")
            answers = await self._guard.resolve(host, port, socket.AF_UNSPEC)  # raises when every address is refused
            proxy = Proxy(proxy_type=self._kind, host=self._host, port=self._port, username=self._url.user,
                          password=self._url.password, rdns=False)
            stream = await proxy.connect(dest_host=answers[0]["host"], dest_port=port, timeout=timeout)
            if ssl is not None:  # TLS to the name, not the address: certificates are checked as usual
                stream = await stream.start_tls(hostname=host, ssl_context=ssl)
            transport = stream.writer.transport  # adopted as ProxyConnector adopts its streams
            protocol = _ResponseHandler(loop=self._loop, writer=stream.writer)
            transport.set_protocol(protocol)
            protocol.connection_made(transport)
            return transport, protocol

    return GuardedProxyConnector
