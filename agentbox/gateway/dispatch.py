"""From a stored inbound message to a sent reply: access, checks, commands, turns — one worker per session.

Voice notes are transcribed after the access check (`agentbox.gateway.voice`) and the turn
answers their transcript; a failed transcription is told to the sender and retried while the
message stays pending. Answers may also be spoken (`agentbox.voice.replies`).

Each session has a FIFO of jobs and at most one worker task, so its messages are handled in
order while sessions run concurrently. When a turn ends and several plain messages are waiting
(`gateway.batch_queued`, the default), they are answered together in one turn: up to
`MAX_BATCH` consecutive messages, stopping at a chat command, joined with blank lines (in
groups each is prefixed with its sender's name). The reply goes to the last of them.
Replies go out through `agentbox.gateway.delivery`: what the platform does not take waits in the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from agentbox.config import Config
from agentbox.gateway.access import (
    AccessDecision,
    AccessPolicy,
    PairingOutcome,
    PairingService,
    group_ids,
    pairing_reply,
)
from agentbox.gateway.approval_notices import ApprovalNotices
from agentbox.gateway.commands import ChatCommands, parse_command
from agentbox.gateway.delivery import DeliveryService, Outcome
from agentbox.gateway.diskfull import DiskFullAlarm, is_disk_full
from agentbox.gateway.group_pairing import GroupPairing, group_hint
from agentbox.gateway.inbound_media import fetch_images
from agentbox.gateway.refusals import unsupported_reply
from agentbox.gateway.replies import ReplyStreamer, attachments_from_paths, typing_indicator
from agentbox.gateway.routing import Route, channel_config
from agentbox.gateway.voice import NOTHING, Heard, VoiceNotes, speaks_back
from agentbox.messages import Address, Attachment, Connector, Inbound, Outbound, StreamingConnector
from agentbox.retry import Backoff, RetryPolicy
from agentbox.store import Store
from agentbox.tasks import TaskSet
from agentbox.turn.runner import TurnRequest, TurnResult, TurnRunner
from agentbox.vision import InputError
from agentbox.voice.replies import SpokenReplies
from agentbox.voice.spoken import echo_line
from agentbox.voice.stt import TranscriptionFailed

log = logging.getLogger(__name__)

MAX_BATCH = 10
DISK_FULL_RETRIES = 6  # then the row waits, still pending, for the next start
TRANSCRIBE_RETRIES = 3  # a voice note the speech-to-text service failed on is tried this many more times

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
    transcribe_backoff: Backoff | None = None  # set at its first failed transcription

    @property
    def transcribe_retries(self) -> int:
        return self.transcribe_backoff.attempt if self.transcribe_backoff is not None else 0


@dataclass(slots=True)
class TurnInput:
    """A job that passed every check, with the text and images its turn will send to the model."""

    job: Job
    text: str
    images: list[Attachment] = field(default_factory=list)
    heard: Heard = NOTHING  # the transcript of its voice note, if it had one


class Dispatcher:
    """Handles stored inbound messages, one worker per session: access policy (pairing codes, group
    hints), input checks, chat commands, then the turn and its reply through the delivery service.

    A session's messages are handled in arrival order, different sessions concurrently; messages
    queued behind a busy session may be answered together. Every message ends with its inbox row
    settled (done, ignored or failed), or still pending when the disk is full or `drain` cut it
    short, so the next start picks it up.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        runner: TurnRunner,
        *,
        connector_for: ConnectorFor,
        pairing: PairingService,
        notices: ApprovalNotices,
        delivery: DeliveryService,
    ) -> None:
        self._config = config
        self._store = store
        self._runner = runner
        self._connector_for = connector_for
        self._access = AccessPolicy(store.pairing, store.groups)
        self._pairing = pairing
        self._group_pairing = GroupPairing(store.groups, store.pairing)
        self._notices = notices
        self._delivery = delivery
        self._commands = ChatCommands(config, store)
        self._queues: dict[str, deque[Job]] = {}
        self._workers = TaskSet("sessions", log)
        self._retries = TaskSet("retries", log)  # jobs waiting to be submitted again; stopped by drain
        self._draining = False
        self.disk_full = DiskFullAlarm(config.home)
        self.disk_full_delay = 30.0  # first retry after a full disk; doubles each time
        self.voice_notes = VoiceNotes(config, store, runner, connector_for)
        self.spoken_replies = SpokenReplies(config, store, runner)
        self.transcribe_retry_delay = 30.0  # first retry of a failed transcription; doubles each time

    # -- queueing ------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        key = job.route.session_key
        self._queues.setdefault(key, deque()).append(job)
        if not self._draining and _worker_name(key) not in self._workers:
            self._workers.spawn(self._work(key), name=_worker_name(key))

    @property
    def active_sessions(self) -> int:
        return len(self._workers)

    @property
    def queued(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    async def drain(self, grace: float) -> bool:
        """Stop starting new work; wait for running work up to `grace` seconds, then cancel it. True if all finished."""
        self._draining = True
        await self._retries.aclose()  # a waiting retry's rows stay pending for the next start
        return await self._workers.aclose(grace=grace)  # a cancelled job's rows stay pending for the next start

    async def _work(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue and not self._draining:
                job = queue.popleft()
                taken = [job]  # and whatever the batch takes from the queue after it
                try:
                    await self._handle(job, queue, taken)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if is_disk_full(exc):  # not the messages' fault: they stay pending and are tried again
                        self.disk_full.report(f"session {key}: {exc}")
                        for item in taken:
                            with contextlib.suppress(Exception):  # an attempt the disk spoiled does not count
                                await self._store.inbox.undo_attempt(item.row_ids)
                            self._retry_later(item)
                        continue
                    await self._failed(key, taken, exc)
        finally:
            # No await between the loop's last check and the task's end (the worker leaves the set
            # then), so no job can slip in unseen.
            if not queue:
                self._queues.pop(key, None)

    def _retry_later(self, job: Job) -> None:
        job.disk_full_retries += 1
        if job.disk_full_retries > DISK_FULL_RETRIES or self._draining:
            return  # still pending in the inbox: the next start picks it up
        delay = RetryPolicy(initial_delay=self.disk_full_delay, max_delay=math.inf).backoff(job.disk_full_retries - 1)
        self._submit_later(job, delay, why="disk full")

    async def _failed(self, key: str, jobs: list[Job], exc: Exception) -> None:
        """Mark a failed job's rows (a whole batch's) failed; a second error must not end the worker.

        An exception escaping `_work` would strand the messages still queued for this session
        until its next message arrived.
        """
        row_ids = [row_id for job in jobs for row_id in job.row_ids]
        message_ids = ", ".join(job.inbound.message_id for job in jobs)
        log.error("session %s: message(s) %s failed", key, message_ids, exc_info=exc)
        try:
            await self._store.inbox.finish(row_ids, "failed", f"{type(exc).__name__}: {exc}")
        except Exception as second:
            log.error(
                "session %s: could not mark message(s) %s failed (%s); retried after a restart",
                key,
                message_ids,
                second,
            )

    async def _handle(self, job: Job, queue: deque[Job], taken: list[Job] | None = None) -> None:
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
            if taken is not None:
                taken.append(nxt)
            if (prepared := await self._prepare(nxt)) is not None:
                batch.append(prepared)
            elif taken is not None:
                taken.remove(nxt)  # handled already (answered without a model, or refused): not the batch's to retry
        await self._answer(batch)

    # -- group upgrades --------------------------------------------------------------
    async def group_moved(self, inbound: Inbound) -> None:
        """A group's chat id changed (`Inbound.migrated_from`): its openness follows it. Never a turn.

        An approval in the database moves with the group. A group opened in config stays open under
        its new id until the gateway stops (config.toml is the owner's file), with one warning.
        History stays under the old id's session.
        """
        old, new, channel = inbound.migrated_from or "", inbound.chat_id, inbound.channel
        await self._group_pairing.move(channel, old, new, group_name=inbound.group_name)
        groups = channel_config(self._config, channel).groups
        if old in groups and new not in groups and self._access.open_for_run(channel, new):
            log.warning(
                "%s group %s is now %s (its chat id changed): open until the gateway stops;"
                ' replace "%s" with "%s" in groups under [channels.%s] in config.toml to keep it open',
                channel,
                old,
                new,
                old,
                new,
                channel,
            )

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
        heard = NOTHING
        if polite is None:
            heard = await self.voice_notes.hear(inbound, job.route.session_key)
            if heard.failure is not None:
                await self._not_heard(job, heard.failure)
                return None
            polite, inbound = heard.polite, heard.applied_to(inbound)
        if polite is None and (command := parse_command(inbound.text)) is not None:
            polite = await self._commands.run(
                command, inbound, session_key=job.route.session_key, agent_id=job.route.agent_id
            )
        if polite is not None:
            await self._send(job, inbound.address, Outbound(polite))
            return None
        return TurnInput(job, self._limit_length(with_reply_context(inbound)), images, heard)

    async def _not_heard(self, job: Job, failure: TranscriptionFailed) -> None:
        """Tell the sender once; the message stays pending and is transcribed again later (or, at last, fails)."""
        retry = failure.transient and job.transcribe_retries < TRANSCRIBE_RETRIES
        first = job.transcribe_retries == 0
        if retry:
            # Handled, not a crash: this attempt must not count toward the restart's give-up limit, or a
            # restart would mark the message failed after the sender was promised another try.
            await self._store.inbox.undo_attempt(job.row_ids)
        if first or not retry:
            await self._note(job, not_heard_reply(failure, retrying=retry, again=not first))
        if not retry:
            await self._store.inbox.finish(job.row_ids, "failed", str(failure))
            return
        if self._draining:
            return  # still pending: the next start picks it up
        if job.transcribe_backoff is None:
            job.transcribe_backoff = Backoff(self.transcribe_retry_delay, math.inf)
        delay = job.transcribe_backoff.next()
        log.warning(
            "session %s: %s; trying again in %.0f s",
            job.route.session_key,
            failure,
            delay,
            extra={"session": job.route.session_key},
        )
        self._submit_later(job, delay, why="transcription")

    def _submit_later(self, job: Job, delay: float, *, why: str) -> None:
        """Submit `job` again in `delay` seconds; `drain` cancels the wait (its rows stay pending for the next start)."""
        name = f"{why} retry of message {job.inbound.message_id} (rows {job.row_ids})"
        self._retries.spawn(self._submit_after(job, delay), name=name)

    async def _submit_after(self, job: Job, delay: float) -> None:
        await asyncio.sleep(delay)
        if not self._draining:
            self.submit(job)

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
                log_pairing_request(inbound, outcome)
        elif decision.verdict == "pair_group":
            group = await self._group_pairing.request(
                inbound.channel, group_ids(inbound)[0], group_name=inbound.group_name
            )
            if group.hint and group.code:
                dm_pairing = channel_config(self._config, inbound.channel).dm_policy == "pairing"
                text = group_hint(inbound.channel, group.code, dm_pairing=dm_pairing)
        if text:
            note = "pairing" if decision.verdict == "pair" else decision.reason
            await self._send(job, inbound.address, Outbound(text), status="ignored", note=note)
        else:
            await self._store.inbox.finish(job.row_ids, "ignored", decision.reason)

    def _refusal(self, inbound: Inbound) -> str | None:
        if inbound.unsupported:
            return unsupported_reply([inbound.unsupported])
        others = sorted({item.kind for item in inbound.attachments if item.kind not in ("image", "audio")})
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
        started = time.monotonic()
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
            address=inbound.address,
            audio=tuple(digest for item in batch for digest in item.heard.audio),
            sender_name=inbound.sender_name,
        )
        streamer = ReplyStreamer(connector, inbound.address) if self._streams(connector, inbound.channel) else None
        echo = self._echo(batch)
        if echo and streamer is not None:
            await streamer.delta(echo)  # what was heard shows at once, while the answer is written
        async with typing_indicator(connector, inbound.address):
            result = await self._runner.run(request, on_delta=streamer.delta if streamer else None)
        if result.turn_id:
            await self._store.inbox.set_turn(row_ids, result.turn_id)
        outcome = await self._deliver(last, row_ids, replace(result, reply=echo + result.reply), streamer)
        log_answer(last, result, len(batch), time.monotonic() - started, outcome)
        spoke = any(item.kind == "audio" for item in result.attachments)  # the speak tool already answered aloud
        voice_note = any(item.heard.voice_note for item in batch)  # "mirror" answers voice notes, not songs
        if result.ok and not spoke and speaks_back(self._config, inbound.channel, connector, heard=voice_note):
            await self._speak(last, request, result, connector)

    async def _speak(self, job: Job, request: TurnRequest, result: TurnResult, connector: Connector) -> None:
        """The answer again, spoken, after its text (which always goes first, and in full)."""
        async with typing_indicator(connector, job.inbound.address):
            spoken = await self.spoken_replies.speak(request, result.reply, result.model)
        if spoken.audio is not None:
            await self._note(job, "", (spoken.audio,))
        elif spoken.note:
            await self._note(job, spoken.note)

    def _echo(self, batch: list[TurnInput]) -> str:
        """The reply's first line(s) when voice notes were heard: an italic quote of each transcript."""
        if not self._config.voice.echo_transcript:
            return ""
        lines = [echo_line(item.heard.transcript) for item in batch if item.heard.audio]
        return "\n".join(lines) + "\n\n" if lines else ""

    async def _note(self, job: Job, text: str, attachments: tuple[Attachment, ...] = ()) -> None:
        """An extra message in the job's chat that settles none of its rows (a spoken answer, a failure note)."""
        try:
            await self._delivery.send(
                job.inbound.address,
                Outbound(text, attachments),
                session_key=job.route.session_key,
                message_id=job.inbound.message_id,
            )
        except Exception as exc:  # not even queued: the store failed; the answer itself went out already
            log.error("session %s: an extra message could not be sent or queued: %s", job.route.session_key, exc)

    def _streams(self, connector: Connector, channel: str) -> bool:
        setting = getattr(channel_config(self._config, channel), "streaming", "edit")
        return setting != "off" and isinstance(connector, StreamingConnector)

    async def _deliver(
        self, job: Job, row_ids: list[int], result: TurnResult, streamer: ReplyStreamer | None
    ) -> Outcome | None:
        address = job.inbound.address
        job = Job(row_ids, job.inbound, job.route)
        if streamer is not None and streamer.stream is not None:
            try:
                await streamer.stream.finish(result.reply)
            except Exception as exc:
                # The streamed message stays as it is; the whole answer follows as a new one (via the outbox if need be).
                log.warning(
                    "session %s: finishing the streamed reply failed (%s); sending it again", job.route.session_key, exc
                )
                return await self._send(job, address, Outbound(result.reply, tuple(result.attachments)))
            if result.attachments:
                return await self._send(job, address, Outbound(attachments=tuple(result.attachments)))
            await self._store.inbox.mark_replied(row_ids)
            return "sent"
        return await self._send(job, address, Outbound(result.reply, tuple(result.attachments)))

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
    ) -> Outcome | None:
        """Send now or queue in the outbox; the delivery service settles the job's inbox rows."""
        try:
            return await self._delivery.send(
                address,
                outbound,
                answers=job.row_ids,
                settle=status,
                note=note,
                session_key=job.route.session_key,
                message_id=job.inbound.message_id,
            )
        except Exception as exc:  # not even queued (the store failed): the rows stay pending for the next start
            log.error(
                "session %s: reply to message %s could neither be sent nor queued: %s",
                job.route.session_key,
                job.inbound.message_id,
                exc,
            )
            return None


def _worker_name(session_key: str) -> str:
    return f"session {session_key}"


def log_pairing_request(inbound: Inbound, outcome: PairingOutcome) -> None:
    """The owner's cue: who asked, with which code, and the exact command that lets them in."""
    # repr() of the name: it is chat text and must not put control sequences on the owner's terminal.
    who = f"{inbound.channel} sender {inbound.sender_id} ({inbound.sender_name!r})"
    if outcome.code is None:
        why = "its code expired unapproved (cooling down)" if outcome.retry_in is not None else "too many pending"
        log.warning("pairing request from %s refused: %s (see `agentbox pairing list`)", who, why)
        return
    asked = "pairing request from" if outcome.new else "pairing still pending for"
    log.info(
        "%s %s, code %s; to let them in run: agentbox pairing approve %s %s",
        asked,
        who,
        outcome.code,
        inbound.channel,
        outcome.code,
    )


def log_answer(job: Job, result: TurnResult, messages: int, seconds: float, outcome: Outcome | None) -> None:
    """One INFO line per answered message (or batch): what answered, what it cost, how long it took."""
    usage = result.usage
    batch = f" ({messages} messages together)" if messages > 1 else ""
    failed = "" if result.ok else f" (the turn {result.status}: {result.error})"
    delivery = {"queued": "; the reply waits in the outbox", "rejected": "; the platform refused the reply"}
    log.info(
        "answered with %s: %s in / %s out tokens in %.1f s%s%s%s",
        result.model,
        f"{usage.input_tokens:,}",
        f"{usage.output_tokens:,}",
        seconds,
        batch,
        failed,
        delivery.get(outcome or "", "" if outcome else "; the reply could not be sent"),
        extra={"session": job.route.session_key, "message_id": job.inbound.message_id},
    )


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


def not_heard_reply(failure: TranscriptionFailed, *, retrying: bool, again: bool) -> str:
    """One honest sentence for a voice note the speech-to-text service could not transcribe."""
    if retrying:
        return f"Sorry, I couldn't transcribe your voice message ({failure.reason}); I'll try again in a minute."
    still = "still " if again else ""
    return (
        f"Sorry, I {still}couldn't transcribe your voice message ({failure.reason}); please send it again or type it."
    )


def with_reply_context(inbound: Inbound) -> str:
    """The user's text, preceded by the message they replied to: "this" in "translate this" needs it."""
    quoted = (inbound.reply_to_text or "").strip()
    if not quoted:
        return inbound.text
    if len(quoted) > REPLY_QUOTE_CHARS:
        quoted = quoted[:REPLY_QUOTE_CHARS] + "…"
    return f'(Replying to: "{quoted}")\n{inbound.text}'
