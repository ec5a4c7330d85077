"""SSRF guard: an IPv6 address that carries a private IPv4 (mapped, translated, NAT64, 6to4, Teredo,
IPv4-compatible) is refused, deprecated and local-use IPv6 ranges are refused, public ones pass."""

from __future__ import annotations

import asyncio
import ipaddress
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentbox.skillkit.guardproxy import GuardProxy
from agentbox.skillkit.netguard import BlockedURL, check_url, is_public


# -- the IPv6 forms that carry an IPv4 address ----------------------------------------------
def mapped(v4: IPv4Address) -> IPv6Address:  # ::ffff:a.b.c.d
    return IPv6Address(0xFFFF << 32 | int(v4))


def translated(v4: IPv4Address) -> IPv6Address:  # ::ffff:0:a.b.c.d (SIIT)
    return IPv6Address(0xFFFF << 48 | int(v4))


def nat64(v4: IPv4Address) -> IPv6Address:  # 64:ff9b::a.b.c.d
    return IPv6Address(int(IPv6Address("64:ff9b::")) | int(v4))


def sixtofour(v4: IPv4Address, host: int = 1) -> IPv6Address:  # 2002:aabb:ccdd::/48
    return IPv6Address(0x2002 << 112 | int(v4) << 80 | host)


def teredo(server: IPv4Address, client: IPv4Address, port: int = 40000) -> IPv6Address:
    # 2001:0:<server>:<flags>:<port ^ ffff>:<client ^ ffffffff> (RFC 4380)
    return IPv6Address(
        0x20010000 << 96 | int(server) << 64 | 0x8000 << 48 | (port ^ 0xFFFF) << 32 | (int(client) ^ 0xFFFFFFFF)
    )


def compatible(v4: IPv4Address) -> IPv6Address:  # ::a.b.c.d (deprecated)
    return IPv6Address(int(v4))


PUBLIC_V4 = IPv4Address("8.8.8.8")
CARRIERS = {
    "mapped": mapped,
    "translated": translated,
    "nat64": nat64,
    "6to4": sixtofour,
    "teredo server": lambda v4: teredo(v4, PUBLIC_V4),
    "teredo client": lambda v4: teredo(PUBLIC_V4, v4),
    "ipv4-compatible": compatible,
}

PRIVATE_V4 = ["10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"]


@pytest.mark.parametrize("private", PRIVATE_V4)
@pytest.mark.parametrize("form", list(CARRIERS))
def test_every_form_carrying_a_private_ipv4_is_refused(form: str, private: str) -> None:
    address = CARRIERS[form](IPv4Address(private))
    assert not is_public(address), f"{address} ({form} of {private}) passed"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("2606:4700::1111", True),  # plain global unicast
        ("::ffff:8.8.8.8", True),
        ("::ffff:0:8.8.8.8", True),
        ("64:ff9b::8.8.8.8", True),  # how IPv6-only networks reach public IPv4 sites
        ("2002:808:808::1", True),
        ("64:ff9b:1::a00:1", False),  # local-use NAT64: the site's own IPv4 network
        ("64:ff9b:1::808:808", False),
        ("fec0::1", False),  # site-local (deprecated)
        ("feff:ffff::1", False),
        ("::8.8.8.8", False),  # IPv4-compatible (deprecated)
        ("2001:0:808:808:8000:63bf:f7f7:f7f7", False),  # Teredo, even between public addresses
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("ff02::1", False),
        ("ff0e::1", False),
        ("100::1", False),
        ("2001:db8::1", False),
        ("3fff::1", False),
        ("5f00::1", False),
    ],
)
def test_ipv6_table(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


private_networks = st.sampled_from(
    [
        ipaddress.IPv4Network(net)
        for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10")
    ]
)


@st.composite
def private_ipv4(draw: st.DrawFn) -> IPv4Address:
    network = draw(private_networks)
    return network[draw(st.integers(0, network.num_addresses - 1))]


@given(v4=private_ipv4(), form=st.sampled_from(list(CARRIERS)))
def test_any_private_ipv4_in_any_carrier_is_refused(v4: IPv4Address, form: str) -> None:
    assert not is_public(CARRIERS[form](v4))


@given(v4=st.ip_addresses(v=4), host=st.integers(0, 2**80 - 1))
def test_translated_forms_follow_their_ipv4(v4: IPv4Address, host: int) -> None:
    verdict = is_public(v4)
    for address in (mapped(v4), translated(v4), nat64(v4), sixtofour(v4, host)):
        assert is_public(address) is verdict, address


async def test_check_url_refuses_a_literal_carrier() -> None:
    for literal in ("64:ff9b::a9fe:a9fe", "::ffff:0:a00:1", "2002:c0a8:101::1", "fec0::1"):
        with pytest.raises(BlockedURL, match="private/loopback"):
            await check_url(f"http://[{literal}]/latest/meta-data/")


async def test_the_browser_proxy_refuses_a_carrier_too() -> None:
    async with GuardProxy() as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"CONNECT [64:ff9b::a9fe:a9fe]:443 HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        writer.close()
    assert b"403" in status
    assert proxy.blocked and "64:ff9b::a9fe:a9fe" in proxy.blocked[0]
