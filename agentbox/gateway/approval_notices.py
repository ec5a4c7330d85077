"""The "you're approved" notice: sent once, when the approval happens, before any answer.

Approvals are written by the CLI (another process). The notice goes out
- at once, when `agentbox pairing approve` pokes the running gateway (`POST /pairing/notify`);
- when a channel's connector becomes ready (approved while no gateway ran);
- before the sender's first message is handled, whichever comes first, and
- from a slow sweep, in case the poke did not arrive.

Each notice is claimed in SQLite (`notified` 0 → 1) before it is sent, so it goes out once
even if two of these race; a send still in flight is awaited before that sender's answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agentbox.messages import Address, Connector, Outbound
from agentbox.store.pairing import AllowedSender, PairingRepo
from agentbox.tasks import TaskSet

log = logging.getLogger(__name__)

APPROVED_NOTICE = "You're approved: I can answer you now. Say hello!"

ReadyConnector = Callable[[str], Connector | None]  # the channel's connector if it is ready now, else None


class ApprovalNotices:
    """Sends each approved sender's notice exactly once, ordered before their first answer."""

    def __init__(self, repo: PairingRepo, connector_for: ReadyConnector) -> None:
        self._repo = repo
        self._connector_for = connector_for
        self._sending = TaskSet("approval notices", log)

    async def before_answer(self, channel: str, sender_id: str) -> None:
        """Called before handling an approved sender's message that still owes them a notice."""
        task = self._sending.get(_task_name(channel, sender_id))
        if task is None:
            sender = await self._repo.approval(channel, sender_id)
            if sender is None or sender.notified or not sender.chat_id:
                return
            task = self._start(sender)
        await asyncio.shield(task)

    async def send_due(self, channel: str | None = None) -> int:
        """Send every notice still owed (on `channel`, or all); returns how many went out.

        One sender's failure (the database busy, say) is logged with who it was and does not stop the others.
        """
        senders = [
            sender for sender in await self._repo.unnotified(channel) if self._connector_for(sender.channel) is not None
        ]
        results = await asyncio.gather(*(self._start(sender) for sender in senders), return_exceptions=True)
        for sender, result in zip(senders, results, strict=True):
            if isinstance(result, Exception):
                log.warning(
                    "approval notice for %s sender %s failed: %s",
                    sender.channel,
                    sender.sender_id,
                    result,
                    exc_info=result,
                )
        return sum(result is True for result in results)

    async def aclose(self) -> None:
        """Cancel notices still being sent (at shutdown; a claimed notice is not sent again)."""
        await self._sending.aclose()

    def _start(self, sender: AllowedSender) -> asyncio.Task[bool]:
        name = _task_name(sender.channel, sender.sender_id)
        # Awaited by send_due or before_answer, whose callers report a failure.
        return self._sending.get(name) or self._sending.spawn(self._send(sender), name=name, awaited=True)

    async def _send(self, sender: AllowedSender) -> bool:
        connector = self._connector_for(sender.channel)
        if connector is None:
            return False  # not ready: sent when it is (on ready, or before the sender's next answer)
        if not await self._repo.claim_notice(sender.channel, sender.sender_id):
            return False  # another path sent it
        try:
            await connector.send(Address(sender.channel, sender.chat_id), Outbound(APPROVED_NOTICE))
        except Exception as exc:
            # Claimed either way: one notice is a courtesy, not worth a retry loop.
            log.warning("could not tell %s sender %s they were approved: %s", sender.channel, sender.sender_id, exc)
            return False
        log.info("told %s sender %s they were approved", sender.channel, sender.sender_id)
        return True


def _task_name(channel: str, sender_id: str) -> str:
    return f"approval notice {channel}:{sender_id}"
