"""From a stored inbound message to a sent reply: access, checks, commands, turns — one worker per session.

Each session has a FIFO of jobs and at most one worker task, so its messages are handled in
order while sessions run concurrently. When a turn ends and several plain messages are waiting
(`gateway.batch_queued`, the default), they are answered together in one turn: up to
`MAX_BATCH` consecutive messages, stopping at a chat command, joined with blank lines (in
groups each is prefixed with its sender's name). The reply goes to the last of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agentbox.access import AccessDecision, AccessPolicy, PairingService, group_ids, pairing_reply
from agentbox.approval_notices import ApprovalNotices
from agentbox.chat_commands import ChatCommands, parse_command
from agentbox.config import Config
from agentbox.diskfull import DiskFullAlarm, is_disk_full
from agentbox.group_pairing import GroupPairing, group_hint
from agentbox.inbound_media import fetch_images
from agentbox.messages import Address, Attachment, Connector, Inbound, Outbound, StreamingConnector
from agentbox.refusals import unsupported_reply
from agentbox.replies import ReplyStreamer, attachments_from_paths, keep_typing
from agentbox.routing import Route, channel_config
from agentbox.store import Store
from agentbox.turns import TurnRequest, TurnResult, TurnRunner
from agentbox.vision import InputError

log = logging.getLogger("agentbox.gateway")

MAX_BATCH = 10
DISK_FULL_RETRIES = 6  # then the row waits, still pending, for the next start

ConnectorFor = Callable[[str], Awaitable[Connector]]

EMPTY = "I got an empty message. Send me some text or an image."


@dataclass(slots=True)
class Job:
    """One inbox row to handle (or, after a crash, several rows one stored turn already answered)."""

    row_ids: list[int]
    inbound: Inbound
    route: Route
    turn_id: int | None = None  # set: the model already answered; re-send, don't ask again
    disk_full_retries: int = 0


@dataclass(slots=True)
class TurnInput:
    job: Job
    text: str
    images: list[Attachment] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        config: Config,
        store: Store,
        runner: TurnRunner,
        *,
        connector_for: ConnectorFor,
        pairing: PairingService,
        notices: ApprovalNotices,
    ) -> None:
        self._config = config
        self._store = store
        self._runner = runner
        self._connector_for = connector_for
        self._access = AccessPolicy(store.pairing, store.groups)
        self._pairing = pairing
        self._group_pairing = GroupPairing(store.groups, store.pairing)
        self._notices = notices
        self._commands = ChatCommands(config, store)
        self._queues: dict[str, deque[Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._draining = False
        self.disk_full = DiskFullAlarm(config.home)
        self.disk_full_delay = 30.0  # first retry after a full disk; doubles each time

    # -- queueing ------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        key = job.route.session_key
        self._queues.setdefault(key, deque()).append(job)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"session {key}")

    @property
    def active_sessions(self) -> int:
        return len(self._workers)

    @property
    def queued(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    async def drain(self, grace: float) -> bool:
        """Stop starting new work; wait for running work up to `grace` seconds, then cancel it. True if all finished."""
        self._draining = True
        workers = list(self._workers.values())
        if not workers:
            return True
        _, pending = await asyncio.wait(workers, timeout=grace)
        for task in pending:
            task.cancel()  # its rows stay pending and are handled after the next start
        if pending:
            await asyncio.wait(pending, timeout=5)
        return not pending

    async def _work(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue and not self._draining:
                job = queue.popleft()
                try:
                    await self._handle(job, queue)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if is_disk_full(exc):  # not the message's fault: it stays pending and is tried again
                        self.disk_full.report(f"session {key}: {exc}")
                        with contextlib.suppress(Exception):  # an attempt the disk spoiled does not count
                            await self._store.inbox.undo_attempt(job.row_ids)
                        self._retry_later(job)
                        continue
                    log.exception("session %s: message %s failed", key, job.inbound.message_id)
                    await self._store.inbox.finish(job.row_ids, "failed", f"{type(exc).__name__}: {exc}")
        finally:
            # No await between the loop's last check and here, so no job can slip in unseen.
            self._workers.pop(key, None)
            if not queue:
                self._queues.pop(key, None)

    def _retry_later(self, job: Job) -> None:
        job.disk_full_retries += 1
        if job.disk_full_retries > DISK_FULL_RETRIES:
            return  # still pending in the inbox: the next start picks it up
        delay = self.disk_full_delay * 2 ** (job.disk_full_retries - 1)
        asyncio.get_running_loop().call_later(delay, lambda: None if self._draining else self.submit(job))

    async def _handle(self, job: Job, queue: deque[Job]) -> None:
        if job.turn_id is not None:
            await self._resend(job)
            return
        first = await self._prepare(job)
        if first is None:
            return
        batch = [first]
        while self._config.gateway.batch_queued and queue and len(batch) < MAX_BATCH:
            nxt = queue[0]
            if nxt.turn_id is not None or parse_command(nxt.inbound.text) is not None:
                break
            queue.popleft()
            if (prepared := await self._prepare(nxt)) is not None:
                batch.append(prepared)
        await self._answer(batch)

    # -- checks before any model call ----------------------------------------------
    async def _prepare(self, job: Job) -> TurnInput | None:
        """Access and input checks; answers what needs no model. Returns the turn input, or None when handled."""
        inbound, inbox = job.inbound, self._store.inbox
        for row_id in job.row_ids:
            await inbox.start_attempt(row_id)
        decision = await self._access.check(inbound, channel_config(self._config, inbound.channel))
        if decision.verdict != "allow":
            await self._refuse(job, decision)
            return None
        if decision.notify:
            await self._notices.before_answer(inbound.channel, inbound.sender_id)
        polite = self._refusal(inbound)
        images: list[Attachment] = []
        if polite is None:
            try:  # the sender is allowed in: only now is any media downloaded
                images = await fetch_images(self._connector_for, inbound, self._config.vision)
            except InputError as exc:
                polite = f"Sorry, I can't use that image: {exc}."
        if polite is None and (command := parse_command(inbound.text)) is not None:
            polite = await self._commands.run(
                command, inbound, session_key=job.route.session_key, agent_id=job.route.agent_id
            )
        if polite is not None:
            await self._send(job, inbound.address, Outbound(polite))
            return None
        return TurnInput(job, self._limit_length(with_reply_context(inbound)), images)

    async def _refuse(self, job: Job, decision: AccessDecision) -> None:
        """No model call: a pairing code, the one hint of an unknown group, or silence."""
        inbound = job.inbound
        text: str | None = None
        if decision.verdict == "pair":
            outcome = await self._pairing.request(
                inbound.channel, inbound.sender_id, sender_name=inbound.sender_name, chat_id=inbound.chat_id
            )
            text = pairing_reply(inbound.channel, outcome)
            if text:
                log.info("pairing: %s sender %s asked to pair", inbound.channel, inbound.sender_id)
        elif decision.verdict == "pair_group":
            group = await self._group_pairing.request(
                inbound.channel, group_ids(inbound)[0], group_name=inbound.group_name
            )
            if group.hint and group.code:
                dm_pairing = channel_config(self._config, inbound.channel).dm_policy == "pairing"
                text = group_hint(inbound.channel, group.code, dm_pairing=dm_pairing)
        if text:
            await self._send(job, inbound.address, Outbound(text), status="ignored", note=decision.reason)
        else:
            await self._store.inbox.finish(job.row_ids, "ignored", decision.reason)

    def _refusal(self, inbound: Inbound) -> str | None:
        if inbound.unsupported:
            return unsupported_reply([inbound.unsupported])
        others = sorted({item.kind for item in inbound.attachments if item.kind != "image"})
        if others:
            return unsupported_reply(others)
        if not inbound.text.strip() and not inbound.attachments:
            return EMPTY
        limit = self._config.gateway.max_message_chars
        if len(inbound.text) > limit and self._config.gateway.long_message == "refuse":
            return f"Your message is too long ({len(inbound.text):,} characters; the limit is {limit:,}). Please shorten it."
        return None

    def _limit_length(self, text: str) -> str:
        limit = self._config.gateway.max_message_chars
        if len(text) <= limit:
            return text
        return text[:limit] + f"\n\n[The message was cut to its first {limit:,} of {len(text):,} characters.]"

    # -- the turn ------------------------------------------------------------------
    async def _answer(self, batch: list[TurnInput]) -> None:
        last = batch[-1].job
        inbound, route = last.inbound, last.route
        row_ids = [row_id for item in batch for row_id in item.job.row_ids]
        await self._store.inbox.set_session(row_ids, route.session_key)
        connector = await self._connector_for(inbound.channel)
        request = TurnRequest(
            session_key=route.session_key,
            text=_combine(batch),
            images=tuple(image for item in batch for image in item.images),
            agent_id=route.agent_id,
            sender_id=inbound.sender_id,
            channel=inbound.channel,
            chat_id=inbound.chat_id,
            thread_id=inbound.thread_id,
            address=inbound.address,
        )
        streamer = ReplyStreamer(connector, inbound.address) if self._streams(connector, inbound.channel) else None
        typing = asyncio.create_task(keep_typing(connector, inbound.address))
        try:
            result = await self._runner.run(request, on_delta=streamer.delta if streamer else None)
        finally:
            typing.cancel()
        if result.turn_id:
            await self._store.inbox.set_turn(row_ids, result.turn_id)
        await self._deliver(last, row_ids, result, streamer)

    def _streams(self, connector: Connector, channel: str) -> bool:
        setting = getattr(channel_config(self._config, channel), "streaming", "edit")
        return setting != "off" and isinstance(connector, StreamingConnector)

    async def _deliver(self, job: Job, row_ids: list[int], result: TurnResult, streamer: ReplyStreamer | None) -> None:
        address = job.inbound.address
        job = Job(row_ids, job.inbound, job.route)
        if streamer is not None and streamer.stream is not None:
            try:
                await streamer.stream.finish(result.reply)
            except Exception as exc:
                await self._send_failed(job, exc)
                return
            if result.attachments:
                await self._send(job, address, Outbound(attachments=tuple(result.attachments)))
            else:
                await self._store.inbox.mark_replied(row_ids)
            return
        await self._send(job, address, Outbound(result.reply, tuple(result.attachments)))

    async def _resend(self, job: Job) -> None:
        """After a crash between the turn and its reply: send the stored answer, no second model call."""
        stored = await self._store.inbox.stored_reply(job.turn_id or 0)
        if stored is None:
            job.turn_id = None
            await self._handle(job, deque())
            return
        attachments = attachments_from_paths(stored.attachments)
        log.info("session %s: re-sending the stored reply of turn %s", job.route.session_key, job.turn_id)
        await self._send(job, job.inbound.address, Outbound(stored.reply, attachments))

    async def _send(
        self, job: Job, address: Address, outbound: Outbound, *, status: str = "done", note: str | None = None
    ) -> bool:
        try:
            connector = await self._connector_for(address.channel)
            await connector.send(address, outbound)
        except Exception as exc:
            await self._send_failed(job, exc)
            return False
        if status == "done":
            await self._store.inbox.mark_replied(job.row_ids)
        else:
            await self._store.inbox.finish(job.row_ids, status, note)
        return True

    async def _send_failed(self, job: Job, exc: BaseException) -> None:
        # The turn stays in the session's history; only the delivery failed.
        log.error(
            "session %s: reply to message %s could not be sent: %s",
            job.route.session_key,
            job.inbound.message_id,
            exc,
        )
        await self._store.inbox.finish(job.row_ids, "failed", f"send failed: {exc}")


def _combine(batch: list[TurnInput]) -> str:
    if len(batch) == 1:
        return batch[0].text
    group = not batch[-1].job.inbound.is_direct
    parts = []
    for item in batch:
        name = item.job.inbound.sender_name or item.job.inbound.sender_id
        parts.append(f"{name}: {item.text}" if group else item.text)
    return "\n\n".join(part for part in parts if part.strip())


REPLY_QUOTE_CHARS = 500


def with_reply_context(inbound: Inbound) -> str:
    """The user's text, preceded by the message they replied to: "this" in "translate this" needs it."""
    quoted = (inbound.reply_to_text or "").strip()
    if not quoted:
        return inbound.text
    if len(quoted) > REPLY_QUOTE_CHARS:
        quoted = quoted[:REPLY_QUOTE_CHARS] + "…"
    return f'(Replying to: "{quoted}")\n{inbound.text}'
