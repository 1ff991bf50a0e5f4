"""The SSRF guard: refuse to connect to loopback, private and other non-public addresses.

A server that fetches URLs a user typed (an uptime monitor, a webhook sender) can be made to
reach its own internal network: ``http://127.0.0.1:6379/``, ``http://169.254.169.254/`` (cloud
metadata), or a public-looking hostname whose DNS answer is ``10.0.0.5``. Checking the URL's
text is not enough: the name may resolve to a private address, and may resolve differently a
second later (DNS rebinding). So the check is made on the *resolved* address, at connect time:

- hostnames go through :class:`GuardedResolver`, which wraps the connector's resolver and drops
  every refused address from its answer (the connector can only connect to what it returns, and
  its DNS cache only ever holds checked answers);
- a literal IP in a URL never reaches a resolver, so :meth:`AddressPolicy.check_url` is called
  for it before each request and each redirect hop.

The guard is off by default in the library (``HttpConfig(block_private=False)``); an app that
fetches user-supplied URLs turns it on and allow-lists what it needs, e.g.
``bridge.http.configure(block_private=True, allow=["127.0.0.1", "10.1.0.0/16", "intranet"])``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import re
import socket
from collections.abc import Callable, Iterable

try:
    from aiohttp.abc import AbstractResolver, ResolveResult
except ImportError as exc:  # aiohttp < 3.10; the declared floor (pyproject.toml) is higher still
    import aiohttp

    raise ImportError(
        f"loopbridge needs aiohttp>=3.14.2, found {aiohttp.__version__} (no aiohttp.abc.ResolveResult): "
        "pip install -U 'aiohttp>=3.14.2'."
    ) from exc

from .._errors import BlockedAddress

__all__ = ["AddressPolicy", "GuardedResolver", "forbidden_reason", "is_ip_literal"]

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,62}[a-z0-9_])?)*$")

#: (predicate, what the address is), checked in order; the first match names the refusal
_CHECKS: tuple[tuple[str, str], ...] = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_private", "private"),
    ("is_reserved", "reserved"),
)


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _carried_ipv4(address: ipaddress.IPv6Address) -> list[tuple[ipaddress.IPv4Address, str]]:
    carried = []
    if address.sixtofour is not None:
        carried.append((address.sixtofour, "6to4"))
    if address.teredo is not None:
        carried.append((address.teredo[1], "Teredo"))
    if address in _NAT64:
        carried.append((ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"))
    return carried


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or ``None`` if it is one.

    IPv4-mapped IPv6 addresses (``::ffff:127.0.0.1``) are judged as the IPv4 address they carry.

    Example::

        >>> forbidden_reason(ipaddress.ip_address("10.0.0.1"))
        'private'
        >>> forbidden_reason(ipaddress.ip_address("93.184.216.34")) is None
        True
    """
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            address = mapped
        else:
            # an IPv4 address carried in an IPv6 one reaches that IPv4 host through a relay or
            # a translator: judge what it carries (6to4, Teredo's client, NAT64's well-known prefix)
            for carried, how in _carried_ipv4(address):
                reason = forbidden_reason(carried)
                if reason is not None:
                    return f"{reason} (carried in a {how} address)"
    for attr, label in _CHECKS:
        if getattr(address, attr):
            return label
    if not address.is_global:  # shared address space (100.64/10), documentation ranges, ...
        return "non-global"
    return None


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def is_ip_literal(host: str) -> bool:
    """Whether ``host`` (a URL's host) is an IP address rather than a name."""
    return _parse_ip(host) is not None


@dataclasses.dataclass(frozen=True)
class AddressPolicy:
    """Which addresses the HTTP client may connect to.

    Parameters:
        block_private: refuse loopback, private, link-local, multicast, reserved, unspecified
            and other non-global addresses (IPv4 and IPv6). ``False`` allows everything.
        allow_hosts: hostnames (lower case) whose addresses are never refused.
        allow_networks: networks whose addresses are never refused (a single IP is a /32 or /128).

    Example::

        policy = AddressPolicy.build(True, ["localhost", "10.1.0.0/16"])
        policy.check("db.internal", "10.2.0.1")   # raises BlockedAddress
    """

    block_private: bool = False
    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(cls, block_private: bool, allow: Iterable[str]) -> AddressPolicy:
        """Parse an allow-list of hostnames, IP addresses and CIDR networks.

        Raises:
            TypeError: ``allow`` is a bare string or holds a non-string.
            ValueError: an entry is neither a hostname, an address nor a network.
        """
        if isinstance(allow, str | bytes):
            raise TypeError(f"allow must be a list of hosts or networks, not the string {allow!r}; use [{allow!r}].")
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in allow:
            if not isinstance(entry, str):
                raise TypeError(f"allow entries must be strings (host, IP or CIDR), got {entry!r}.")
            text = entry.strip().lower().rstrip(".")
            try:
                networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if not _HOSTNAME.match(text):
                raise ValueError(
                    f"allow entry {entry!r} is not a hostname, an IP address or a CIDR network "
                    "(examples: 'localhost', '127.0.0.1', '10.0.0.0/8', '::1')."
                )
            hosts.add(text)
        return cls(bool(block_private), frozenset(hosts), tuple(networks))

    def host_allowed(self, host: str) -> bool:
        """True when ``host`` (a hostname) is on the allow-list, so none of its addresses is checked."""
        return host.lower().rstrip(".") in self.allow_hosts

    def refusal(self, host: str, address: str) -> BlockedAddress | None:
        """The error to raise for connecting to ``address`` (resolved from ``host``), or ``None``."""
        if not self.block_private or self.host_allowed(host):
            return None
        ip = _parse_ip(address)
        if ip is None:  # not an address we can judge: refuse rather than guess
            reason: str | None = "unparseable"
        else:
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            if any(ip in net for net in self.allow_networks):
                return None
            reason = forbidden_reason(ip)
        if reason is None:
            return None
        shown = host if host == address else f"{host} (resolved to {address})"
        return BlockedAddress(
            f"refused to connect to {shown}: {reason} addresses are blocked by the SSRF guard "
            f"(block_private=True). If this host is meant to be reachable, add it to the allow-list, "
            f"e.g. bridge.http.configure(allow=[{host!r}]) or a network such as {address!r}."
        )

    def check(self, host: str, address: str) -> None:
        """Raise :class:`BlockedAddress` if connecting to ``address`` for ``host`` is refused."""
        error = self.refusal(host, address)
        if error is not None:
            raise error

    def check_url_host(self, host: str | None) -> None:
        """Check a URL's host if it is a literal IP (hostnames are checked when resolved)."""
        if not self.block_private or not host:
            return
        if _parse_ip(host) is not None:
            self.check(host, host)


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that drops refused addresses from the wrapped resolver's answer.

    Parameters:
        policy: a callable returning the current :class:`AddressPolicy` (read at every lookup).
        inner: the resolver doing the lookups (aiohttp's default one when ``None``; create this
            object on the event loop that will use it).

    Raises (from :meth:`resolve`):
        BlockedAddress: every address the name resolved to is refused.
    """

    def __init__(self, policy: Callable[[], AddressPolicy], inner: AbstractResolver | None = None) -> None:
        if not callable(policy):
            raise TypeError("GuardedResolver needs a callable returning the current AddressPolicy.")
        if inner is None:
            from aiohttp.resolver import DefaultResolver

            inner = DefaultResolver()
        self._policy = policy
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` with the wrapped resolver and keep only the permitted addresses."""
        answers = await self._inner.resolve(host, port, family)
        policy = self._policy()
        if not policy.block_private:
            return answers
        kept: list[ResolveResult] = []
        first_error: BlockedAddress | None = None
        for answer in answers:
            error = policy.refusal(host, answer["host"])
            if error is None:
                kept.append(answer)
            elif first_error is None:
                first_error = error
        if not kept and first_error is not None:
            logger.warning("loopbridge: SSRF guard refused %s: %s", host, first_error)
            raise first_error
        return kept

    async def resolve_unchecked(self, host: str, port: int = 0) -> str:
        """The first address of ``host``, not judged: for a proxy the application configured.

        The guard protects destinations (URLs that may come from users); a proxy is the
        operator's choice, so its own address is not refused, whether it is a name or an IP.
        """
        answers = await self._inner.resolve(host, port, socket.AF_UNSPEC)
        if not answers:
            raise OSError(f"could not resolve the proxy host {host}")
        return answers[0]["host"]

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._inner.close()
