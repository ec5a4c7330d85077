"""`agentbox onboard`: the first-run wizard; every answer is also a flag (`--non-interactive`)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from agentbox.cli.common import fail
from agentbox.tokens import CHANNELS, mask, token_specs

if TYPE_CHECKING:
    from agentbox.config import Config
    from agentbox.onboarding import OnboardAnswers

DM_POLICIES = ("pairing", "allowlist", "open", "disabled")


def _current() -> Config:
    from agentbox.config import Config, ConfigError, load_config

    try:
        return load_config(env={})  # the file only: what is stored, not what the shell adds
    except ConfigError:
        return Config()


def _ask_api_key(answers: OnboardAnswers, current: Config) -> None:
    if os.environ.get("AIMLAPI_API_KEY"):
        store = typer.confirm("AIMLAPI_API_KEY is set in your environment. Also store it in config.toml?", False)
        if store:
            answers.api_key = os.environ["AIMLAPI_API_KEY"]
        elif current.api_key():
            answers.api_key_env_only = typer.confirm("Remove the key stored in config.toml?", False)
        return
    if current.api_key():
        if typer.confirm("An API key is stored in config.toml. Keep it?", True):
            return
    typer.echo("Get a key at https://aimlapi.com/app/keys.")
    key = typer.prompt(
        "AI/ML API key (stored in config.toml, mode 0600; leave empty to use AIMLAPI_API_KEY instead)",
        default="",
        hide_input=True,
        show_default=False,
    ).strip()
    answers.api_key = key or None
    answers.api_key_env_only = not key


def _ask_channels(answers: OnboardAnswers, current: Config) -> None:
    for name in CHANNELS:
        was = getattr(current.channels, name).enabled
        if not typer.confirm(f"Enable {name}?", default=was or name in answers.enable):
            if was:
                answers.disable.append(name)
            continue
        if name not in answers.enable:
            answers.enable.append(name)
        for spec in token_specs(current, name):
            key = f"{name}.{spec.label}"
            if not spec.required or key in answers.tokens:
                continue
            have = os.environ.get(spec.env_name)
            hint = f" [{mask(have)} in {spec.env_name}; empty keeps it]" if have else f" ({spec.shape_hint})"
            value = typer.prompt(f"{name} {spec.label}{hint}", default="", hide_input=True, show_default=False).strip()
            if value:
                if not spec.shape.match(value):
                    typer.echo(f"  That does not look like a {name} {spec.label} ({spec.shape_hint}); stored anyway.")
                answers.tokens[key] = value


def onboard_command(
    non_interactive: Annotated[bool, typer.Option("--non-interactive", help="Ask nothing; use the flags.")] = False,
    api_key: Annotated[str | None, typer.Option("--api-key", help="Store this AI/ML API key in config.toml.")] = None,
    api_key_env_only: Annotated[
        bool, typer.Option("--api-key-env-only", help="Keep the key only in AIMLAPI_API_KEY (not in the config).")
    ] = False,
    model: Annotated[str | None, typer.Option("--model", help="Default model of the main agent.")] = None,
    enable: Annotated[list[str] | None, typer.Option("--enable", help="Enable a channel (repeatable).")] = None,
    disable: Annotated[list[str] | None, typer.Option("--disable", help="Disable a channel (repeatable).")] = None,
    telegram_token: Annotated[str | None, typer.Option("--telegram-token", help="Telegram bot token.")] = None,
    slack_bot_token: Annotated[str | None, typer.Option("--slack-bot-token", help="Slack xoxb- token.")] = None,
    slack_app_token: Annotated[str | None, typer.Option("--slack-app-token", help="Slack xapp- token.")] = None,
    discord_token: Annotated[str | None, typer.Option("--discord-token", help="Discord bot token.")] = None,
    dm_policy: Annotated[
        str | None, typer.Option("--dm-policy", help="pairing | allowlist | open | disabled (enabled channels).")
    ] = None,
) -> None:
    """Set up (or change) config.toml: API key, model, channels and their tokens, DM policy."""
    from agentbox.config import ConfigError  # the config models only when onboarding (not for --help)
    from agentbox.onboarding import OnboardAnswers, onboard  # tomlkit only when onboarding

    if api_key and api_key_env_only:
        fail("--api-key and --api-key-env-only exclude each other", 2)
    if dm_policy and dm_policy not in DM_POLICIES:
        fail(f"--dm-policy must be one of {', '.join(DM_POLICIES)}", 2)
    tokens = {
        "telegram.bot token": telegram_token,
        "slack.bot token": slack_bot_token,
        "slack.app token": slack_app_token,
        "discord.bot token": discord_token,
    }
    answers = OnboardAnswers(
        api_key=api_key,
        api_key_env_only=api_key_env_only,
        model=model,
        enable=list(enable or []),
        disable=list(disable or []),
        tokens={k: v for k, v in tokens.items() if v},
        dm_policy=dm_policy,
    )
    interactive = not non_interactive and sys.stdin.isatty()
    if interactive:
        current = _current()
        typer.echo("agentbox setup — press Enter to keep the value in [brackets].\n")
        if not api_key and not api_key_env_only:
            _ask_api_key(answers, current)
        if not model:
            answers.model = typer.prompt("Default model", default=current.agent().model)
        _ask_channels(answers, current)
        if not dm_policy and (answers.enable or any(getattr(current.channels, c).enabled for c in CHANNELS)):
            answers.dm_policy = typer.prompt(
                "Who may DM the bot? pairing (owner approves each new sender) | allowlist | open | disabled",
                default=current.channels.telegram.dm_policy,
            )
            if answers.dm_policy not in DM_POLICIES:
                fail(f"DM policy must be one of {', '.join(DM_POLICIES)}", 2)
    try:
        result = onboard(answers)
    except ConfigError as exc:
        fail(str(exc), 2)
    _report(result.config, result.config_path, result.created)
    if result.env_path:
        typer.echo(f"Tokens saved to {result.env_path} (mode 0600): {', '.join(result.stored_tokens)}")


def _report(config: Config, path: object, created: bool) -> None:
    typer.echo(f"{'Created' if created else 'Updated'} {path}")
    key_where = "config.toml" if config.api_key() else "AIMLAPI_API_KEY (environment)"
    if not config.api_key() and not os.environ.get("AIMLAPI_API_KEY"):
        key_where = "missing: export AIMLAPI_API_KEY=... or re-run with --api-key"
    typer.echo(f"  API key: {key_where}")
    typer.echo(f"  model: {config.agent().model}")
    for name in CHANNELS:
        channel = getattr(config.channels, name)
        if not channel.enabled:
            continue
        missing = [s.env_name for s in token_specs(config, name) if s.required and not os.environ.get(s.env_name)]
        state = f"token missing in {', '.join(missing)}" if missing else "token set"
        typer.echo(f"  {name}: enabled, dm_policy={channel.dm_policy}, {state}")
    typer.echo("Next: `agentbox doctor` checks everything; `agentbox daemon install` runs the gateway as a service.")
