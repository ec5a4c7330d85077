"""SSRF guard for tools that fetch URLs the model (or a web page) chose.

A URL passes only if its scheme is http(s) and every address its host resolves to is a global
(public) address: private, loopback, link-local (cloud metadata at 169.254.169.254), CGNAT,
multicast, reserved and unspecified ranges are refused. An IPv6 address that carries an IPv4
one (mapped, translated, NAT64, 6to4, Teredo) is refused when that IPv4 would be, and
deprecated or local-use IPv6 ranges (site-local, IPv4-compatible, local NAT64) always are. Checking
*every* resolved address matters: a name resolving to one public and one private address
would otherwise let the browser pick the private one.

The browser itself is pointed at `guardproxy.GuardProxy`, which applies the same check to every
connection (redirects and subresources too) and connects to the address it checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from agentbox.errors import AgentboxError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedURL(AgentboxError, ValueError):
    """The URL is not allowed; the message says why (shown to the model)."""


class UnresolvableHost(BlockedURL):
    """The host does not resolve (no policy decision was needed)."""


# IPv6 ranges refused whatever they carry: deprecated, local-use or never globally reachable
# (Python 3.11's `is_global` misses these).
REFUSED_IPV6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/96",  # IPv4-compatible ::a.b.c.d (deprecated, RFC 4291), with :: and ::1
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215): translates to the site's own IPv4 network
        "fec0::/10",  # site-local (deprecated, RFC 3879)
        "100::/64",  # discard-only (RFC 6666)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 segment identifiers (RFC 9602)
    )
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052)
SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")  # IPv4-translated ::ffff:0:a.b.c.d (RFC 2765)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: a connection to it reaches (or passes) them."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in NAT64 or address in SIIT:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # (server, client): neither may be private
    return []


def is_public(address: IPAddress) -> bool:
    """True only for a global unicast address; an IPv6 form carrying an IPv4 is judged by that IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in REFUSED_IPV6):
            return False
        embedded = embedded_ipv4(address)
        if not all(is_public(ipv4) for ipv4 in embedded):
            return False
        if embedded and address.teredo is None:
            return True  # mapped, translated, NAT64 and 6to4 go where their IPv4 goes
    # is_global is False for private, loopback, link-local, CGNAT (100.64/10), reserved, unspecified,
    # Teredo (2001::/32)...
    return address.is_global and not address.is_multicast


def parse_http_url(url: str) -> tuple[str, str]:
    """(scheme, host) of an http(s) URL, or BlockedURL."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError as exc:
        raise BlockedURL(f"malformed URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise BlockedURL(f"only http and https URLs are allowed (got {parts.scheme or 'no'} scheme)")
    if not parts.hostname:
        raise BlockedURL("the URL has no host")
    return parts.scheme, parts.hostname


async def resolve(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnresolvableHost(f"cannot resolve {host}: {exc.strerror or exc}") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        addresses.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    if not addresses:
        raise UnresolvableHost(f"cannot resolve {host}")
    return addresses


async def check_url(url: str, *, allow_private: bool = False) -> str:
    """Return the host if the URL may be fetched, else raise BlockedURL with the reason."""
    _, host = parse_http_url(url)
    if allow_private:
        return host
    for address in await resolve(host):
        if not is_public(address):
            raise BlockedURL(f"{host} resolves to {address}, a private/loopback/link-local/reserved address")
    return host
