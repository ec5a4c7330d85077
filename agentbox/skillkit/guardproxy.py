"""A tiny local HTTP proxy that the headless browser must use: the SSRF guard for every request.

Why a proxy and not Playwright's `route()`: route handlers are not called for redirect targets,
so a public page answering `302 Location: http://169.254.169.254/` would slip through. Chromium
started with `--proxy-server=<this>` and `--proxy-bypass-list=<-loopback>` sends every
connection here, redirects and subresources included. The proxy resolves the host, refuses it
unless every address is public (see netguard), then connects to the address it checked, so a
DNS answer that changes after the check (rebinding) cannot redirect the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from urllib.parse import urlsplit

from agentbox.skillkit.netguard import BlockedURL, IPAddress, UnresolvableHost, is_public, resolve

MAX_HEAD = 64 * 1024


class GuardProxy:
    """The SSRF guard as an HTTP(S) proxy on 127.0.0.1 (an async context manager: listening inside `async
    with`): resolves each host, refuses it unless every address is allowed (public, by default), then
    connects to the address it checked. `blocked` lists what it refused.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        address_allowed: Callable[[IPAddress], bool] = is_public,
        connect_timeout: float = 10.0,
    ) -> None:
        self.allow_private = allow_private
        self.address_allowed = address_allowed
        self.connect_timeout = connect_timeout
        self.blocked: list[str] = []  # reasons, for the tool's answer and for tests
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> GuardProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _checked_address(self, host: str) -> str:
        addresses = await resolve(host)
        if not self.allow_private:
            for address in addresses:
                if not self.address_allowed(address):
                    raise BlockedURL(f"{host} resolves to {address}, a private/loopback/link-local/reserved address")
        return str(addresses[0])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD:
            return
        request_line, _, rest = head.partition(b"\r\n")
        method, target, version = request_line.decode("latin-1").split(" ", 2)
        if method == "CONNECT":
            host, _, port_text = target.rpartition(":")
            host, port = host.strip("[]"), int(port_text)
            forward = b""
        else:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                await self._refuse(writer, f"unsupported proxy request {target[:80]}")
                return
            host, port = parts.hostname, parts.port or 80
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = [
                line
                for line in rest.split(b"\r\n")
                if line and not line.lower().startswith((b"proxy-", b"connection:", b"keep-alive:"))
            ]
            # One request per upstream connection: the browser cannot reuse it for another host.
            lines = [f"{method} {path} {version}".encode("latin-1"), *headers, b"Connection: close"]
            forward = b"\r\n".join(lines) + b"\r\n\r\n"
        try:
            address = await self._checked_address(host)
        except UnresolvableHost as exc:
            await self._refuse(writer, str(exc), status=b"502 Bad Gateway")
            return
        except BlockedURL as exc:
            self.blocked.append(str(exc))
            await self._refuse(writer, str(exc))
            return
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(address, port), self.connect_timeout
            )
        except (OSError, TimeoutError):
            await self._refuse(writer, f"cannot connect to {host}:{port}", status=b"502 Bad Gateway")
            return
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        else:
            upstream_writer.write(forward)
        pipes = {
            asyncio.create_task(_pipe(reader, upstream_writer)),
            asyncio.create_task(_pipe(upstream_reader, writer)),
        }
        try:
            # Either side closing ends the exchange (the upstream closes after its one response).
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            upstream_writer.close()

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, reason: str, *, status: bytes = b"403 Forbidden") -> None:
        body = f"blocked by agentbox: {reason}".encode()
        writer.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\nConnection: close\r\nX-Agentbox-Blocked: 1\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        with contextlib.suppress(OSError):
            await writer.drain()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
