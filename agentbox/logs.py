"""Logging: stderr plus a rotating file in `AGENTBOX_HOME/logs/`, one line per event, secrets masked.

- `setup_logging(config, verbose)` installs both handlers on the root logger (idempotent).
- `RedactingFilter` replaces every known secret value (API key, bot tokens, signing secret,
  gateway token, any `*_TOKEN`/`*_SECRET`/`*_API_KEY` env var) with `***` in the message, its
  arguments, exception and stack text. It sits on the handlers, so records from every library
  (httpx logs Telegram URLs, which carry the bot token) pass through it.
- A line about one conversation carries `session=` and `msg=` fields: pass
  `extra={"session": key, "message_id": id}` or use `session_logger(log, key, message_id)`.
  Lines without them show no empty fields.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import traceback
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any

from agentbox import paths
from agentbox.channels import CHANNELS
from agentbox.config import Config
from agentbox.envfile import env_reference
from agentbox.redaction import MIN_SECRET_LEN, Redactor, register_secrets, shared_redactor, strip_url_secrets

_SECRET_ENV = re.compile(r"(TOKEN|SECRET|API_KEY|PASSWORD)$")
# `[skills.config.<name>]` keys whose values are secrets (besides everything under its `env` table).
_SECRET_SETTING = re.compile(
    r"(api_?key|access_?key|private_?key|secret_?key|token|secret|password|passwd|credentials?)$", re.I
)
_HANDLER_TAG = "_agentbox_handler"
FORMAT = "%(asctime)s %(levelname)s %(name)s %(context)s%(message)s"
_CONTEXT_FIELDS = (("session", "session"), ("msg", "message_id"))  # (label in the line, record attribute)


def log_dir() -> Path:
    return paths.home() / "logs"


def log_file() -> Path:
    return log_dir() / "agentbox.log"


def secret_env_names(config: Config | None) -> list[str]:
    """Env var names that hold secrets, as the config names them."""
    names = ["AIMLAPI_API_KEY", "AGENTBOX_GATEWAY_TOKEN"]
    if config is not None:
        names += [token.env_name for channel in CHANNELS for token in channel.token_specs(config)]
        names += [name for server in config.mcp.servers.values() for name in server.secret_env_names()]
        names += [hook.secret_env for hook in config.hooks]
    return names


def collect_secrets(config: Config | None, environ: Mapping[str, str] | None = None) -> set[str]:
    """Every secret value agentbox may hold: from the config, the environment and `.env`."""
    from agentbox.envfile import read_env_file

    environ = os.environ if environ is None else environ
    sources = {**read_env_file(), **environ}
    named = set(secret_env_names(config))
    values = {v for k, v in sources.items() if k in named or _SECRET_ENV.search(k)}
    if config is not None and (key := config.api_key()):
        values.add(key)
    if config is not None:
        values.update(skill_config_secrets(config.skills.config))
    token_file = paths.home() / "gateway.token"
    try:
        values.add(token_file.read_text(encoding="utf-8").strip())
    except OSError:
        pass
    return {v for v in values if v and len(v) >= MIN_SECRET_LEN}


def skill_config_secrets(settings: Mapping[str, Any]) -> Iterator[str]:
    """String values under `[skills.config.<name>.env]` (not the names of env vars it refers to), and of
    secret-named keys (`api_key`, `token`...)."""
    for skill_settings in settings.values():
        if not isinstance(skill_settings, Mapping):
            continue
        for key, value in skill_settings.items():
            if key == "env" and isinstance(value, Mapping):
                yield from (item for item in value.values() if isinstance(item, str) and not env_reference(item))
            elif isinstance(value, str) and _SECRET_SETTING.search(str(key)):
                yield value


class RedactingFilter(logging.Filter):
    """Masks secrets (and URL queries and credentials) in the message, exception and stack text.

    It also fills the context fields. By default it uses the process-wide redactor of
    `agentbox.redaction`, so a secret registered anywhere later is masked in the log too.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or shared_redactor()

    def add_secret(self, *values: str) -> None:
        self.redactor.add(*values)

    def scrub(self, text: str) -> str:
        return self.redactor(strip_url_secrets(text))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        for _, name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            setattr(record, name, self.redactor(str(value)) if value not in (None, "", "-") else None)
        return True


class OneLineFormatter(logging.Formatter):
    """One line per event, tracebacks included: grep and `logs -f` stay readable."""

    def format(self, record: logging.LogRecord) -> str:
        record.context = context_fields(record)
        return super().format(record).replace("\r", "").replace("\n", " ⏎ ")


def context_fields(record: logging.LogRecord) -> str:
    """`session=… msg=… ` for the fields a record carries; empty when it carries none."""
    fields = [
        f"{label}={value}"
        for label, name in _CONTEXT_FIELDS
        if (value := getattr(record, name, None)) not in (None, "", "-")
    ]
    return " ".join(fields) + " " if fields else ""


class SessionLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Adds the session key and message id to every line it logs."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


def session_logger(logger: logging.Logger, session: str, message_id: str | None = None) -> SessionLogger:
    return SessionLogger(logger, {"session": session, "message_id": message_id})


_active_filter: RedactingFilter | None = None
# Libraries that log every HTTP request or SQL statement: WARNING and up unless -vv.
NOISY_LIBRARIES = ("httpx", "httpx2", "httpcore", "openai", "aiosqlite", "asyncio", "telegram", "hpack")


def _own_debug_only(record: logging.LogRecord) -> bool:
    """With `-v`: every agentbox line; from any library only warnings and up."""
    return record.levelno >= logging.WARNING or record.name == "agentbox" or record.name.startswith("agentbox.")


def redacting_filter() -> RedactingFilter | None:
    """The installed filter, so the gateway can register a secret it creates at run time."""
    return _active_filter


def setup_logging(
    config: Config | None,
    verbose: int = 0,
    *,
    stderr_level: int | None = None,
    to_file: bool = True,
) -> RedactingFilter:
    """Install the stderr and file handlers (replacing ours from an earlier call).

    stderr shows WARNING and up unless `verbose` (DEBUG) or `stderr_level` says otherwise (the
    gateway passes INFO so its service journal shows events); the file gets the config's level.
    `verbose` 1 (`-v`) is agentbox's own debug lines, libraries stay at WARNING; 2 (`-vv`) or
    AGENTBOX_DEBUG_ALL=1 adds the libraries' debug lines (every SQL statement, every HTTP request).
    """
    global _active_filter
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_TAG, False)]:
        root.removeHandler(handler)
        handler.close()
    file_level = logging.DEBUG if verbose else getattr(logging, config.logging.level if config else "INFO")
    err_level = logging.DEBUG if verbose else (stderr_level or logging.WARNING)
    register_secrets(*collect_secrets(config))
    redacting = RedactingFilter()
    formatter = OneLineFormatter(FORMAT)

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    handlers[0].setLevel(err_level)
    if to_file:
        try:
            paths.ensure_home()  # owner-only, before the logs dir would create it with the umask
            log_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
            _create_private(str(log_file()))
            os.chmod(log_file(), 0o600)  # a file loosened by hand is tightened again
            fh = logging.handlers.RotatingFileHandler(
                log_file(),
                maxBytes=config.logging.file_max_bytes if config else 5 * 1024 * 1024,
                backupCount=config.logging.file_backups if config else 5,
                encoding="utf-8",
            )
            fh.rotator = _rotate_private
            fh.setLevel(file_level)
            handlers.append(fh)
        except OSError as exc:  # a read-only home must not stop the command
            print(f"agentbox: cannot write {log_file()}: {exc}", file=sys.stderr)
    for handler in handlers:
        handler.addFilter(redacting)
        handler.setFormatter(formatter)
        setattr(handler, _HANDLER_TAG, True)
        root.addHandler(handler)
    root.setLevel(min(h.level for h in handlers))
    # Third-party chatter (every HTTP request, every SQL statement) only when asked for.
    libraries_debug = verbose >= 2 or os.environ.get("AGENTBOX_DEBUG_ALL", "") not in ("", "0")
    for noisy in NOISY_LIBRARIES:
        logging.getLogger(noisy).setLevel(logging.DEBUG if libraries_debug else logging.WARNING)
    if verbose and not libraries_debug:
        for handler in handlers:
            handler.addFilter(_own_debug_only)
    _install_excepthook(redacting.redactor)
    _active_filter = redacting
    return redacting


def _create_private(path: str) -> None:
    """Create the file owner-only if it is missing (the handler alone would create it with the umask)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))


def _rotate_private(source: str, dest: str) -> None:
    """The handler's rotation step, then the next log file created owner-only before it reopens it."""
    if os.path.exists(source):
        os.rename(source, dest)
    _create_private(source)


def _install_excepthook(redactor: Redactor) -> None:
    """Uncaught exceptions print outside logging; mask them too."""

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        sys.stderr.write(redactor("".join(traceback.format_exception(kind, value, tb))))

    sys.excepthook = hook
