"""The control endpoint answers a bad `Authorization` header with 401, whatever bytes it holds.

Requests go over a raw socket: an HTTP client library would refuse to send the malformed headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbox.gateway.control import ControlServer


async def _status() -> dict[str, object]:
    return {"ok": True}


@pytest.fixture
async def control(home: Path) -> AsyncIterator[ControlServer]:
    server = ControlServer(home=home, host="127.0.0.1", port=0, allow_non_loopback=False, status=_status)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def raw_status(port: int, authorization: bytes | None) -> int:
    """Send GET /status with exactly these header bytes; the answer's status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if authorization is not None:
        head += b"Authorization: " + authorization + b"\r\n"
    writer.write(head + b"\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


def token(home: Path) -> bytes:
    return (home / "gateway.token").read_bytes().strip()


@pytest.mark.parametrize(
    "value",
    [
        "Bearer café".encode(),  # UTF-8 non-ASCII
        b"Bearer \xe9\xff\xfe",  # not UTF-8 at all
        "Bearer токен".encode(),
        b"\xc3\xa9",
        b"Basic dXNlcjpwYXNz",
        b"Bearer",
        b"",
    ],
)
async def test_malformed_or_non_ascii_authorization_is_401(control: ControlServer, value: bytes) -> None:
    assert await raw_status(control.port, value) == 401


async def test_the_right_token_still_passes_and_a_near_miss_does_not(control: ControlServer, home: Path) -> None:
    assert await raw_status(control.port, b"Bearer " + token(home)) == 200
    assert await raw_status(control.port, b"Bearer " + token(home) + "é".encode()) == 401
    assert await raw_status(control.port, None) == 401


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.binary(min_size=1, max_size=200).filter(lambda b: b"\r" not in b and b"\n" not in b))
async def test_no_header_bytes_make_the_endpoint_fail(control: ControlServer, value: bytes) -> None:
    # The HTTP parser may refuse control bytes outright (400); our own code must never crash (500).
    status = await raw_status(control.port, value)
    assert status in (400, 401)
    if all(0x20 <= byte != 0x7F for byte in value if byte != 0x09) and value.strip(b" \t"):
        assert status == 401  # printable text, ASCII or not, is simply the wrong token
