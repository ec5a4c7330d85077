"""Slack inbound: events (DMs, mentions, thread follow-ups) translated into `Inbound`s.

`SlackInbound` is an object the connector (connectors/slack/connector.py) owns, kept apart so each
module has one job: this one decides what a Slack event means and fetches shared images and audio; the
connector owns the app, tokens, delivery and sending. An image or audio file becomes a reference (its private URL,
which holds no secret, and declared size); `fetch` downloads it with the bot token once access is granted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from agentbox.download import check_declared, read_capped
from agentbox.messages import Attachment, Inbound, MediaUnavailable

from .bounded import Bounded
from .format import mrkdwn_to_text

if TYPE_CHECKING:
    import aiohttp
    from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# Message subtypes that are still a person talking; everything else (edits, deletions,
# joins, bot_message, ...) is ignored.
_USER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
_MAX_DOWNLOAD = 20 * 1024 * 1024
# What Slack serves each kind as; anything else (its sign-in page) means the token lacks files:read.
_SERVED_AS = {"image": ("image/",), "audio": ("audio/", "video/", "application/octet-stream")}


class SlackInbound:
    """Slack events of one app as `Inbound`s, and the bytes of the images they share.

    Its inputs: the channel name; `api_base_url`, whose host is trusted with the bot token like
    Slack's own; `client`, the connector's Web API client (thread history, display names);
    `bot_token` and `session`, the connector's HTTP session, for downloads. `identify` tells it
    who the bot is once auth.test answered; `joined` that the bot answered in a thread.
    """

    def __init__(
        self,
        channel: str,
        *,
        api_base_url: str,
        bot_token: str,
        client: Callable[[], AsyncWebClient],
        session: Callable[[], aiohttp.ClientSession],
    ) -> None:
        self.channel = channel
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None
        self._api_base_url = api_base_url
        self._bot_token = bot_token
        self._client = client
        self._session = session
        self._threads = Bounded()  # (channel, thread_ts) -> True: threads the bot is part of
        self._not_threads = Bounded()  # (channel, thread_ts) checked via conversations.replies
        self._names = Bounded()  # user id -> display name
        self._parents = Bounded()  # (channel, thread_ts) -> the thread parent's text ("" when none to quote)

    def identify(self, user_id: str | None, bot_id: str | None) -> None:
        self.bot_user_id, self.bot_id = user_id, bot_id

    def joined(self, channel: str, thread_ts: str) -> None:
        """The bot is part of this thread now: follow-ups there are addressed to it."""
        self._threads.remember((channel, thread_ts))

    async def message(self, event: dict[str, Any]) -> Inbound | None:
        """A `message` event: DMs, and follow-ups in threads the bot is part of; None for the rest."""
        if self._from_bot_or_not_a_person(event):
            return None
        channel, ts = str(event.get("channel", "")), str(event.get("ts", ""))
        text = str(event.get("text") or "")
        if event.get("channel_type") == "im":
            return await self._inbound(event, is_direct=True, mentioned=False, thread_id=None)
        thread_ts = event.get("thread_ts")
        if not thread_ts or thread_ts == ts:
            return None  # channel chatter outside threads: only mentions (app_mention) reach the bot
        if self.bot_user_id and f"<@{self.bot_user_id}" in text:
            return None  # the app_mention event for the same message delivers it
        if not await self._bot_in_thread(channel, str(thread_ts)):
            return None
        # The bot is part of this thread: a follow-up counts as addressed to it.
        return await self._inbound(event, is_direct=False, mentioned=True, thread_id=str(thread_ts))

    async def _thread_parent(self, event: dict[str, Any]) -> str | None:
        """The text of the thread parent a threaded message answers, for the model's context.

        None outside threads, and when the parent mentioned the bot: that message opened the bot's
        conversation in the thread, so it is in the session's history already.
        """
        channel, ts, thread_ts = str(event.get("channel", "")), str(event.get("ts", "")), event.get("thread_ts")
        if not thread_ts or thread_ts == ts:
            return None
        key = (channel, str(thread_ts))
        if key not in self._parents:
            from slack_sdk.errors import SlackApiError

            try:  # the thread's first message is its parent
                response = await self._client().conversations_replies(channel=channel, ts=thread_ts, limit=1)
            except (SlackApiError, OSError) as exc:  # not remembered: asked again with the next message
                log.warning(
                    "slack: cannot read the parent of thread %s in %s: %s", thread_ts, channel, type(exc).__name__
                )
                return None
            self._remember_parent(key, response.get("messages") or [])
        return str(self._parents[key]) or None

    def _remember_parent(self, key: tuple[str, str], messages: list[dict[str, Any]]) -> None:
        parent = next((m for m in messages if m.get("ts") == key[1]), None)
        text = str((parent or {}).get("text") or "")
        if self.bot_user_id and f"<@{self.bot_user_id}" in text:
            text = ""  # it opened the bot's conversation here: already in the session's history
        self._parents.remember(key, mrkdwn_to_text(text, strip_user=self.bot_user_id) if text else "")

    async def app_mention(self, event: dict[str, Any]) -> Inbound | None:
        """An `app_mention` event; None when a bot (or nobody) wrote it."""
        if self._from_bot_or_not_a_person(event):
            return None
        # A mention outside a thread starts one: its own ts is the thread (and session) id.
        thread_id = str(event.get("thread_ts") or event.get("ts"))
        self.joined(str(event.get("channel")), thread_id)
        if thread_id == str(event.get("ts")):
            self._parents.remember((str(event.get("channel")), thread_id), "")  # this mention is the parent
        return await self._inbound(event, is_direct=False, mentioned=True, thread_id=thread_id)

    def _from_bot_or_not_a_person(self, event: dict[str, Any]) -> bool:
        if event.get("subtype") not in _USER_SUBTYPES:
            return True
        if event.get("bot_id") or event.get("bot_profile"):
            return True
        user = event.get("user")
        return not user or user == self.bot_user_id

    async def _bot_in_thread(self, channel: str, thread_ts: str) -> bool:
        """True if the bot was mentioned or answered in this thread (asks Slack once after a restart)."""
        key = (channel, thread_ts)
        if key in self._threads:
            return True
        if key in self._not_threads:
            return False
        from slack_sdk.errors import SlackApiError

        try:
            response = await self._client().conversations_replies(channel=channel, ts=thread_ts, limit=200)
        except (SlackApiError, OSError) as exc:
            log.warning("slack: cannot read thread %s in %s: %s", thread_ts, channel, type(exc).__name__)
            return False
        messages = response.get("messages") or []
        self._remember_parent(key, messages)
        joined = any(
            m.get("user") == self.bot_user_id
            or (self.bot_id and m.get("bot_id") == self.bot_id)
            or f"<@{self.bot_user_id}" in str(m.get("text", ""))
            for m in messages
        )
        (self._threads if joined else self._not_threads).remember(key)
        return joined

    async def _inbound(
        self, event: dict[str, Any], *, is_direct: bool, mentioned: bool, thread_id: str | None
    ) -> Inbound:
        user = str(event.get("user"))
        text = mrkdwn_to_text(str(event.get("text") or ""), strip_user=self.bot_user_id)
        files = [f for f in event.get("files") or [] if isinstance(f, dict)]
        attachments = tuple([a for a in [self._file_ref(f) for f in files] if a is not None])
        unsupported = None
        if files and not attachments and not text:
            unsupported = "file"
        return Inbound(
            channel=self.channel,
            chat_id=str(event.get("channel")),
            message_id=str(event.get("ts")),
            sender_id=user,
            text=text,
            is_direct=is_direct,
            sender_name=await self._display_name(user),
            mentioned=mentioned,
            thread_id=thread_id,
            attachments=attachments,
            unsupported=unsupported,
            reply_to_text=await self._thread_parent(event),
        )

    async def _display_name(self, user_id: str) -> str:
        if user_id in self._names:
            return str(self._names[user_id])
        from slack_sdk.errors import SlackApiError

        name = ""
        try:
            response = await self._client().users_info(user=user_id)
            user = response.get("user") or {}
            profile = user.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or ""
            name = name or user.get("name") or ""
        except (SlackApiError, OSError) as exc:
            log.debug("slack: users.info %s failed: %s", user_id, exc)
        self._names.remember(user_id, name)
        return name

    def _trusted_file_url(self, url: str) -> bool:
        """Only Slack's own hosts get the bot token: a forged file URL must not collect it."""
        host = urlsplit(url).hostname or ""
        api_host = urlsplit(self._api_base_url).hostname or ""
        return host == api_host or host == "slack.com" or host.endswith(".slack.com")

    def _file_ref(self, file: dict[str, Any]) -> Attachment | None:
        """An image or audio file (an audio clip recorded in Slack too) as a reference; None for other files."""
        mimetype = str(file.get("mimetype") or "")
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        kind = _kind_of(file, mimetype)
        if kind is None or not url:
            return None
        if not self._trusted_file_url(url):
            log.warning("slack: skipped %s %s (not on a Slack host)", kind, file.get("id"))
            return None
        size, duration_ms = file.get("size"), file.get("duration_ms")
        return Attachment(
            kind,
            ref=url,
            size=int(size) if size is not None else None,
            media_type=mimetype,
            filename=file.get("name"),
            duration=duration_ms / 1000 if isinstance(duration_ms, int | float) else None,
            voice=file.get("subtype") == "slack_audio",
        )

    async def fetch(self, attachment: Attachment, max_bytes: int) -> Attachment:
        """Download a shared image or audio file with the bot token, never past `max_bytes`."""
        if attachment.ref is None or attachment.data is not None:
            return attachment
        limit = min(max_bytes, _MAX_DOWNLOAD)
        check_declared(attachment.size, limit)
        if not self._trusted_file_url(attachment.ref):  # a replayed row is checked again: the token stays home
            raise MediaUnavailable("the file is not on a Slack host")
        headers = {"Authorization": f"Bearer {self._bot_token}"}
        try:
            async with self._session().get(attachment.ref, headers=headers) as response:
                content_type = response.content_type or ""
                if response.status != 200 or not content_type.startswith(_SERVED_AS.get(attachment.kind, ("image/",))):
                    # Slack answers a sign-in page when the token lacks files:read.
                    log.warning(
                        "slack: %s download gave HTTP %s %s (is files:read granted?)",
                        attachment.kind,
                        response.status,
                        content_type,
                    )
                    raise MediaUnavailable(f"Slack answered HTTP {response.status} {content_type}")
                check_declared(response.content_length, limit)
                data = await read_capped(response.content.iter_chunked(64 * 1024), limit)
        except (TimeoutError, OSError) as exc:
            raise MediaUnavailable(f"download failed: {type(exc).__name__}", transient=True) from None
        return replace(attachment, data=data, media_type=content_type)


def _kind_of(file: dict[str, Any], mimetype: str) -> Literal["image", "audio"] | None:
    if mimetype.startswith("image/"):
        return "image"
    if mimetype.startswith("audio/") or file.get("subtype") == "slack_audio":
        return "audio"
    return None
