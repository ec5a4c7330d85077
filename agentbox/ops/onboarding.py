"""What `agentbox onboard` does, minus the prompts: merge answers into config.toml and `.env`.

config.toml is edited with tomlkit, so a re-run keeps the user's other keys, comments and
order. Bot tokens go to `AGENTBOX_HOME/.env` (0600) under the env var names the config gives
(`token_env` ...), because the config schema holds only those names, never the tokens.
The API key goes in config.toml (`[aimlapi] api_key`) or, with `api_key_env_only`, nowhere:
the user keeps it in `AIMLAPI_API_KEY`. The result is validated before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit import TOMLDocument
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from agentbox import paths
from agentbox.channels import CHANNEL_NAMES, CHANNELS
from agentbox.config import Config, ConfigError, parse_config
from agentbox.envfile import env_file_path, update_env_file

HEADER = (
    "# agentbox configuration, written by `agentbox onboard` (re-run it to change these answers;\n"
    "# your own edits are kept). Every key: config.example.toml. Bot tokens live in .env beside this file.\n"
)


@dataclass(slots=True)
class OnboardAnswers:
    """What the user chose in `agentbox onboard` (or passed as flags); unset answers leave the config as it is."""

    api_key: str | None = None  # stored in config.toml
    api_key_env_only: bool = False  # keep the key out of config.toml (removes one stored earlier)
    model: str | None = None
    enable: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # "<channel>.<label>" → value, e.g. "slack.app token"
    dm_policy: str | None = None


@dataclass(slots=True)
class OnboardResult:
    """What `onboard` wrote: the validated config, where it and `.env` went, and which secrets were stored."""

    config: Config
    config_path: Path
    env_path: Path | None
    created: bool
    stored_api_key: bool
    stored_tokens: list[str]  # env var names written to .env


def _table(parent: Any, key: str, *, super_table: bool = False) -> Table:
    if key not in parent:
        parent[key] = tomlkit.table(is_super_table=super_table)
    item = parent[key]
    if not isinstance(item, Table):
        raise ConfigError(f"{key}: expected a table in config.toml")
    return item


def merge_answers(text: str, answers: OnboardAnswers) -> str:
    """The config text with the answers applied; everything else in it is kept as written."""
    doc = _parse_or_start(text)
    for name in [*answers.enable, *answers.disable]:
        if name not in CHANNEL_NAMES:
            raise ConfigError(f"unknown channel {name!r} (choose from {', '.join(CHANNEL_NAMES)})")

    if answers.api_key or answers.api_key_env_only:
        _apply_api_key(_table(doc, "aimlapi"), answers)
    if answers.model:
        _table(_table(doc, "agents", super_table=True), "main")["model"] = answers.model
    if answers.enable or answers.disable or answers.dm_policy:
        _apply_channels(_table(doc, "channels", super_table=True), answers)
    return tomlkit.dumps(doc)


def _parse_or_start(text: str) -> TOMLDocument:
    """The existing config as an editable document, or a new one that starts with HEADER."""
    try:
        doc = tomlkit.parse(text) if text.strip() else tomlkit.document()
    except TOMLKitError as exc:
        raise ConfigError(f"the existing config is not valid TOML ({exc}); fix or move it, then re-run") from None
    if not text.strip():
        for line in HEADER.strip().splitlines():
            doc.add(tomlkit.comment(line.removeprefix("# ")))
        doc.add(tomlkit.nl())
    return doc


def _apply_api_key(aimlapi: Table, answers: OnboardAnswers) -> None:
    if answers.api_key_env_only:
        aimlapi.pop("api_key", None)
    else:
        aimlapi["api_key"] = answers.api_key


def _apply_channels(channels: Table, answers: OnboardAnswers) -> None:
    """Enable and disable channels, then set the DM policy of every channel left enabled."""
    for name in answers.enable:
        _table(channels, name)["enabled"] = True
    for name in answers.disable:
        if name in channels:
            _table(channels, name)["enabled"] = False
    if answers.dm_policy:
        for name in CHANNEL_NAMES:
            if name in channels and _table(channels, name).get("enabled"):
                _table(channels, name)["dm_policy"] = answers.dm_policy


def onboard(answers: OnboardAnswers, config_path: Path | None = None) -> OnboardResult:
    """Validate, then write config.toml (owner-only, atomically) and the tokens to `.env`."""
    path = config_path or paths.config_path()
    created = not path.exists()
    old = "" if created else path.read_text(encoding="utf-8")
    new_text = merge_answers(old, answers)
    config = parse_config(new_text, source=path)  # raises ConfigError naming the key

    env_updates: dict[str, str] = {}
    for channel in CHANNELS:
        for spec in channel.token_specs(config):
            value = answers.tokens.get(f"{channel.name}.{spec.label}")
            if value:
                env_updates[spec.env_name] = value.strip()

    paths.ensure_home()
    if new_text != old or created:
        tmp = path.with_name(path.name + ".tmp")
        paths.write_private(tmp, new_text)  # 0600 from the first byte: it may hold the API key
        os.replace(tmp, path)
    env_path = update_env_file(env_updates, env_file_path()) if env_updates else None
    for name, value in env_updates.items():  # this process (and a gateway it starts) sees them now
        os.environ.setdefault(name, value)
    return OnboardResult(
        config=config,
        config_path=path,
        env_path=env_path,
        created=created,
        stored_api_key=bool(answers.api_key) and not answers.api_key_env_only,
        stored_tokens=sorted(env_updates),
    )
