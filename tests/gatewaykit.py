"""Helpers for gateway tests: an in-process connector implementing the protocol, and a running gateway."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agentbox.messages import (
    Address,
    Attachment,
    ConnectorError,
    ConnectorLimits,
    ConnectorState,
    ConnectorStatus,
    Deliver,
    Inbound,
    MediaTooLarge,
    MediaUnavailable,
    Outbound,
)
from tests.helpers import runtime_on

_ids = itertools.count(1)


def inbound(
    text: str = "hello",
    *,
    sender: str = "42",
    chat: str | None = None,
    direct: bool = True,
    mentioned: bool = False,
    channel: str = "telegram",
    message_id: str | None = None,
    **kwargs: Any,
) -> Inbound:
    return Inbound(
        channel=channel,
        chat_id=chat or (sender if direct else "-100"),
        message_id=message_id or str(next(_ids)),
        sender_id=sender,
        text=text,
        is_direct=direct,
        mentioned=mentioned,
        sender_name=kwargs.pop("sender_name", f"user{sender}"),
        **kwargs,
    )


@dataclass
class Sent:
    address: Address
    outbound: Outbound

    @property
    def text(self) -> str:
        return self.outbound.text


@dataclass
class FakeConnector:
    """Implements `Connector`; records sends; can fail its first starts or its sends.

    `fail_sends` fails that many sends as a platform outage would (retried from the outbox),
    `down` fails every send until cleared, `reject_sends` has the platform refuse messages.
    """

    name: str = "telegram"
    fail_starts: int = 0
    fatal: bool = False
    fail_sends: int = 0
    down: bool = False
    reject_sends: int = 0
    send_attempts: int = 0
    limits: ConnectorLimits = field(default_factory=ConnectorLimits)
    status: ConnectorStatus = field(default_factory=ConnectorStatus)
    sent: list[Sent] = field(default_factory=list)
    typings: int = 0
    starts: int = 0
    deliver: Deliver | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # ref -> bytes `fetch` serves
    fetches: list[str] = field(default_factory=list)

    async def start(self, deliver: Deliver) -> None:
        self.starts += 1
        if self.fail_starts > 0:
            self.fail_starts -= 1
            raise ConnectorError(
                "telegram answered 502 Bad Gateway" if not self.fatal else "token rejected", fatal=self.fatal
            )
        self.deliver = deliver
        self.status.set(ConnectorState.READY)

    async def stop(self) -> None:
        self.status.set(ConnectorState.STOPPED)

    async def send(self, address: Address, outbound: Outbound) -> list[str]:
        self.send_attempts += 1
        if self.down:
            raise ConnectorError("telegram answered 502 Bad Gateway")
        if self.fail_sends > 0:
            self.fail_sends -= 1
            raise ConnectorError("sendMessage failed after retries")
        if self.reject_sends > 0:
            self.reject_sends -= 1
            raise ConnectorError("Bad Request: chat not found", rejected=True)
        self.sent.append(Sent(address, outbound))
        return [str(len(self.sent))]

    async def typing(self, address: Address) -> None:
        self.typings += 1

    async def fetch(self, attachment: Attachment, max_bytes: int) -> Attachment:
        assert attachment.ref is not None
        self.fetches.append(attachment.ref)
        data = self.files.get(attachment.ref)
        if data is None:
            raise MediaUnavailable("no such file")
        if len(data) > max_bytes:
            raise MediaTooLarge(max_bytes, len(data))
        return replace(attachment, data=data)

    def texts(self, chat: str | None = None) -> list[str]:
        return [s.text for s in self.sent if chat is None or s.address.chat_id == chat]

    async def push(self, message: Inbound) -> None:
        assert self.deliver is not None, "connector not started"
        await self.deliver(message)


class FakeStream:
    def __init__(self, owner: StreamingFakeConnector, address: Address) -> None:
        self.owner, self.address = owner, address
        self.updates: list[str] = []
        self.final: str | None = None

    async def update(self, text_so_far: str) -> None:
        self.updates.append(text_so_far)

    async def finish(self, final_text: str) -> list[str]:
        self.final = final_text
        self.owner.sent.append(Sent(self.address, Outbound(final_text)))
        return ["s1"]


@dataclass
class StreamingFakeConnector(FakeConnector):
    streams: list[FakeStream] = field(default_factory=list)

    async def open_stream(self, address: Address) -> FakeStream:
        stream = FakeStream(self, address)
        self.streams.append(stream)
        return stream


async def wait_until(condition: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:  # noqa: ASYNC109
    """Poll `condition` until truthy (returns its value) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def image(data: bytes, media_type: str = "image/png") -> Attachment:
    return Attachment("image", data=data, media_type=media_type, filename="photo.png")


@asynccontextmanager
async def running_gateway(
    fake_aimlapi: Any,
    home: Path,
    *connectors: FakeConnector,
    config: str = "",
    services: Sequence[Any] = (),
    models: Any = None,
) -> AsyncIterator[Any]:
    """A Gateway on a real runtime (fake AI/ML API), with the given connectors, serving until the block ends.

    `services`: factories called with the Gateway (as `agentbox.runtime.GATEWAY_SERVICES` are).
    `models` (a `tests.modelkit.FunctionModels`) answers in place of the fake when the wire is not under test.
    """
    from agentbox.gateway.lifecycle import Gateway

    text = "[gateway]\nport = 0\ngrace_period = 5\n" + config
    async with runtime_on(fake_aimlapi, home, text) as rt:
        if models is not None:
            rt.runner.models = models
        conns = connectors or (FakeConnector(),)
        gateway = Gateway(rt.config, rt.store, rt.runner, connectors={c.name: (lambda c=c: c) for c in conns})
        for factory in services:
            gateway.add_service(factory(gateway))
        for slot in gateway.slots.values():
            slot.initial_backoff = 0.05  # keep retry tests fast
        gateway.delivery.retry_initial, gateway.delivery.retry_max = 0.05, 0.2
        stop = asyncio.Event()
        task = asyncio.create_task(gateway.run(stop))
        try:
            await wait_until(
                lambda: (
                    all(s.ready.is_set() or s.status.state is ConnectorState.FAILED for s in gateway.slots.values())
                    or task.done()
                )
            )
            if task.done():
                task.result()
            gateway.stop_event = stop
            gateway.task = task
            yield gateway
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
