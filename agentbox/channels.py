"""The channel registry: one `ChannelSpec` per chat platform, which everything else iterates.

Config (`[channels]`), the gateway (which connectors to start), tokens, pairing, onboarding,
doctor and log redaction all read this table instead of naming platforms themselves. A spec
holds dotted paths, not objects: importing this module imports nothing of any channel, so
`agentbox --help` stays instant; the light settings model is imported when the config is
read, the platform SDK only when a connector is created.

Adding a channel: a package `connectors/<name>/` with `settings.py` (a `ChannelConfig`
subclass whose `token_specs()` names its secrets; pydantic only), `connector.py` with
`create(settings, env) -> Connector`, optionally `probe.py` with
`check_online(settings, env) -> OnlineCheck` for `agentbox doctor --online`; then one entry
in `CHANNELS` below (its `voice_format` names what it plays as a voice note), and its test file.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentbox.config import Config
    from agentbox.configbase import ChannelConfig, ChannelsSection
    from agentbox.messages import Connector
    from agentbox.onlinecheck import OnlineCheck
    from agentbox.tokens import TokenSpec


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One chat platform: its config table, how to build its connector and how doctor checks it online."""

    name: str  # the `[channels.<name>]` table, `Inbound.channel`, the CLI's channel argument
    settings: str  # "module:Class": its `ChannelConfig` subclass, in a module that imports no SDK
    connector: str  # "module:function": `create(settings, env) -> Connector`; imports the SDK
    online_check: str | None = None  # "module:function": `check_online(settings, env) -> OnlineCheck`
    voice_format: str = "mp3"  # TTS `response_format` of its spoken answers: what it plays as a voice note

    def settings_model(self) -> type[ChannelConfig]:
        from agentbox.configbase import ChannelConfig

        model = _load(self.settings)
        if not (isinstance(model, type) and issubclass(model, ChannelConfig)):
            raise TypeError(f"{self.settings} is not a ChannelConfig subclass")
        return model

    def settings_in(self, config: Config) -> ChannelConfig:
        """This channel's `[channels.<name>]` table, typed as its settings model."""
        section = getattr(config.channels, self.name)
        if not isinstance(section, self.settings_model()):
            raise TypeError(f"config.channels.{self.name} is not a {self.settings}")
        return section

    def token_specs(self, config: Config) -> list[TokenSpec]:
        """The secrets this channel needs in its configured mode."""
        return self.settings_in(config).token_specs()

    def create(self, config: Config, env: Mapping[str, str]) -> Connector:
        """Build the connector (imports the platform SDK); ConfigError names what is missing."""
        connector: Connector = _load(self.connector)(self.settings_in(config), env)
        return connector

    def check_online(self, config: Config, env: Mapping[str, str]) -> OnlineCheck | None:
        """Ask the platform whether it accepts the token; None when the channel has no such check."""
        if self.online_check is None:
            return None
        check: OnlineCheck = _load(self.online_check)(self.settings_in(config), env)
        return check


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        "telegram",
        settings="agentbox.connectors.telegram.settings:TelegramConfig",
        connector="agentbox.connectors.telegram.connector:create",
        online_check="agentbox.connectors.telegram.probe:check_online",
        voice_format="opus",  # sendVoice shows OGG/Opus as a voice note
    ),
    ChannelSpec(
        "slack",
        settings="agentbox.connectors.slack.settings:SlackConfig",
        connector="agentbox.connectors.slack.connector:create",
        online_check="agentbox.connectors.slack.probe:check_online",
    ),
    ChannelSpec(
        "discord",
        settings="agentbox.connectors.discord.settings:DiscordConfig",
        connector="agentbox.connectors.discord.connector:create",
        online_check="agentbox.connectors.discord.probe:check_online",
    ),
)
CHANNEL_NAMES: tuple[str, ...] = tuple(spec.name for spec in CHANNELS)


def find_channel(name: str) -> ChannelSpec | None:
    return next((spec for spec in CHANNELS if spec.name == name), None)


def get_channel(name: str) -> ChannelSpec:
    """The registered channel called `name`; KeyError naming the known ones otherwise."""
    spec = find_channel(name)
    if spec is None:
        raise KeyError(f"unknown channel {name!r} (choose from {', '.join(CHANNEL_NAMES)})")
    return spec


def enabled_channels(config: Config) -> list[ChannelSpec]:
    return [spec for spec in CHANNELS if spec.settings_in(config).enabled]


def names_text(conjunction: str = "or") -> str:
    """The channel names for a sentence: "telegram, slack or discord"."""
    *rest, last = CHANNEL_NAMES
    return f"{', '.join(rest)} {conjunction} {last}" if rest else last


def settings_model() -> type[ChannelsSection]:
    """The `[channels]` model: one field per registered channel, defaulting to its settings model."""
    from pydantic import Field, create_model

    from agentbox.configbase import ChannelsSection

    fields: dict[str, Any] = {}
    for spec in CHANNELS:
        model = spec.settings_model()
        fields[spec.name] = (model, Field(default_factory=model))
    return create_model("ChannelsConfig", __base__=ChannelsSection, **fields)


@cache
def _load(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)
