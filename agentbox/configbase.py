"""The base of every config section, and of the settings every channel shares.

Kept apart from `agentbox.config` so that each channel's settings model (in its light
`connectors/<name>/settings.py`) can be declared without importing the whole config, which
builds its `[channels]` table from the channel registry (`agentbox.channels`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

if TYPE_CHECKING:
    from agentbox.tokens import TokenSpec


class Section(BaseModel):
    """A config table: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


DmPolicy = Literal["pairing", "allowlist", "open", "disabled"]
GroupPolicy = Literal["mention", "open", "disabled"]
VoiceReplies = Literal["off", "mirror", "always"]


def _ids_as_strings(value: Any) -> Any:
    if isinstance(value, list):
        return [str(item) for item in value]
    return value


# Platform ids (users, chats, servers): TOML may hold them as numbers; they are compared as strings.
PlatformIds = Annotated[list[str], BeforeValidator(_ids_as_strings)]


class ChannelConfig(Section):
    """The keys every `[channels.<name>]` table has; a channel's settings model adds its own."""

    enabled: bool = False
    dm_policy: DmPolicy = "pairing"
    allow_from: PlatformIds = []
    group_policy: GroupPolicy = "mention"
    groups: PlatformIds = []  # groups where everyone may talk to the bot; "*": every group
    agent: str = "main"
    voice_replies: VoiceReplies = "mirror"  # spoken answers: never, to voice notes, or to everything

    def token_specs(self) -> list[TokenSpec]:
        """The secrets this channel needs in its configured mode, named by the env vars that hold them."""
        return []


class ChannelsSection(Section):
    """`[channels]`: one table per registered channel; `agentbox.channels.settings_model` adds the fields."""
