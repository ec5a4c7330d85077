"""One guarded HTTP exchange for the `http_request` tool: SSRF guard, redirects, size and time limits.

The SSRF rule is web page vision's (`netguard.is_public`): every address a host resolves to
must be public unless `[skills] allow_private_urls` is on. It is enforced inside aiohttp's
connector by a resolver that refuses the host, so the connection goes to an address that was
checked (a DNS answer that changes between a check and the connect cannot redirect it); IP
literals, which aiohttp never resolves, are checked before each hop. Redirects are followed
here, hop by hop, so each hop is checked and a hop to another host can be refused.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from agentbox.skillkit.netguard import BlockedURL, IPAddress, is_public, parse_http_url, resolve

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DROPPED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses a host unless every address it resolves to is allowed."""

    def __init__(self, allowed: Callable[[IPAddress], bool] | None) -> None:
        self.allowed = allowed  # None: any address (allow_private_urls)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await resolve(host)
        if self.allowed is not None:
            for address in addresses:
                if not self.allowed(address):
                    raise BlockedURL(f"{host} resolves to {address}, a private/loopback/link-local/reserved address")
        return [
            {
                "hostname": host,
                "host": str(address),
                "port": port,
                "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        return None


@dataclass(slots=True)
class Outgoing:
    """A request as it goes out: secrets already filled in (never shown to the model)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    body: str | None = None


@dataclass(slots=True)
class Answer:
    """What came back: status, headers, the first `max_bytes` of the body, and why a redirect stopped."""

    status: int
    reason: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    truncated: bool
    stopped_redirect: str | None = None


@dataclass(slots=True)
class HttpPolicy:
    """The limits of one exchange."""

    timeout: float
    max_bytes: int
    allowed: Callable[[IPAddress], bool] | None = is_public  # None: private addresses too
    may_follow: Callable[[str], bool] = lambda host: True  # e.g. only hosts the skill's secrets may reach


def check_literal(url: str, allowed: Callable[[IPAddress], bool] | None) -> None:
    """Refuse a non-http(s) URL, or an IP-literal host that is not allowed (names are the resolver's job)."""
    _, host = parse_http_url(url)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if allowed is not None and not allowed(address):
        raise BlockedURL(f"{host} is a private/loopback/link-local/reserved address")


async def exchange(request: Outgoing, policy: HttpPolicy) -> Answer:
    """Send the request, following up to MAX_REDIRECTS checked redirects; BlockedURL or aiohttp errors."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy.allowed), use_dns_cache=False)
    timeout = aiohttp.ClientTimeout(total=policy.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session:
        current = request
        for _ in range(MAX_REDIRECTS + 1):
            check_literal(current.url, policy.allowed)
            answer = await _send(session, current, policy.max_bytes)
            location = answer.headers.get("location")
            if answer.status not in REDIRECTS or not location:
                return answer
            target = urljoin(current.url, location)
            host = urlsplit(target).hostname or ""
            if not policy.may_follow(host):
                answer.stopped_redirect = target
                return answer
            current = _redirected(current, target, answer.status)
        raise BlockedURL(f"more than {MAX_REDIRECTS} redirects")


def _redirected(request: Outgoing, target: str, status: int) -> Outgoing:
    """The next hop: 303 (and 301/302 after a POST) becomes a GET without a body, as browsers do."""
    if status == 303 or (status in (301, 302) and request.method == "POST"):
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-type"}
        return Outgoing("GET", target, headers)
    return Outgoing(request.method, target, dict(request.headers), request.json, request.form, request.body)


async def _send(session: aiohttp.ClientSession, request: Outgoing, max_bytes: int) -> Answer:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED_HEADERS}
    data: Any = request.body
    if request.form is not None:  # encoded here: aiohttp would turn odd field names into multipart
        data = urlencode(request.form)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with session.request(
        request.method,
        request.url,
        headers=headers,
        json=request.json,
        data=data,
        allow_redirects=False,
    ) as response:
        kept = bytearray()
        truncated = False
        async for chunk in response.content.iter_chunked(65536):
            kept += chunk
            if len(kept) > max_bytes:
                truncated = True
                del kept[max_bytes:]
                break
        return Answer(
            status=response.status,
            reason=response.reason or "",
            url=str(response.url),
            headers={k.lower(): v for k, v in response.headers.items()},
            body=bytes(kept),
            truncated=truncated,
        )
