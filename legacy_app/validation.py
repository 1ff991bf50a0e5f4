"""Checking what users type: site URLs and names, and the SSRF allow-list.

A URL is accepted when it is http or https, has a host, fits :data:`MAX_URL_LENGTH`, and
its host is not, and does not resolve to, a private, loopback, link-local, multicast or
otherwise non-public address that ``SSRF_ALLOW`` does not list. Numeric hosts are read as the
OS reads them (``127.1``, ``2130706433``, ``0x7f000001`` and ``0177.0.0.1`` are all
loopback), see :mod:`legacy_app.ssrf`. This is the check at the form; both checkers check
again the address they actually connect to (a name may resolve elsewhere later).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from async_core.http import AddressPolicy
from legacy_app.ssrf import host_refusal

MAX_URL_LENGTH = 2000
MAX_NAME_LENGTH = 100
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class InvalidSite(ValueError):
    """What the user entered cannot be monitored; the message says why and what to enter."""


@dataclass(frozen=True)
class SsrfPolicy:
    """Which otherwise refused hosts and networks the monitor may check anyway."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_config(cls, allow: Iterable[str] | str | None) -> SsrfPolicy:
        """Build from ``SSRF_ALLOW``: host names, IPs or CIDR networks (a list or a comma list)."""
        if allow is None:
            return cls()
        items = allow.split(",") if isinstance(allow, str) else list(allow)
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for item in (str(i).strip() for i in items):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    @functools.cached_property
    def address_policy(self) -> AddressPolicy:
        """The same allow-list as the connect-time guard's :class:`AddressPolicy` (guard on)."""
        return AddressPolicy.build(True, self.as_list())

    def as_list(self) -> list[str]:
        """The allow-list as strings (for ``bridge.http``'s guard)."""
        return sorted(self.hosts) + [str(n) for n in self.networks]

    def allows(self, host: str) -> bool:
        """True if ``host`` is listed by name or falls in a listed network."""
        host = host.lower().rstrip(".")
        if host in self.hosts:
            return True
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)


def is_private_host(host: str) -> bool:
    """True for a local name or an IP literal that is not a public unicast address."""
    host = host.lower().rstrip(".")
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast
            or addr.is_reserved or addr.is_unspecified)


def normalize_url(raw: object, policy: SsrfPolicy = SsrfPolicy()) -> str:
    """Return the URL to store for ``raw``, or raise :class:`InvalidSite` saying what to fix.

    The scheme and host are lower-cased and surrounding blanks dropped; everything else
    is kept as typed, so the duplicate check compares what users see.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidSite("Enter the URL of the site to monitor, e.g. https://example.com/.")
    url = raw.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidSite(f"The URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}.")
    if any(ch.isspace() for ch in url):
        raise InvalidSite("The URL contains spaces; encode them as %20.")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise InvalidSite(f"That is not a valid URL ({exc}).") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidSite("Only http:// and https:// URLs can be monitored.")
    if not host:
        raise InvalidSite("The URL has no host name; enter it like https://example.com/.")
    if parts.username or parts.password:
        raise InvalidSite("Remove the user name and password from the URL; they would be stored in clear.")
    if policy.allows(host):
        reason = None
    elif is_private_host(host):
        reason = f"{host} is a private or local address"
    else:
        reason = host_refusal(policy.address_policy, host)
    if reason is not None:
        raise InvalidSite(f"{reason}, which this monitor refuses (SSRF protection); "
                          "an administrator can allow it in SSRF_ALLOW.")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(),
                       parts.path or "/", parts.query, ""))


def normalize_name(raw: object, url: str) -> str:
    """Return the display name (the URL's host when blank); InvalidSite if too long."""
    name = raw.strip() if isinstance(raw, str) else ""
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidSite(f"The name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}.")
    return name or (urlsplit(url).hostname or url)
