"""The configuration: pydantic models over `config.toml`, plus environment overrides.

Read from `$AGENTBOX_CONFIG`, else `$AGENTBOX_HOME/config.toml`; a missing file means
defaults. Every error names the file, the key path and the problem (`ConfigError`).
Environment variables override the file: `AIMLAPI_API_KEY`, `AIMLAPI_BASE_URL`.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from agentbox import paths
from agentbox.channels import settings_model
from agentbox.configbase import ChannelConfig as ChannelConfig  # re-exported: the settings every channel has
from agentbox.configbase import ChannelsSection, Section
from agentbox.errors import AgentboxError

DEFAULT_BASE_URL = "https://api.aimlapi.com/v1"
# gpt-4o-mini: cheap, and the AI/ML API docs show it with both tool calling and image input.
DEFAULT_MODEL = "gpt-4o-mini"


class RetryConfig(Section):
    """`[aimlapi.retry]`: how model API requests are retried (attempts, time budget, backoff); see `agentbox.retry`."""

    attempts: Annotated[int, Field(ge=1, le=20)] = 4
    max_total_seconds: Annotated[float, Field(gt=0)] = 60.0
    initial_delay: Annotated[float, Field(ge=0)] = 1.0
    max_delay: Annotated[float, Field(gt=0)] = 20.0


class AimlapiConfig(Section):
    """`[aimlapi]`: the model endpoint (AI/ML API or any OpenAI-compatible server), its key and timeouts."""

    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    timeout: Annotated[float, Field(gt=0)] = 120.0
    connect_timeout: Annotated[float, Field(gt=0)] = 10.0
    retry: RetryConfig = RetryConfig()

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class MemoryConfig(Section):
    """`[agents.<name>.memory]`: how much history a turn carries before older messages are summarized."""

    token_budget: Annotated[int, Field(ge=500)] = 12_000
    keep_recent_messages: Annotated[int, Field(ge=2)] = 8
    summary_model: str | None = None  # default: the agent's model


class AgentConfig(Section):
    """`[agents.<name>]`: one agent: its model, persona, skills, answer limits and memory."""

    model: str = DEFAULT_MODEL
    instructions: str | None = None
    instructions_file: str | None = None  # relative to the workspace; default workspace/AGENTS.md
    timezone: str | None = None  # IANA name; default: the machine's
    max_tokens: Annotated[int, Field(ge=1)] = 4096
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    skills: list[str] | None = None  # None: every ready skill; a list: only these
    disabled_skills: list[str] = []
    allow_exec: bool = False  # lets the model run scripts inside skill folders
    allowed_models: list[str] = []  # besides `model`, what `/model` in a chat may switch to
    max_tool_result_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024  # longer tool results are cut (with a note)
    memory: MemoryConfig = MemoryConfig()

    def model_choices(self) -> list[str]:
        """The models a chat may use (`/model`): this agent's model first, then `allowed_models`."""
        return list(dict.fromkeys(bare_model_id(model) for model in [self.model, *self.allowed_models]))


def bare_model_id(model_id: str) -> str:
    """OpenClaw-style ids (`aimlapi/…`) are accepted, as in the config; the API wants no prefix."""
    return model_id.strip().removeprefix("aimlapi/")


class VisionConfig(Section):
    """`[vision]`: which inbound images reach a model (size and type limits, checked before any call)."""

    max_image_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    allowed_types: list[str] = ["image/png", "image/jpeg", "image/gif", "image/webp"]


if TYPE_CHECKING:
    ChannelsConfig = ChannelsSection  # what type checkers see: channels are reached through agentbox.channels
else:
    ChannelsConfig = settings_model()  # `[channels]`: a table per channel in the registry


class Binding(Section):
    """Route a channel (optionally one chat) to an agent other than the channel's default."""

    channel: str
    agent: str
    chat: str | None = None


class GatewayConfig(Section):
    """`[gateway]`: the daemon's local HTTP endpoint (health, status, CLI actions), shutdown grace,
    inbound message limits and batching, and how long undelivered replies are retried."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 18789
    allow_non_loopback: bool = False
    grace_period: Annotated[float, Field(ge=0)] = 20.0
    max_message_chars: Annotated[int, Field(ge=100)] = 20_000
    long_message: Literal["truncate", "refuse"] = "truncate"
    batch_queued: bool = True  # answer messages queued behind a busy session together
    outbox_max_age: Annotated[float, Field(gt=0)] = 86_400.0  # seconds an undelivered reply is retried


class WebConfig(Section):
    """`[web]`: the control panel the gateway serves on its port (`agentbox dashboard` prints a login link)."""

    enabled: bool = True
    # Host names (with or without :port) a browser may use besides the gateway's own address,
    # e.g. a reverse proxy's; any other Host header is refused (DNS rebinding).
    allowed_hosts: list[str] = []
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0  # a panel login lasts this long unused


class SkillsConfig(Section):
    """`[skills]`: where skills are found, how their scripts run, the models the bundled skills use, and
    per-skill settings."""

    workspace_dir: str | None = None  # default: AGENTBOX_HOME/workspace
    extra_dirs: list[str] = []
    exec_timeout: Annotated[float, Field(gt=0)] = 60.0
    exec_output_limit: Annotated[int, Field(ge=1024)] = 64 * 1024
    image_model: str = "flux/schnell"
    image_edit_model: str = "openai/gpt-image-1"
    video_model: str = "google/veo-3.1-t2v"
    video_poll_interval: Annotated[float, Field(gt=0)] = 10.0
    video_timeout: Annotated[float, Field(gt=0)] = 900.0
    search_model: str = "perplexity/sonar-pro"
    vision_model: str | None = None  # default: the agent's model
    allow_private_urls: bool = False
    chromium_path: str | None = None
    config: dict[str, dict[str, Any]] = {}  # per-skill settings, read by `requires.config`


class ModelPrice(Section):
    """A model's price in USD per million input and output tokens, used to cost a turn the API did not price."""

    input_per_mtok: Annotated[float, Field(ge=0)]
    output_per_mtok: Annotated[float, Field(ge=0)]


class LimitsConfig(Section):
    """`[limits]`: spending caps (per day, per sender per day, tokens per turn) and the prices that cost turns."""

    usd_per_day: Annotated[float, Field(gt=0)] | None = None
    usd_per_sender_per_day: Annotated[float, Field(gt=0)] | None = None
    tokens_per_turn: Annotated[int, Field(gt=0)] | None = None
    default_price: ModelPrice = ModelPrice(input_per_mtok=1.0, output_per_mtok=4.0)
    prices: dict[str, ModelPrice] = {}


class LoggingConfig(Section):
    """`[logging]`: the log level and the rotation of `AGENTBOX_HOME/logs/agentbox.log`."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file_max_bytes: Annotated[int, Field(ge=10_000)] = 5 * 1024 * 1024
    file_backups: Annotated[int, Field(ge=0)] = 5


class StorageConfig(Section):
    """`[storage]`: how long history, answered messages and media are kept in the database."""

    # Turns, sessions, answered inbox messages and media older than this are deleted (daily, by
    # the gateway); unset keeps everything. `agentbox sessions prune --older-than` does it by hand.
    retention_days: Annotated[int, Field(ge=1)] | None = None


class Config(Section):
    """The whole `config.toml`, validated: one attribute per table, plus the paths derived from `AGENTBOX_HOME`."""

    aimlapi: AimlapiConfig = AimlapiConfig()
    agents: dict[str, AgentConfig] = {"main": AgentConfig()}
    vision: VisionConfig = VisionConfig()
    channels: ChannelsConfig = ChannelsConfig()
    bindings: list[Binding] = []
    gateway: GatewayConfig = GatewayConfig()
    web: WebConfig = WebConfig()
    skills: SkillsConfig = SkillsConfig()
    limits: LimitsConfig = LimitsConfig()
    logging: LoggingConfig = LoggingConfig()
    storage: StorageConfig = StorageConfig()

    # Set by `load_config`, not by the file.
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("agents")
    @classmethod
    def _has_main(cls, agents: dict[str, AgentConfig]) -> dict[str, AgentConfig]:
        agents.setdefault("main", AgentConfig())
        return agents

    # -- derived ---------------------------------------------------------------
    @property
    def home(self) -> Path:
        return paths.home()

    @property
    def database_path(self) -> Path:
        return self.home / "agentbox.db"

    @property
    def workspace(self) -> Path:
        raw = self.skills.workspace_dir
        return Path(raw).expanduser() if raw else self.home / "workspace"

    def agent(self, agent_id: str = "main") -> AgentConfig:
        return self.agents.get(agent_id) or self.agents["main"]

    def api_key(self) -> str | None:
        secret = self.aimlapi.api_key
        return secret.get_secret_value() if secret else None


class ConfigError(AgentboxError):
    """A config problem, phrased for the user: file, key path, what is wrong."""

    exit_code = 2


class MissingApiKey(ConfigError):
    """No AI/ML API key in the environment or the config; the message says where to set one."""

    def __init__(self) -> None:
        super().__init__(
            "No AI/ML API key: set it with `export AIMLAPI_API_KEY=...` "
            "(get one at https://aimlapi.com/app/keys) or `api_key` under [aimlapi] in config.toml."
        )


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The config model that holds the key at `loc` (dict keys and list indexes are stepped over)."""
    model: Any = Config
    parts = list(loc)
    while parts:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(str(parts.pop(0)))
        if field is None:
            return None
        model = field.annotation
        while get_origin(model) in (dict, list, Union, UnionType):
            if get_origin(model) is dict:
                model, parts = get_args(model)[1], parts[1:]  # step over the user's own key
            elif get_origin(model) is list:
                model, parts = get_args(model)[0], parts[1:]  # step over the index
            else:
                model = next((arg for arg in get_args(model) if arg is not type(None)), None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    """`unknown key`, with the closest valid key at that place when one is close enough."""
    model = _model_at(loc[:-1])
    fields = [name for name in model.model_fields if name != "source"] if model else []
    close = difflib.get_close_matches(str(loc[-1]), fields, n=1, cutoff=0.6)
    return f"unknown key (did you mean {close[0]}?)" if close else "unknown key"


def _format_validation_error(path: Path, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = _key_path(item["loc"])
        if item["type"] == "extra_forbidden":
            problem = _unknown_key(item["loc"])
        else:
            problem = item["msg"]
            if "input" in item and item["type"] not in ("missing",) and not key.endswith("api_key"):
                problem += f" (got {item['input']!r})"
        lines.append(f"{path}: {key}: {problem}")
    return "\n".join(lines)


def parse_config(text: str, *, source: Path) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: TOML syntax error: {exc}") from None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(source, exc)) from None
    config.source = source
    return config


def load_config(path: Path | None = None, *, env: dict[str, str] | None = None) -> Config:
    """Load and validate the config file (defaults if it does not exist), then apply env overrides."""
    env = dict(os.environ) if env is None else env
    path = path or paths.config_path()
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
        config = parse_config(text, source=path)
    elif os.environ.get("AGENTBOX_CONFIG") and path == paths.config_path():
        raise ConfigError(f"{path}: file not found (named by AGENTBOX_CONFIG)")
    else:
        config = Config()
    return apply_env(config, env)


def apply_env(config: Config, env: Mapping[str, str]) -> Config:
    """The environment overrides the file: AIMLAPI_API_KEY, AIMLAPI_BASE_URL."""
    if key := env.get("AIMLAPI_API_KEY"):
        config.aimlapi.api_key = SecretStr(key)
    if base := env.get("AIMLAPI_BASE_URL"):
        try:
            config.aimlapi.base_url = base
        except ValidationError as exc:
            raise ConfigError(f"AIMLAPI_BASE_URL: {exc.errors()[0]['msg']} (got {base!r})") from None
    return config


def require_api_key(config: Config) -> str:
    key = config.api_key()
    if not key:
        raise MissingApiKey()
    return key
