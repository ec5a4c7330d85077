"""The configuration: pydantic models over `config.toml`, plus environment overrides.

Read from `$AGENTBOX_CONFIG`, else `$AGENTBOX_HOME/config.toml`; a missing file means
defaults. Every error names the file, the key path and the problem (`ConfigError`).
Environment variables override the file: `AIMLAPI_API_KEY`, `AIMLAPI_BASE_URL`.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator

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
    """`[agents.<name>.memory]`: how much history a turn carries before older messages are summarized,
    and the long-term memory that outlasts sessions (scopes, recall budget, size cap; docs/memory.md)."""

    token_budget: Annotated[int, Field(ge=500)] = 12_000
    keep_recent_messages: Annotated[int, Field(ge=2)] = 8
    summary_model: str | None = None  # default: the agent's model
    enabled: bool = True  # long-term memory: remember/recall/forget tools, recall per turn, facts kept at compaction
    scope: Literal["sender", "chat", "agent"] = "sender"  # whose memory a turn reads and writes by default
    recall_budget: Annotated[int, Field(ge=0, le=100_000)] = 1500  # bytes of recalled memory per turn; 0: none
    max_items_per_scope: Annotated[int, Field(ge=1)] = 1000  # then the oldest unpinned memories are evicted


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
    fallbacks: list[str] = []  # tried in order when `model` fails (after its retries; at once for 404/unsupported)
    fallback_notice: Literal["short", "off"] = "short"  # tell the user when a fallback answered
    mcp: list[str] = []  # the [mcp.servers.<name>] this agent may use; none unless listed
    max_tool_result_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024  # longer tool results are cut (with a note)
    memory: MemoryConfig = MemoryConfig()

    def model_choices(self) -> list[str]:
        """The models a chat may use (`/model`): this agent's model first, then its fallbacks and `allowed_models`."""
        models = [self.model, *self.fallbacks, *self.allowed_models]
        return list(dict.fromkeys(bare_model_id(model) for model in models))

    def model_chain(self, first: str | None = None) -> list[str]:
        """The models a turn tries in order: `first` (default: `model`), then the fallbacks not already in it."""
        return list(dict.fromkeys(bare_model_id(model) for model in [first or self.model, *self.fallbacks]))


def bare_model_id(model_id: str) -> str:
    """OpenClaw-style ids (`aimlapi/…`) are accepted, as in the config; the API wants no prefix."""
    return model_id.strip().removeprefix("aimlapi/")


class VisionConfig(Section):
    """`[vision]`: which inbound images reach a model (size and type limits, checked before any call)."""

    max_image_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    allowed_types: list[str] = ["image/png", "image/jpeg", "image/gif", "image/webp"]


class VoiceConfig(Section):
    """`[voice]`: voice notes in (speech-to-text) and spoken answers out (text-to-speech), both through the
    AI/ML API: models, voice, limits checked before any download or call, and how long answers are spoken."""

    enabled: bool = True  # off: voice notes and audio get a polite "send text" and nothing is downloaded
    stt_model: str = "openai/gpt-4o-mini-transcribe"
    language: str | None = None  # BCP-47 hint such as "en" or "de"; unset: detected from the audio
    echo_transcript: bool = True  # the reply starts with an italic quote of what was heard
    max_audio_bytes: Annotated[int, Field(ge=1024)] = 20 * 1024 * 1024
    max_duration_seconds: Annotated[float, Field(gt=0)] = 600.0
    stt_timeout: Annotated[float, Field(gt=0)] = 120.0  # give up waiting for a transcript after this
    stt_poll_interval: Annotated[float, Field(gt=0)] = 1.0
    tts_model: str = "openai/gpt-4o-mini-tts"
    voice: str = "alloy"
    speed: Annotated[float, Field(ge=0.25, le=4.0)] = 1.0
    max_spoken_chars: Annotated[int, Field(ge=100, le=4096)] = 1000  # longer answers: see long_replies
    long_replies: Literal["truncate", "summary"] = "truncate"
    stt_usd_per_minute: Annotated[float, Field(ge=0)] = 0.003  # estimates when the API reports no cost
    tts_usd_per_million_chars: Annotated[float, Field(ge=0)] = 15.0


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
    outbox_retry_initial: Annotated[float, Field(gt=0, le=60)] = 2.0  # first retry after a failed send; doubles to 60 s


class ApiConfig(Section):
    """`[api]`: the OpenAI-compatible endpoint on the gateway's port (`/v1/chat/completions`, `/v1/models`)."""

    enabled: bool = True
    max_body_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024 * 1024  # images travel inside the JSON body
    public_url: str | None = None  # base of the /media links in answers; default: the address the client used

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else None


HOOK_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
DEFAULT_HOOK_TEMPLATE = "Webhook {{hook.name}} received:\n{{payload}}"


class HookConfig(Section):
    """`[[hooks]]`: one signed webhook, `POST /hooks/<name>`: who signs it, what it becomes, where it goes."""

    name: Annotated[str, Field(pattern=HOOK_NAME)]
    secret_env: str  # the env var holding the HMAC-SHA256 secret the sender signs with
    agent: str = "main"
    deliver_to: str = "none"  # "CHANNEL:CHAT[:THREAD]", or "none" to only run
    template: str = DEFAULT_HOOK_TEMPLATE  # {{payload.a.b}}, {{headers.X-Name}}, {{hook.name}}
    kind: Literal["task", "notify"] = "task"  # task: a turn of the agent; notify: the text as it is
    rate_limit_per_minute: Annotated[int, Field(ge=1)] = 60
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024

    @field_validator("deliver_to")
    @classmethod
    def _address(cls, value: str) -> str:
        from agentbox.channels import CHANNEL_NAMES

        if value == "none":
            return value
        channel, _, rest = value.partition(":")
        if channel not in CHANNEL_NAMES or not rest.split(":", 1)[0]:
            raise ValueError(f'use "CHANNEL:CHAT[:THREAD]" with a channel of {", ".join(CHANNEL_NAMES)}, or "none"')
        return value

    @field_validator("template")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        from agentbox.hooks.template import check_template

        check_template(value)  # a ValueError names the placeholder
        return value


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
    max_prompt_chars: Annotated[int, Field(ge=500)] = 4000  # the skills section of the system prompt
    http_timeout: Annotated[float, Field(gt=0)] = 30.0  # the http_request tool, per request
    http_max_response_bytes: Annotated[int, Field(ge=1024)] = 256 * 1024


MCP_SERVER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# Inline values under these names are secrets: they must come from the environment (`env_from`, `headers_from`).
_SECRET_NAME = re.compile(r"token|secret|password|passwd|api[_-]?key|credential|authorization|cookie", re.IGNORECASE)


class McpServerConfig(Section):
    """`[mcp.servers.<name>]`: one MCP server, started as a local process (`command`) or reached by URL (`url`).

    Secrets never sit in the file: `env_from` / `headers_from` name the environment variables that hold them.
    """

    command: str | None = None  # stdio: the program to start, e.g. "npx"
    args: list[str] = []
    env: dict[str, str] = {}  # non-secret settings for the process (it gets only these, PATH/HOME/... and env_from)
    env_from: dict[str, str] = {}  # {VAR_THE_SERVER_READS = "ENV_VAR_AGENTBOX_READS"}
    cwd: str | None = None
    url: str | None = None  # streamable HTTP (or SSE when the path ends in /sse)
    headers: dict[str, str] = {}  # non-secret headers
    headers_from: dict[str, str] = {}  # {Header-Name = "ENV_VAR_AGENTBOX_READS"}, e.g. a whole "Bearer ..." value
    enabled: bool = True
    timeout: Annotated[float, Field(gt=0)] = 30.0  # seconds for each tool call
    start_timeout: Annotated[float, Field(gt=0)] = 60.0  # seconds to start (a first `npx -y` downloads)
    include_tools: list[str] | None = None  # only these tools (the server's names); unset: all
    exclude_tools: list[str] = []

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("env", "headers")
    @classmethod
    def _no_inline_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if _SECRET_NAME.search(name):
                raise ValueError(
                    f"{name!r} looks like a secret: name the env var that holds it in env_from/headers_from"
                )
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("set either command (a local process) or url (an HTTP server), not both")
        if self.url is not None and (self.args or self.env or self.env_from or self.cwd):
            raise ValueError("args, env, env_from and cwd are for command servers; a url server takes headers")
        if self.command is not None and (self.headers or self.headers_from):
            raise ValueError("headers and headers_from are for url servers; a command server takes env")
        return self

    def secret_env_names(self) -> list[str]:
        return [*self.env_from.values(), *self.headers_from.values()]


class McpConfig(Section):
    """`[mcp]`: MCP servers whose tools agents may use (`[agents.<name>] mcp = [...]`), and their prompt budget."""

    servers: dict[str, McpServerConfig] = {}
    # Every tool schema of an agent's servers goes in each request while they fit this many characters
    # together; past it, a server's tools are listed by name and loaded on demand (tool search).
    schema_budget_chars: Annotated[int, Field(ge=0)] = 8_000
    max_prompt_chars: Annotated[int, Field(ge=200)] = 4_000  # the list of on-demand tools in the instructions

    @field_validator("servers")
    @classmethod
    def _names(cls, servers: dict[str, McpServerConfig]) -> dict[str, McpServerConfig]:
        for name in servers:
            if not MCP_SERVER_NAME.match(name):
                raise ValueError(f"server name {name!r}: use a-z, 0-9, - and _ (it prefixes the tool names)")
        return servers


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


def _seconds(value: Any) -> Any:
    """A duration key takes seconds (3600) or a duration string ("1h", "30m", "1d")."""
    if isinstance(value, str):
        from agentbox.schedules.timing import parse_duration

        duration = parse_duration(value)
        if duration is None:
            raise ValueError("must be a number of seconds or a duration such as 30m, 1h, 1d")
        return float(duration.approx_seconds)
    return value


Seconds = Annotated[float, BeforeValidator(_seconds)]


class SchedulesConfig(Section):
    """`[schedules]`: reminders and scheduled tasks: catch-up after downtime, limits, and which kinds chats may make."""

    enabled: bool = True  # the schedule tools, /reminders and /cancel; false: none of them
    catch_up: Annotated[Seconds, Field(ge=0)] = 3600.0  # runs missed while down are still delivered this late
    max_active_per_sender: Annotated[int, Field(ge=1)] = 20
    min_repeat_interval: Annotated[Seconds, Field(ge=1)] = 300.0
    kind: Literal["auto", "reminder", "task"] = "auto"  # auto: the model picks; else every chat schedule is this
    pause_after_failures: Annotated[int, Field(ge=1)] = 3  # a task failing this often in a row is paused


class Config(Section):
    """The whole `config.toml`, validated: one attribute per table, plus the paths derived from `AGENTBOX_HOME`."""

    aimlapi: AimlapiConfig = AimlapiConfig()
    agents: dict[str, AgentConfig] = {"main": AgentConfig()}
    vision: VisionConfig = VisionConfig()
    voice: VoiceConfig = VoiceConfig()
    channels: ChannelsConfig = ChannelsConfig()
    bindings: list[Binding] = []
    gateway: GatewayConfig = GatewayConfig()
    web: WebConfig = WebConfig()
    skills: SkillsConfig = SkillsConfig()
    limits: LimitsConfig = LimitsConfig()
    logging: LoggingConfig = LoggingConfig()
    storage: StorageConfig = StorageConfig()
    mcp: McpConfig = McpConfig()
    api: ApiConfig = ApiConfig()
    hooks: list[HookConfig] = []
    schedules: SchedulesConfig = SchedulesConfig()

    # Set by `load_config`, not by the file.
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("agents")
    @classmethod
    def _has_main(cls, agents: dict[str, AgentConfig]) -> dict[str, AgentConfig]:
        agents.setdefault("main", AgentConfig())
        return agents

    @model_validator(mode="after")
    def _known_mcp_servers(self) -> Config:
        for agent_id, agent in self.agents.items():
            unknown = [name for name in agent.mcp if name not in self.mcp.servers]
            if unknown:
                known = ", ".join(sorted(self.mcp.servers)) or "none"
                raise ValueError(f"agents.{agent_id}.mcp: no [mcp.servers.{unknown[0]}] (servers: {known})")
        return self

    @model_validator(mode="after")
    def _hooks_are_distinct_and_answerable(self) -> Config:
        names = [hook.name for hook in self.hooks]
        if duplicate := next((name for name in names if names.count(name) > 1), None):
            raise ValueError(f"hooks: two hooks are named {duplicate!r}")
        for hook in self.hooks:
            if hook.agent not in self.agents:
                raise ValueError(f"hooks: {hook.name!r} names agent {hook.agent!r}; agents: {', '.join(self.agents)}")
            if hook.kind == "notify" and hook.deliver_to == "none":
                raise ValueError(f'hooks: {hook.name!r} is kind "notify" but delivers to "none": nothing would happen')
        return self

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


def _may_hold_secrets(key: str) -> bool:
    """Keys whose rejected value is not echoed back: the API key, MCP tables (env, headers), the whole file."""
    return key.endswith("api_key") or key.split(".")[0] in ("mcp", "(top level)")


def _format_validation_error(path: Path, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = _key_path(item["loc"])
        if item["type"] == "extra_forbidden":
            problem = _unknown_key(item["loc"])
        else:
            problem = item["msg"]
            if "input" in item and item["type"] not in ("missing",) and not _may_hold_secrets(key):
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
