"""The monitor's SSRF guard: where a site URL may point, and where the legacy checker may connect.

A monitor fetches URLs its users typed, so a URL must not reach the monitor's own network
(``http://127.0.0.1:6379/``, cloud metadata at ``169.254.169.254``). The text of a URL says
little: an OS resolver takes ``127.1``, ``2130706433``, ``0x7f000001``, ``0`` and
``0177.0.0.1`` as IPv4 addresses, and a host name may resolve to a private address (from
``/etc/hosts`` or DNS), or to another address a second later (DNS rebinding). So every
judgement here is made on addresses as the OS resolver produces them, with the rules of
:class:`async_core.http.AddressPolicy` (the guard of the bridged checker):

- :func:`host_refusal` is the check at the form: numeric forms are resolved without DNS
  (``AI_NUMERICHOST``, which accepts exactly what the OS accepts) and names are resolved
  once; any refused address refuses the URL.
- :class:`GuardedAdapter` is the check at connect time for ``requests``: its connections
  resolve the host themselves, drop refused addresses, and connect to a checked address
  (pinned, so a second DNS answer cannot swap it). :func:`monitor_session` mounts it.

Proxies are refused on a guarded session (a proxy would connect on the session's behalf to
addresses no one judged), and the session ignores proxy environment variables.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

import bridge.http as http  # noqa: PLR0402 - the import a requests user expects
from async_core import BlockedAddress
from async_core.http import AddressPolicy, default_http_config

logger = logging.getLogger(__name__)

__all__ = ["GuardedAdapter", "host_refusal", "monitor_session", "refusal", "resolve"]

#: Seconds the form waits for a name to resolve; past that the connect-time guard decides.
RESOLVE_TIMEOUT = 2.0


def refusal(policy: AddressPolicy, host: str, address: str) -> BlockedAddress | None:
    """The error for connecting to ``address`` (resolved from ``host``), or None if allowed.

    Adds to :meth:`AddressPolicy.refusal` the IPv4 address a 6to4 address carries
    (``2002:7f00:1::`` is 127.0.0.1 behind a 6to4 relay).
    """
    error = policy.refusal(host, address)
    if error is not None or not policy.block_private or policy.host_allowed(host):
        return error
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None:
        inner = policy.refusal(host, str(ip.sixtofour))
        if inner is not None:
            return BlockedAddress(f"{inner} (carried in the 6to4 address {address})")
    return None


def numeric_addresses(host: str) -> list[str] | None:
    """The addresses of ``host`` if the OS reads it as a numeric address, else None (no DNS)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return sorted({str(info[4][0]) for info in infos})


def resolve(host: str, port: int | None = None, timeout: float = RESOLVE_TIMEOUT) -> list[tuple[Any, ...]] | None:
    """``getaddrinfo`` for TCP, waiting at most ``timeout`` s; None if it failed or took longer."""
    found: list[list[tuple[Any, ...]]] = []

    def lookup() -> None:
        try:
            found.append(list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))
        except (OSError, UnicodeError, ValueError):
            pass

    worker = threading.Thread(target=lookup, name="legacy_app-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    return found[0] if found else None


def host_refusal(policy: AddressPolicy, host: str) -> str | None:
    """Why the form must refuse a URL with this ``host`` (its addresses judged), or None.

    A name that does not resolve now is accepted: the checkers judge it again when they
    connect, as they judge every name.
    """
    host = host.lower().rstrip(".")
    if not policy.block_private or policy.host_allowed(host):
        return None
    addresses = numeric_addresses(host.split("%", 1)[0] if ":" in host else host)
    if addresses is None and ":" in host:
        return f"{host} is not an IPv6 address this monitor can judge"
    if addresses is None:
        infos = resolve(host)
        addresses = sorted({str(info[4][0]) for info in infos or ()})
    for address in addresses:
        error = refusal(policy, host, address)
        if error is not None:
            shown = host if address == host else f"{host} (it resolves to {address})"
            return f"{shown} is a private or local address"
    return None


def current_policy() -> AddressPolicy:
    """The running app's guard (``SSRF_ALLOW``), or the process's ``bridge.http`` guard outside one."""
    from flask import current_app, has_app_context

    if has_app_context() and "SSRF_POLICY" in current_app.config:
        policy: AddressPolicy = current_app.config["SSRF_POLICY"].address_policy
        return policy
    return default_http_config().policy


class _Refused(NewConnectionError):
    """urllib3's form of a refusal, so urllib3 neither retries nor wraps it unexpectedly."""

    def __init__(self, conn: Any, blocked: BlockedAddress) -> None:
        super().__init__(conn, str(blocked))
        self.blocked = blocked


class _GuardedConnectionMixin:
    """Connect only to resolved addresses the policy allows, pinned for the connect itself."""

    ssrf_policy: AddressPolicy = AddressPolicy(block_private=True)
    _dns_host: str
    port: int

    def _new_conn(self) -> socket.socket:
        host, policy = self._dns_host, self.ssrf_policy
        if not policy.block_private or policy.host_allowed(host):
            return super()._new_conn()  # type: ignore[misc,no-any-return]
        try:
            infos = socket.getaddrinfo(host, self.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:  # never fall back to an unjudged lookup
            raise NewConnectionError(self, f"Failed to resolve {host!r} ({exc})") from exc  # type: ignore[arg-type]
        kept: list[str] = []
        first: BlockedAddress | None = None
        for info in infos:
            address = str(info[4][0])
            error = refusal(policy, host, address)
            if error is None:
                kept.append(address)
            elif first is None:
                first = error
        if not kept:
            assert first is not None
            logger.warning("SSRF guard refused %s: %s", host, first)
            raise _Refused(self, first)
        last: Exception | None = None
        for address in dict.fromkeys(kept):
            self._dns_host = address  # connect to the address just judged, not a second lookup
            try:
                return super()._new_conn()  # type: ignore[misc,no-any-return]
            except NewConnectionError as exc:
                last = exc
            finally:
                self._dns_host = host
        assert last is not None
        raise last


def _pool_classes(policy: AddressPolicy) -> dict[str, type[HTTPConnectionPool]]:
    attrs = {"ssrf_policy": policy}
    http_conn = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), attrs)
    https_conn = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), attrs)
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }


class GuardedAdapter(HTTPAdapter):
    """A requests ``HTTPAdapter`` whose connections never reach an address ``policy`` refuses.

    Every connection, redirects included, resolves its host and connects only to an allowed
    address; a refused one fails with :class:`async_core.BlockedAddress` (a
    ``requests.ConnectionError``). Proxies are refused.

    Example::

        session = requests.Session()
        session.mount("http://", GuardedAdapter(AddressPolicy.build(True, ["10.1.0.0/16"])))
    """

    def __init__(self, policy: AddressPolicy, **kwargs: Any) -> None:
        if not isinstance(policy, AddressPolicy):
            raise TypeError(f"policy must be an async_core.http.AddressPolicy, got {type(policy).__name__}")
        self.policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """The usual pool manager, with pools whose connections check their peer address."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.policy)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[misc]
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.policy)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Refuse: a proxy connects on our behalf to an address no one judged."""
        raise requests.exceptions.InvalidProxyURL(
            f"a proxy ({proxy}) cannot be used with the SSRF guard: the proxy would connect to "
            "addresses the guard never sees; remove it from the session's proxies")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Send as HTTPAdapter does; a refused address raises :class:`BlockedAddress`."""
        try:
            return super().send(request, *args, **kwargs)
        except requests.ConnectionError as exc:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(reason, _Refused):
                raise reason.blocked from exc
            raise


def monitor_session(policy: AddressPolicy | None = None, headers: Mapping[str, str] | None = None, *,
                    on_loop: bool | None = None) -> requests.Session:
    """The legacy checker's ``requests.Session``: guarded adapters, no proxies from the environment.

    ``policy`` defaults to :func:`current_policy` (the app's ``SSRF_ALLOW``). ``on_loop``
    (default: the app's ``CHECK_SESSION_ON_LOOP``) mounts ``bridge.http.LoopBridgeAdapter``
    instead: the same Session code, its traffic on the shared loop's aiohttp pool, guarded by
    the same allow-list (judged by the loop's resolver). That is the whole migration of a
    Session, the two ``mount`` lines below.
    """
    guard = current_policy() if policy is None else policy
    session = requests.Session()
    session.trust_env = False  # HTTP(S)_PROXY would route around the guard
    session.headers["User-Agent"] = "legacy_app-monitor " + session.headers["User-Agent"]  # type: ignore[operator]
    session.headers.update(headers or {})
    if _session_on_loop() if on_loop is None else on_loop:
        allow = sorted(guard.allow_hosts) + [str(net) for net in guard.allow_networks]
        adapter = http.LoopBridgeAdapter(block_private=guard.block_private, allow=allow)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session
    for prefix in ("http://", "https://"):
        session.mount(prefix, GuardedAdapter(guard))
    return session


def _session_on_loop() -> bool:
    from flask import current_app, has_app_context

    return bool(has_app_context() and current_app.config.get("CHECK_SESSION_ON_LOOP"))
