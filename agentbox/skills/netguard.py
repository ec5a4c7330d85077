"""SSRF guard for tools that fetch URLs the model (or a web page) chose.

A URL passes only if its scheme is http(s) and every address its host resolves to is a global
(public) address: private, loopback, link-local (cloud metadata at 169.254.169.254), CGNAT,
multicast, reserved and unspecified ranges are refused, IPv4-mapped IPv6 included. Checking
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

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedURL(ValueError):
    """The URL is not allowed; the message says why (shown to the model)."""


class UnresolvableHost(BlockedURL):
    """The host does not resolve (no policy decision was needed)."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # is_global is False for private, loopback, link-local, CGNAT (100.64/10), reserved, unspecified...
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
