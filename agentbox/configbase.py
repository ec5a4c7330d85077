"""The base of every config section, and of the settings every channel shares.

Kept apart from `agentbox.config` so that each channel's settings model (in its light
`connectors/<name>/settings.py`) can be declared without importing the whole config, which
builds its `[channels]` table from the channel registry (`agentbox.channels`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

if TYPE_CHECKING:
    from agentbox.tokens import TokenSpec


class Section(BaseModel):
    """A config table: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


DmPolicy = Literal["pairing", "allowlist", "open", "disabled"]
GroupPolicy = Literal["mention", "open", "disabled"]


class ChannelConfig(Section):
    """The keys every `[channels.<name>]` table has; a channel's settings model adds its own."""

    enabled: bool = False
    dm_policy: DmPolicy = "pairing"
    allow_from: list[str] = []
    group_policy: GroupPolicy = "mention"
    groups: list[str] = []  # groups where everyone may talk to the bot; "*": every group
    agent: str = "main"

    @field_validator("allow_from", "groups", mode="before")
    @classmethod
    def _ids_as_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(item) for item in value]
        return value

    def token_specs(self) -> list[TokenSpec]:
        """The secrets this channel needs in its configured mode, named by the env vars that hold them."""
        return []


class ChannelsSection(Section):
    """`[channels]`: one table per registered channel; `agentbox.channels.settings_model` adds the fields."""
