"""`JobRunner`: polls long-running generations (video) and delivers the result to the chat.

The video tool creates the remote generation and a `jobs` row, then returns at once so the
session stays free. The runner polls `GET /v2/video/generations?generation_id=` (API-NOTES §7),
tells the chat it is still working every `progress_every` seconds, and sends the video (or a
link when it is over the upload limit) to the job's address. Every step is written to SQLite
first, so a runner started after a restart resumes every unfinished job where it stopped.

A job with no chat to send to (started from the CLI), or whose chat is on a channel no connector
serves (the web panel's chat, the OpenAI-compatible API), keeps the file under AGENTBOX_HOME/media
and is marked delivered with its path; for such a chat the runner also adds an assistant note with
the video (or the failure) to the session's transcript, where the panel shows it. Sending it would
only park it in the outbox until `outbox_max_age` and then drop it.

The gateway runs it as a background service (`agentbox.runtime.GATEWAY_SERVICES` names
`agentbox.gateway.jobs:gateway_service`). The video and the failure note go out through the gateway's
delivery service, so they wait in the outbox while the platform is down; progress notes are
best effort and skipped while the chat has replies waiting. It amounts to::

    jobs = JobRunner(store, runner.aimlapi, config, send=durable_send, notify=gateway.send,
                     can_send=lambda address: address.channel in gateway.slots)
    runner.jobs = jobs                     # tools find it as ctx.deps.jobs
    await jobs.start()                     # resumes unfinished jobs
    ...
    await jobs.stop()                      # state stays in SQLite
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agentbox.aimlapi import AimlapiClient, AimlapiError
from agentbox.config import Config
from agentbox.messages import Address, Attachment, ConnectorError, Outbound
from agentbox.retry import Backoff
from agentbox.store import SpendRecord, Store, TurnRecord
from agentbox.store.jobs import Job
from agentbox.tasks import TaskSet
from agentbox.voice.cost import reported_cost

if TYPE_CHECKING:
    from agentbox.gateway.lifecycle import Gateway

log = logging.getLogger(__name__)

Send = Callable[[Address, Outbound], Awaitable[None]]
VIDEO_PATH = "/v2/video/generations"
RUNNING = {"queued": "queued", "generating": "generating", "dreaming": "generating", "processing": "generating"}
FAILED = ("error", "failed")
DEFAULT_UPLOAD_LIMIT = 50 * 1024 * 1024  # Telegram's bot upload limit, the smallest of our platforms
LOCAL_LIMIT = DEFAULT_UPLOAD_LIMIT * 4  # a file kept on this machine has no platform limit; still bounded
POLL_RETRY_MAX = 120.0  # failed polls back off up to this (or twice the poll interval, if longer)
DELIVERY_RETRY_MAX = 30.0
NOTE_MODEL = "video"  # the "model" column of a job's note in the transcript (as "reminder" for reminders)


def _minutes(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes else f"{int(seconds)} s"


def remote_error(payload: dict[str, Any]) -> str:
    error = payload.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("name") or "unknown error")
    return str(error or "the generation failed without a reason")


class JobRunner:
    """The gateway service that watches long-running generations (video): one background task per
    unfinished job polls the API, posts progress notes, and delivers the result or a failure note to
    the chat. Every step is saved first, so `start()` after a restart resumes where each job stopped
    and `stop()` loses nothing.
    """

    name = "jobs"  # as a gateway service

    def __init__(
        self,
        store: Store,
        aimlapi: AimlapiClient,
        config: Config,
        send: Send,
        *,
        progress_every: float = 60.0,
        upload_limit: int | Callable[[Address], int] = DEFAULT_UPLOAD_LIMIT,
        delivery_attempts: int = 3,
        retry_delay: float = 2.0,
        notify: Send | None = None,
        can_send: Callable[[Address], bool] | None = None,
    ) -> None:
        self.store = store
        self.aimlapi = aimlapi
        self.config = config
        self.send = send
        self.notify = notify or send  # progress notes: best effort
        self.can_send = can_send or (lambda address: True)  # False: no connector serves that channel
        self.progress_every = progress_every
        self.upload_limit = upload_limit
        self.delivery_attempts = delivery_attempts
        self.retry_delay = retry_delay
        self._tasks = TaskSet("jobs", log)
        self._running = False

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, *, resume: bool = True) -> None:
        """Start; with `resume`, watch every unfinished job in the store (after a restart: resume them)."""
        self._running = True
        if resume:
            for job in await self.store.jobs.active():
                self.watch(job.id)

    async def stop(self) -> None:
        """Stop polling; nothing is lost, the next runner resumes from SQLite."""
        self._running = False
        await self._tasks.aclose()

    def watch(self, job_id: str) -> None:
        """Poll and deliver one job in the background (no-op if it is already watched)."""
        if not self._running or _task_name(job_id) in self._tasks:
            return
        # One broken job must not stop the others: the task set logs its failure; it stays resumable.
        self._tasks.spawn(self._watch(job_id), name=_task_name(job_id))

    async def wait(self, job_id: str) -> Job | None:
        """Wait until a watched job is finished (tests, `agentbox jobs wait`)."""
        task = self._tasks.get(_task_name(job_id))
        if task is not None:
            await asyncio.wait({task})  # a failed job was logged; its row says where it stopped
        return await self.store.jobs.get(job_id)

    # -- one job -------------------------------------------------------------------------
    async def _watch(self, job_id: str) -> None:
        interval = self.config.skills.video_poll_interval
        # After a failed poll, wait at least the poll interval, then longer while the API stays down.
        failures = Backoff(2 * interval, max(2 * interval, POLL_RETRY_MAX))
        while (job := await self.store.jobs.get(job_id)) is not None and job.active:
            if job.status == "completed":
                await self._deliver(job)
                return
            await self._poll_once(job, failures)

    async def _poll_once(self, job: Job, failures: Backoff) -> None:
        skills = self.config.skills
        now = time.time()
        if now - job.created_at > skills.video_timeout:
            await self._fail(job, f"it was still not ready after {_minutes(skills.video_timeout)}")
            return
        if job.next_poll_at and job.next_poll_at > now:
            await asyncio.sleep(job.next_poll_at - now)
            return
        next_poll = time.time() + skills.video_poll_interval
        try:
            payload = await self.aimlapi.request_json("GET", VIDEO_PATH, params={"generation_id": job.remote_id})
        except AimlapiError as exc:
            if exc.status is None or exc.status == 429 or exc.status >= 500:
                delay = failures.next()  # transient: the timeout bounds it
                log.info("job %s: poll failed (%s), retrying in %.0fs", job.id, exc, delay)
                await self.store.jobs.update(job.id, next_poll_at=time.time() + delay)
                return
            await self._fail(job, exc.message)
            return
        failures.reset()
        status = str(payload.get("status") or "") if isinstance(payload, dict) else ""
        if status == "completed":
            video = payload.get("video") or {}
            url = video.get("url") if isinstance(video, dict) else None
            url = url or payload.get("video_url")
            if not url:
                await self._fail(job, "the API said completed but gave no video URL")
                return
            await self.store.jobs.update(job.id, status="completed", result={"url": url})
            await self._record_cost(job, payload)
        elif status in FAILED:
            await self._fail(job, remote_error(payload))
        else:
            await self.store.jobs.update(job.id, status=RUNNING.get(status, "generating"), next_poll_at=next_poll)
            await self._maybe_progress(job)

    async def _record_cost(self, job: Job, payload: dict[str, Any]) -> None:
        """What the finished generation cost (`meta.usage`), as `video` spend: usage and the daily cap count it."""
        usd, _ = reported_cost(payload).priced(0.0)
        if usd:
            channel = job.address.channel if job.address is not None else ""
            model = str(job.request.get("model") or "")
            await self.store.spend.add(
                SpendRecord("video", usd, session_key=job.session_key, channel=channel, model=model)
            )

    def _chat(self, job: Job) -> Address | None:
        """Where to send the job's messages: its address, unless no connector serves its channel."""
        return job.address if job.address is not None and self.can_send(job.address) else None

    async def _maybe_progress(self, job: Job) -> None:
        now, chat = time.time(), self._chat(job)
        if chat is None or now - (job.last_progress_at or job.created_at) < self.progress_every:
            return
        await self.store.jobs.update(job.id, last_progress_at=now)
        text = f"Still rendering your video… {_minutes(now - job.created_at)} so far."
        with contextlib.suppress(Exception):  # progress is best effort
            await self.notify(chat, Outbound(text=text))

    def _limit(self, address: Address | None) -> int:
        if callable(self.upload_limit):
            return self.upload_limit(address) if address is not None else LOCAL_LIMIT
        return self.upload_limit

    async def _deliver(self, job: Job) -> None:
        url = str((job.result or {}).get("url") or "")
        prompt = str(job.request.get("prompt") or "")
        caption = "Your video is ready" + (f": {prompt[:200]}" if prompt else ".")
        outbound: Outbound
        try:
            data, media_type = await self.aimlapi.download(url, max_bytes=self._limit(self._chat(job)))
            attachment = Attachment(
                "video", data=data, media_type=media_type or "video/mp4", filename="video.mp4", caption=caption
            )
            outbound = Outbound(text=caption, attachments=(attachment,))
        except AimlapiError as exc:
            # Too big for the platform, or the CDN hiccuped: a link still gets the video to the user.
            log.info("job %s: sending a link instead of the file (%s)", job.id, exc)
            attachment = Attachment("video", url=url, media_type="video/mp4", caption=caption)
            outbound = Outbound(text=f"{caption}\n{url}")
        chat = self._chat(job)
        if chat is None:
            await self._save_locally(job, attachment, url)
            return
        backoff = Backoff(self.retry_delay, DELIVERY_RETRY_MAX)
        for attempt in range(1, self.delivery_attempts + 1):
            try:
                await self.send(chat, outbound)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("job %s: delivery attempt %d failed: %s", job.id, attempt, exc)
                if isinstance(exc, ConnectorError) and exc.rejected:
                    break  # the platform refused this message itself: it would refuse it again
                if attempt < self.delivery_attempts:
                    await asyncio.sleep(backoff.next())
                continue
            await self.store.jobs.update(job.id, status="delivered")
            return
        await self.store.jobs.update(job.id, status="error", error=f"could not deliver the video; it is at {url}")

    async def _save_locally(self, job: Job, attachment: Attachment, url: str) -> None:
        """No chat to send to (the CLI; a channel no connector serves): keep the file under AGENTBOX_HOME/media."""
        from agentbox.turn.runner import save_media

        saved = await save_media(self.config.home / "media", attachment) if attachment.data else attachment
        await self.store.jobs.update(job.id, status="delivered", result={"url": url, "path": saved.path})
        if job.address is not None:  # a chat without a connector: its transcript is where it is seen
            await self._note(job, attachment.caption or "Your video is ready.", saved)

    async def _fail(self, job: Job, reason: str) -> None:
        await self.store.jobs.update(job.id, status="error", error=reason)
        log.info("job %s failed: %s", job.id, reason)
        text = f"Sorry, your video could not be made: {reason}"
        if (chat := self._chat(job)) is not None:
            with contextlib.suppress(Exception):
                await self.send(chat, Outbound(text=text))
        elif job.address is not None:
            await self._note(job, text, None)

    async def _note(self, job: Job, text: str, attachment: Attachment | None) -> None:
        """Add an assistant message (with the video) to the job's session: its transcript shows it, and the
        model sees it in the history. Best effort: the job's own row already says how it ended."""
        try:
            await record_note(self.store, job.session_key, text, attachment)
        except Exception:
            log.exception("job %s: could not add its note to session %s", job.id, job.session_key)


async def record_note(store: Store, session_key: str, text: str, attachment: Attachment | None) -> None:
    """A turn with no question: the assistant's `text` (and attachment), like a delivered reminder."""
    from pydantic_ai.messages import ModelResponse, TextPart

    from agentbox.turn.history import dump_messages

    if await store.sessions.get(session_key) is None:
        return  # the session is gone (deleted); the job row and the file remain
    now = time.time()
    await store.sessions.add_turn(
        TurnRecord(
            session_key=session_key,
            model=NOTE_MODEL,
            status="ok",
            reply=text,
            attachments=[attachment.describe()] if attachment is not None else [],
            messages=await dump_messages(store, [ModelResponse(parts=[TextPart(text)])]),
            started_at=now,
            finished_at=now,
        )
    )


def _task_name(job_id: str) -> str:
    return f"job-{job_id}"


def gateway_service(gateway: Gateway) -> JobRunner:
    """`GATEWAY_SERVICES` factory: a JobRunner delivering through the gateway (and its outbox)."""

    async def send(address: Address, outbound: Outbound) -> None:
        if await gateway.delivery.send(address, outbound) == "rejected":
            raise ConnectorError(f"{address.channel} refused the message", rejected=True)

    async def notify(address: Address, outbound: Outbound) -> None:
        if not await gateway.store.outbox.has_waiting(address.channel, address.chat_id):  # never overtake a reply
            await gateway.send(address, outbound)

    def upload_limit(address: Address) -> int:
        slot = gateway.slots.get(address.channel)
        connector = getattr(slot, "connector", None)
        limits = getattr(connector, "limits", None)
        return int(getattr(limits, "max_upload_bytes", DEFAULT_UPLOAD_LIMIT))

    def can_send(address: Address) -> bool:
        return address.channel in gateway.slots  # else nothing would ever take it out of the outbox

    runner = JobRunner(
        gateway.store,
        gateway.runner.aimlapi,
        gateway.config,
        send,
        upload_limit=upload_limit,
        notify=notify,
        can_send=can_send,
    )
    gateway.runner.jobs = runner
    return runner
