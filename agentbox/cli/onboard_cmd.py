"""`agentbox onboard`: the first-run wizard; every answer is also a flag (`--non-interactive`)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from agentbox.channels import CHANNELS, enabled_channels, get_channel
from agentbox.cli.common import fail
from agentbox.keysource import API_KEY_ENV
from agentbox.tokens import TokenSpec, mask

if TYPE_CHECKING:
    from agentbox.config import Config
    from agentbox.ops.onboarding import OnboardAnswers

DM_POLICIES = ("pairing", "allowlist", "open", "disabled")
TOKEN_FLAGS = {
    "telegram.bot token": "--telegram-token",
    "slack.bot token": "--slack-bot-token",
    "slack.app token": "--slack-app-token",
    "discord.bot token": "--discord-token",
}


def _current() -> Config:
    from agentbox.config import Config, ConfigError, load_config

    try:
        return load_config(env={})  # the file only: what is stored, not what the shell adds
    except ConfigError:
        return Config()


def _ask_api_key(answers: OnboardAnswers, current: Config) -> None:
    if os.environ.get(API_KEY_ENV):
        store = typer.confirm("AIMLAPI_API_KEY is set in your environment. Also store it in config.toml?", False)
        if store:
            answers.api_key = os.environ[API_KEY_ENV]
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
    for channel in CHANNELS:
        name, was = channel.name, channel.settings_in(current).enabled
        if not typer.confirm(f"Enable {name}?", default=was or name in answers.enable):
            if was:
                answers.disable.append(name)
            continue
        if name not in answers.enable:
            answers.enable.append(name)
        for spec in channel.token_specs(current):
            key = f"{name}.{spec.label}"
            if not spec.required or key in answers.tokens:
                continue
            if value := _ask_token(spec):
                answers.tokens[key] = value


def _ask_token(spec: TokenSpec) -> str | None:
    """Prompt until the token has the right shape; empty keeps what is set (or leaves it unset)."""
    have = os.environ.get(spec.env_name)
    hint = f" [{mask(have)} in {spec.env_name}; empty keeps it]" if have else f" ({spec.shape_hint}; empty skips)"
    while True:
        label = f"{spec.channel} {spec.label}{hint}"
        value = typer.prompt(label, default="", hide_input=True, show_default=False).strip()
        if not value:
            return None
        problem = spec.problem(value)
        if problem is None:
            return value
        typer.echo(f"  {problem}. Copy it again from {spec.source}, then paste it here.")


def _check_flag_tokens(tokens: dict[str, str], config: Config, *, force: bool) -> None:
    """A malformed token given as a flag stops onboarding (exit 2) before anything is written."""
    for key, value in tokens.items():
        channel, label = key.split(".", 1)
        spec = next(s for s in get_channel(channel).token_specs(config) if s.label == label)
        problem = spec.problem(value)
        if problem and not force:
            fail(
                f"{TOKEN_FLAGS[key]}: {problem}. Copy it again from {spec.source} (or add --force to store it as is)", 2
            )
        if problem:
            typer.echo(f"warning: {TOKEN_FLAGS[key]}: {problem}; stored anyway (--force)", err=True)


def _key_only_in_shell(config: Config) -> bool:
    from agentbox.envfile import read_env_file

    return bool(os.environ.get(API_KEY_ENV)) and not config.api_key() and not read_env_file().get(API_KEY_ENV)


def _offer_to_store_key(config: Config, *, store_key: bool, interactive: bool) -> None:
    """A key only exported in this shell is invisible to a service: save it to .env, or say exactly how."""
    from agentbox.envfile import env_file_path, update_env_file

    if not _key_only_in_shell(config):
        return
    if not store_key and interactive:
        typer.echo(f"{API_KEY_ENV} is set only in this shell; a service (`agentbox daemon install`) will not see it.")
        store_key = typer.confirm(f"Save it to {env_file_path()} (mode 0600)?", True)
    if store_key:
        update_env_file({API_KEY_ENV: os.environ[API_KEY_ENV]})
        typer.echo(f"Saved {API_KEY_ENV} to {env_file_path()} (mode 0600).")
    else:
        typer.echo(
            f"Note: {API_KEY_ENV} is set only in this shell. `agentbox gateway run` started here sees it; a service "
            f"does not. Re-run with --store-key (or `agentbox daemon install --store-key`) to save it to "
            f"{env_file_path()} (mode 0600)."
        )


def _check_flags(*, api_key: str | None, api_key_env_only: bool, dm_policy: str | None, store_key: bool) -> None:
    """Flags that contradict each other or name nothing stop onboarding (exit 2) before anything is asked."""
    if api_key and api_key_env_only:
        fail("--api-key and --api-key-env-only exclude each other", 2)
    if dm_policy and dm_policy not in DM_POLICIES:
        fail(f"--dm-policy must be one of {', '.join(DM_POLICIES)}", 2)
    if api_key and store_key:
        fail("--api-key stores the key in config.toml; --store-key saves the one exported in this shell to .env", 2)
    if store_key and not os.environ.get(API_KEY_ENV):
        fail(f"--store-key: {API_KEY_ENV} is not set in this shell (export it first, or use --api-key)", 2)


def _ask_the_rest(answers: OnboardAnswers) -> None:
    """The wizard: asks for every answer no flag gave, defaulting to what config.toml holds."""
    current = _current()
    typer.echo("agentbox setup — press Enter to keep the value in [brackets].\n")
    if not answers.api_key and not answers.api_key_env_only:
        _ask_api_key(answers, current)
    if not answers.model:
        answers.model = typer.prompt("Default model", default=current.agent().model)
    _ask_channels(answers, current)
    if not answers.dm_policy and (answers.enable or enabled_channels(current)):
        answers.dm_policy = typer.prompt(
            "Who may DM the bot? pairing (owner approves each new sender) | allowlist | open | disabled",
            default=CHANNELS[0].settings_in(current).dm_policy,
        )
        if answers.dm_policy not in DM_POLICIES:
            fail(f"DM policy must be one of {', '.join(DM_POLICIES)}", 2)


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
    store_key: Annotated[
        bool,
        typer.Option("--store-key", help="Save AIMLAPI_API_KEY from this shell to AGENTBOX_HOME/.env (0600)."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Store tokens even if they look malformed.")] = False,
) -> None:
    """Set up (or change) config.toml: API key, model, channels and their tokens, DM policy."""
    from agentbox.ops.onboarding import OnboardAnswers, onboard  # tomlkit only when onboarding

    _check_flags(api_key=api_key, api_key_env_only=api_key_env_only, dm_policy=dm_policy, store_key=store_key)
    tokens = {
        "telegram.bot token": telegram_token,
        "slack.bot token": slack_bot_token,
        "slack.app token": slack_app_token,
        "discord.bot token": discord_token,
    }
    _check_flag_tokens({k: v for k, v in tokens.items() if v}, _current(), force=force)
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
        _ask_the_rest(answers)
    result = onboard(answers)  # a ConfigError exits 2
    if result.env_path:
        typer.echo(f"Tokens saved to {result.env_path} (mode 0600): {', '.join(result.stored_tokens)}")
    _offer_to_store_key(result.config, store_key=store_key, interactive=interactive)
    _report(result.config, result.config_path, result.created)


def _report(config: Config, path: object, created: bool) -> None:
    from agentbox.envfile import read_env_file

    typer.echo(f"{'Created' if created else 'Updated'} {path}")
    if config.api_key():
        key_where = "config.toml"
    elif read_env_file().get(API_KEY_ENV):
        key_where = f"{API_KEY_ENV} in .env"
    elif os.environ.get(API_KEY_ENV):
        key_where = f"{API_KEY_ENV} (environment of this shell only)"
    else:
        key_where = f"missing: export {API_KEY_ENV}=... or re-run with --api-key"
    typer.echo(f"  API key: {key_where}")
    typer.echo(f"  model: {config.agent().model}")
    for channel in enabled_channels(config):
        specs = channel.token_specs(config)
        missing = [s.env_name for s in specs if s.required and not os.environ.get(s.env_name)]
        state = f"token missing in {', '.join(missing)}" if missing else "token set"
        typer.echo(f"  {channel.name}: enabled, dm_policy={channel.settings_in(config).dm_policy}, {state}")
    _next_steps(config)


def _next_steps(config: Config) -> None:
    enabled = [channel.name for channel in enabled_channels(config)]
    typer.echo("Next:")
    if not enabled:
        typer.echo("  `agentbox chat` to talk to the agent here; re-run with --enable telegram to add a chat app")
        typer.echo("  `agentbox doctor` checks everything")
        return
    typer.echo("  1. `agentbox gateway run` starts the gateway here (Ctrl-C stops it)")
    typer.echo(f"  2. message your bot on {' or '.join(enabled)}")
    if any(channel.settings_in(config).dm_policy == "pairing" for channel in enabled_channels(config)):
        channel = enabled[0] if len(enabled) == 1 else "<channel>"
        typer.echo(f"  3. it answers with a pairing code: approve it with `agentbox pairing approve {channel} <CODE>`")
    typer.echo(
        "  `agentbox doctor` checks everything; `agentbox daemon install` keeps the gateway running as a service"
    )
