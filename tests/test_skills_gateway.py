"""Skills through the gateway and the real Telegram connector against the fake Bot API:
a generated image arrives as a photo, a video job arrives later as a video (JobRunner as a gateway service)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agentbox.gateway.jobs import gateway_service
from tests.fakes.aimlapi import TINY_MP4, TINY_PNG, Reply, ToolCall
from tests.gatewaykit import wait_until
from tests.helpers import runtime_on
from tests.test_telegram_connector import make_connector

USER = 835750362
CONFIG = """
[gateway]
port = 0
grace_period = 5

[channels.telegram]
dm_policy = "open"

[skills]
video_poll_interval = 0.05
"""


@asynccontextmanager
async def telegram_gateway(fake_aimlapi: Any, fake_telegram: Any, home: Path) -> AsyncIterator[Any]:
    from agentbox.gateway.lifecycle import Gateway

    async with runtime_on(fake_aimlapi, home, CONFIG) as rt:
        connector = make_connector(fake_telegram, home / "locks")
        gateway = Gateway(rt.config, rt.store, rt.runner, connectors={"telegram": lambda: connector})
        gateway.add_service(gateway_service(gateway))  # what GATEWAY_SERVICES does in `agentbox gateway`
        stop = asyncio.Event()
        task = asyncio.create_task(gateway.run(stop))
        try:
            await wait_until(lambda: gateway.slots["telegram"].ready.is_set() or task.done(), timeout=10)
            yield gateway
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)


async def test_generated_image_arrives_as_a_telegram_photo(fake_aimlapi, fake_telegram, home: Path) -> None:
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("generate_image", {"prompt": "a lighthouse at dawn"})]),
        Reply(text="Here is your lighthouse."),
    )
    async with telegram_gateway(fake_aimlapi, fake_telegram, home):
        fake_telegram.push_text(USER, "draw a lighthouse at dawn")
        photos = await wait_until(lambda: [m for m in fake_telegram.sent(USER) if m.method == "sendPhoto"], timeout=15)
        await wait_until(lambda: any("lighthouse" in m.text for m in fake_telegram.sent(USER)), timeout=5)
    assert (photos[0].media or {})["data"] == TINY_PNG  # uploaded bytes, not a CDN link
    assert fake_aimlapi.image_requests()[0]["prompt"] == "a lighthouse at dawn"


async def test_video_job_is_delivered_to_the_same_chat(fake_aimlapi, fake_telegram, home: Path) -> None:
    fake_aimlapi.video_states = ["queued", "generating", "completed"]
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("generate_video", {"prompt": "waves at night"})]),
        Reply(text="Started: it will arrive here when ready."),
    )
    async with telegram_gateway(fake_aimlapi, fake_telegram, home) as gateway:
        fake_telegram.push_text(USER, "make a video of waves at night")
        await wait_until(lambda: any("Started" in m.text for m in fake_telegram.sent(USER)), timeout=15)
        videos = await wait_until(lambda: [m for m in fake_telegram.sent(USER) if m.method == "sendVideo"], timeout=15)
        # the runner marks the job delivered right after sendVideo returns: wait for that write
        deadline = asyncio.get_running_loop().time() + 5
        while (statuses := [job.status for job in await gateway.store.jobs.list()]) != ["delivered"]:
            assert asyncio.get_running_loop().time() < deadline, statuses
            await asyncio.sleep(0.02)
    assert (videos[0].media or {})["data"] == TINY_MP4
    assert "waves at night" in videos[0].text
