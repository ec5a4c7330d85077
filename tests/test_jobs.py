"""Video jobs: background generation, progress, delivery, restart mid-job, honest failures, CLI."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from agentbox.gateway.jobs import JobRunner
from agentbox.messages import Address, ConnectorError, Outbound
from agentbox.turn.runner import TurnRequest
from tests.clirun import invoke_cli
from tests.fakes.aimlapi import TINY_MP4, Fail, Reply, ToolCall
from tests.helpers import cli_env, runtime_on
from tests.skills_helpers import tool_outputs

FAST = """
[skills]
video_poll_interval = 0.05
video_timeout = 30
"""
CHAT = Address("telegram", "4242")


class Outbox:
    """Records what the runner sends, like a gateway would deliver it."""

    def __init__(self) -> None:
        self.sent: list[tuple[Address, Outbound]] = []

    async def __call__(self, address: Address, outbound: Outbound) -> None:
        self.sent.append((address, outbound))

    def texts(self) -> list[str]:
        return [outbound.text for _, outbound in self.sent]


async def start_video(rt, fake, runner: JobRunner | None, prompt: str = "a foggy forest") -> str:  # type: ignore[no-untyped-def]
    if runner is not None:
        rt.runner.jobs = runner
    fake.script(Reply(tool_calls=[ToolCall("generate_video", {"prompt": prompt})]), Reply(text="Started!"))
    started = time.monotonic()
    result = await rt.runner.run(TurnRequest(session_key="tg:4242", text="make a video", address=CHAT))
    assert result.ok and result.reply == "Started!"
    assert time.monotonic() - started < 5  # the turn does not wait for the render
    [job] = await rt.store.jobs.list()
    return job.id


async def wait_status(store, job_id: str, *statuses: str, within: float = 10) -> object:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        job = await store.jobs.get(job_id)
        if job.status in statuses:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {statuses}: {(await store.jobs.get(job_id)).status}")


async def test_video_job_end_to_end(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.video_states = ["queued", "generating", "generating", "completed"]
    sent = Outbox()
    async with runtime_on(fake_aimlapi, home, FAST) as rt:
        runner = JobRunner(rt.store, rt.runner.aimlapi, rt.config, sent, progress_every=0.0)
        await runner.start()
        job_id = await start_video(rt, fake_aimlapi, runner)
        assert "sent to this chat automatically" in tool_outputs(fake_aimlapi.last_chat())[0]
        job = await wait_status(rt.store, job_id, "delivered")
        await runner.stop()
    [request] = fake_aimlapi.video_requests()
    assert request == {"model": "google/veo-3.1-t2v", "prompt": "a foggy forest", "aspect_ratio": "16:9"}
    assert job.address == CHAT and job.remote_id and job.result["url"].endswith(".mp4")  # type: ignore[attr-defined]
    progress = [text for text in sent.texts() if text.startswith("Still rendering")]
    assert progress, sent.texts()
    address, final = sent.sent[-1]
    assert address == CHAT
    [video] = final.attachments
    assert video.kind == "video" and video.data == TINY_MP4 and video.media_type == "video/mp4"
    assert final.text == "Your video is ready: a foggy forest"


async def test_restart_mid_job_resumes_from_sqlite(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.video_states = ["queued", "generating", "generating", "generating", "generating", "completed"]
    first, second = Outbox(), Outbox()
    async with runtime_on(fake_aimlapi, home, FAST) as rt:
        runner = JobRunner(rt.store, rt.runner.aimlapi, rt.config, first, progress_every=3600)
        await runner.start()
        job_id = await start_video(rt, fake_aimlapi, runner)
        await wait_status(rt.store, job_id, "generating")
        await runner.stop()  # the gateway goes down mid-render
    polls_before = fake_aimlapi.video_jobs[next(iter(fake_aimlapi.video_jobs))].polls
    assert polls_before < 6 and first.sent == []

    async with runtime_on(fake_aimlapi, home, FAST) as rt:  # a new process: new store connection, new runner
        job = await rt.store.jobs.get(job_id)
        assert job.status == "generating"  # type: ignore[union-attr]
        runner = JobRunner(rt.store, rt.runner.aimlapi, rt.config, second, progress_every=3600)
        await runner.start()
        await wait_status(rt.store, job_id, "delivered")
        await runner.stop()
    assert first.sent == []
    [(address, outbound)] = second.sent
    assert address == CHAT and outbound.attachments[0].data == TINY_MP4
    assert len(fake_aimlapi.video_requests()) == 1  # resumed polling, never re-created


async def test_remote_error_is_reported_honestly(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.video_states = ["queued", "error"]
    sent = Outbox()
    async with runtime_on(fake_aimlapi, home, FAST) as rt:
        runner = JobRunner(rt.store, rt.runner.aimlapi, rt.config, sent)
        await runner.start()
        job_id = await start_video(rt, fake_aimlapi, runner)
        job = await wait_status(rt.store, job_id, "error")
        await runner.stop()
    assert job.error == "The video could not be generated."  # type: ignore[attr-defined]
    assert sent.texts() == ["Sorry, your video could not be made: The video could not be generated."]


async def test_timeout_is_reported(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.video_states = ["queued", "generating"]
    sent = Outbox()
    cfg = "[skills]\nvideo_poll_interval = 0.05\nvideo_timeout = 0.3\n"
    async with runtime_on(fake_aimlapi, home, cfg) as rt:
        runner = JobRunner(rt.store, rt.runner.aimlapi, rt.config, sent, progress_every=3600)
        await runner.start()
        job_id = await start_video(rt, fake_aimlapi, runner)
        await wait_status(rt.store, job_id, "error")
        await runner.stop()
    assert sent.texts() == ["Sorry, your video could not be made: it was still not ready after 0 s"]


async def test_polls_back_off_while_the_api_is_down(fake_aimlapi, home: Path) -> None:
    """An outage gets fewer and fewer polls (at least the poll interval apart), not one per interval until the timeout."""
    sent = Outbox()
    cfg = "[skills]\nvideo_poll_interval = 0.05\nvideo_timeout = 1.5\n[aimlapi.retry]\nattempts = 1\n"
    async with runtime_on(fake_aimlapi, home, cfg) as rt:
        runner = JobRunner(rt.store, rt.runner.aimlapi, rt.config, sent, progress_every=3600)
        await runner.start()
        fake_aimlapi.video_poll_status = 503
        job_id = await start_video(rt, fake_aimlapi, runner)
        await wait_status(rt.store, job_id, "error")
        await runner.stop()
    polls = [r for r in fake_aimlapi.requests_to("/video/generations") if r.method == "GET"]
    # Waits of at least 0.05, 0.1, 0.2, 0.4 and 0.8 s fill the 1.5 s timeout after 5 polls; a fixed
    # interval would have polled about 30 times.
    assert 2 <= len(polls) <= 5
    assert sent.texts() == ["Sorry, your video could not be made: it was still not ready after 1 s"]


async def test_create_failure_starts_no_job(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script_video(Fail(400, "Body validation error! duration must be 4, 6 or 8"))
    async with runtime_on(fake_aimlapi, home, FAST) as rt:
        fake_aimlapi.script(Reply(tool_calls=[ToolCall("generate_video", {"prompt": "x", "duration": 5})]), Reply())
        await rt.runner.run(TurnRequest(session_key="tg:1", text="video", address=CHAT))
        assert await rt.store.jobs.list() == []
    output = tool_outputs(fake_aimlapi.last_chat())[0]
    assert output.startswith("The video could not be started: Body validation error! duration must be 4, 6 or 8")


async def test_over_upload_limit_sends_a_link(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.video_states = ["completed"]
    sent = Outbox()
    async with runtime_on(fake_aimlapi, home, FAST) as rt:
        runner = JobRunner(rt.store, rt.runner.aimlapi, rt.config, sent, upload_limit=10)
        await runner.start()
        job_id = await start_video(rt, fake_aimlapi, runner)
        job = await wait_status(rt.store, job_id, "delivered")
        await runner.stop()
    [(_, outbound)] = sent.sent
    assert outbound.attachments == () and job.result["url"] in outbound.text  # type: ignore[attr-defined]


# (1, 3600): a wait after the final attempt would hold the error back for an hour.
@pytest.mark.parametrize(("tries", "retry_delay"), [(2, 0.0), (1, 3600.0)])
async def test_failed_delivery_is_retried_then_recorded(
    fake_aimlapi, home: Path, tries: int, retry_delay: float
) -> None:
    fake_aimlapi.video_states = ["completed"]
    attempts = []

    async def broken(address: Address, outbound: Outbound) -> None:
        attempts.append(outbound)
        raise ConnectionError("telegram is down")

    async with runtime_on(fake_aimlapi, home, FAST) as rt:
        runner = JobRunner(
            rt.store, rt.runner.aimlapi, rt.config, broken, delivery_attempts=tries, retry_delay=retry_delay
        )
        await runner.start()
        job_id = await start_video(rt, fake_aimlapi, runner)
        job = await wait_status(rt.store, job_id, "error")
        await runner.stop()
    assert len(attempts) == tries and "could not deliver the video" in job.error  # type: ignore[attr-defined]


async def test_a_video_the_platform_rejects_is_not_sent_again(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.video_states = ["completed"]
    attempts = []

    async def refused(address: Address, outbound: Outbound) -> None:
        attempts.append(outbound)
        raise ConnectorError("telegram refused the message", rejected=True)  # chat gone, bot blocked

    async with runtime_on(fake_aimlapi, home, FAST) as rt:
        runner = JobRunner(rt.store, rt.runner.aimlapi, rt.config, refused, delivery_attempts=3, retry_delay=0.0)
        await runner.start()
        job_id = await start_video(rt, fake_aimlapi, runner)
        job = await wait_status(rt.store, job_id, "error")
        await runner.stop()
    assert len(attempts) == 1 and "could not deliver the video" in job.error  # type: ignore[attr-defined]


def test_cli_without_gateway_records_job_and_jobs_commands(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.video_states = ["queued", "completed"]
    (home / "config.toml").write_text(FAST)
    env = cli_env(home, fake_aimlapi)
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("generate_video", {"prompt": "waves"})]), Reply(text="ok"))
    done = invoke_cli("agent", "--json", "-m", "video of waves", env=env)
    assert done.returncode == 0, done.stderr
    output = tool_outputs(fake_aimlapi.last_chat())[0]
    assert "agentbox jobs wait" in output

    listed = invoke_cli("jobs", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [job] = json.loads(listed.stdout)
    assert job["kind"] == "video" and job["status"] == "queued" and job["prompt"] == "waves"

    waited = invoke_cli("jobs", "wait", job["id"], env=env)
    assert waited.returncode == 0, waited.stderr + waited.stdout
    [job] = json.loads(invoke_cli("jobs", "list", "--json", env=env).stdout)
    assert job["status"] == "delivered"
    assert Path(job["result"]["path"]).read_bytes() == TINY_MP4
    table = invoke_cli("jobs", "list", env=env)
    assert job["id"] in table.stdout and "delivered" in table.stdout


async def test_a_video_started_over_the_api_is_kept_on_the_gateway(fake_aimlapi, home: Path) -> None:
    """No connector serves the "api" channel (no push back to an API client): the video is saved under
    AGENTBOX_HOME/media and the job marked delivered with its path, instead of waiting in the outbox
    until it expires."""
    import aiohttp

    from agentbox.api.service import gateway_service as api_service
    from agentbox.gateway.jobs import gateway_service
    from tests.gatewaykit import running_gateway

    fake_aimlapi.video_states = ["queued", "completed"]
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("generate_video", {"prompt": "waves"})]), Reply(text="Started!"))
    async with running_gateway(fake_aimlapi, home, config=FAST, services=[api_service, gateway_service]) as gateway:
        token = (home / "gateway.token").read_text().strip()
        body = {"model": "agentbox/main", "user": "ci", "messages": [{"role": "user", "content": "a video of waves"}]}
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{gateway.control.port}/v1/chat/completions"
            async with http.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as answer:
                assert answer.status == 200, await answer.text()
        [job] = await gateway.store.jobs.list()
        job = await wait_status(gateway.store, job.id, "delivered", "error")
        waiting = await gateway.store.outbox.waiting()
    assert job.address.channel == "api"  # type: ignore[attr-defined]
    assert waiting == []
    from tests.skills_helpers import tool_outputs

    [told] = tool_outputs(fake_aimlapi.chat_requests()[-1])  # what the model tells the API caller
    assert "kept on the agentbox machine" in told and "sent to this chat" not in told
    path = Path(job.result["path"])  # type: ignore[attr-defined]
    assert path.parent == home / "media" and await asyncio.to_thread(path.read_bytes) == TINY_MP4


async def test_a_chat_no_connector_serves_gets_no_sends_and_the_failure_in_its_transcript(
    fake_aimlapi, home: Path
) -> None:
    """Progress and failure notes for a channel without a connector would only wait in the outbox: the
    failure goes into the session's transcript instead, and nothing is sent."""
    fake_aimlapi.video_states = ["queued", "generating", "error"]
    sent = Outbox()
    async with runtime_on(fake_aimlapi, home, FAST) as rt:
        runner = JobRunner(
            rt.store, rt.runner.aimlapi, rt.config, sent, progress_every=0.0, can_send=lambda address: False
        )
        await runner.start()
        job_id = await start_video(rt, fake_aimlapi, runner)
        await wait_status(rt.store, job_id, "error")
        await runner.stop()
        turns = await rt.store.sessions.transcript("tg:4242")
    assert sent.sent == []
    assert [(turn["model"], turn["reply"]) for turn in turns[1:]] == [
        ("video", "Sorry, your video could not be made: The video could not be generated.")
    ]
