"""Which secrets a gateway started as a service would see, and which it would start without.

A user service (systemd, launchd) does not inherit the shell: a key that was only
`export`ed there is missing when the service starts. The service reads secrets from
config.toml (`[aimlapi] api_key`) and `AGENTBOX_HOME/.env`, plus whatever its unit file
sets. `daemon install` and `doctor` use this to catch the gap before the journal does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from agentbox.channels import enabled_channels
from agentbox.config import Config, ConfigError, load_config
from agentbox.envfile import env_file_path, read_env_file
from agentbox.keysource import API_KEY_ENV

Where = Literal["config", "env file", "unit file", "shell only", "missing"]


@dataclass(frozen=True, slots=True)
class ServiceSecret:
    """One secret the gateway needs, and where a service started now would find it."""

    env_name: str
    label: str
    where: Where

    @property
    def reachable(self) -> bool:
        return self.where in ("config", "env file", "unit file")


def needed_secrets(config: Config) -> list[tuple[str, str]]:
    """(env var, label) of every secret the gateway needs with this config; the API key first."""
    needed = [(API_KEY_ENV, "AI/ML API key")]
    for channel in enabled_channels(config):
        needed += [(s.env_name, f"{channel.name} {s.label}") for s in channel.token_specs(config) if s.required]
    needed += [(hook.secret_env, f"hook {hook.name} secret") for hook in config.hooks]
    return needed


def stored_config() -> Config:
    """The config file alone, as the service reads it (not what this shell adds); a ConfigError propagates."""
    return load_config(env={})


def service_secrets(
    *,
    environ: Mapping[str, str] | None = None,
    env_file: Mapping[str, str] | None = None,
    unit_text: str = "",
    config: Config | None = None,
) -> list[ServiceSecret]:
    """Where each needed secret lives, as a service would see it (the shell does not count).

    Without `config` the file is read here; a broken one counts as defaults, since `doctor`
    reports it in its own check. `daemon install` passes the config it has validated.
    """
    environ = os.environ if environ is None else environ
    env_file = read_env_file(env_file_path()) if env_file is None else env_file
    if config is None:
        try:
            config = stored_config()
        except ConfigError:
            config = Config()
    stored = config
    secrets = []
    for name, label in needed_secrets(stored):
        if name == API_KEY_ENV and stored.api_key():
            where: Where = "config"
        elif env_file.get(name):
            where = "env file"
        elif f"{name}=" in unit_text or "EnvironmentFile=" in unit_text:  # set by hand in the unit
            where = "unit file"
        elif environ.get(name):
            where = "shell only"
        else:
            where = "missing"
        secrets.append(ServiceSecret(name, label, where))
    return secrets


def describe_gap(secrets: list[ServiceSecret]) -> str:
    """`AIMLAPI_API_KEY (AI/ML API key) is set only in this shell; ...` for the unreachable ones."""
    parts = []
    for secret in secrets:
        if secret.where == "shell only":
            parts.append(f"{secret.env_name} ({secret.label}) is set only in this shell")
        elif secret.where == "missing":
            parts.append(f"{secret.env_name} ({secret.label}) is not set")
    return "; ".join(parts)
