"""A fourth channel, as a new platform package would bring it: a light settings model and a factory.

Kept apart from the test module: like `connectors/<name>/settings.py`, it imports no more than
`agentbox.configbase` and `agentbox.tokens`, because the config imports it while it is being built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agentbox.configbase import ChannelConfig
from agentbox.tokens import TokenSpec


class EchoConfig(ChannelConfig):
    token_env: str = "ECHO_TOKEN"

    def token_specs(self) -> list[TokenSpec]:
        return [TokenSpec("echo", "bot token", self.token_env, re.compile(r"^echo-\w+$"), "echo-...", source="echo")]


def create(settings: EchoConfig, env: Mapping[str, str]) -> Any:
    from agentbox.config import ConfigError
    from tests.gatewaykit import FakeConnector

    if not env.get(settings.token_env):
        raise ConfigError(f"echo needs ${settings.token_env}")
    return FakeConnector(name="echo")
