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
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any

from agentbox import paths
from agentbox.config import Config

MASK = "***"
MIN_SECRET_LEN = 6  # shorter values would mask ordinary words
_SECRET_ENV = re.compile(r"(TOKEN|SECRET|API_KEY|PASSWORD)$")
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
        ch = config.channels
        names += [ch.telegram.token_env, ch.discord.token_env]
        names += [ch.slack.bot_token_env, ch.slack.app_token_env, ch.slack.signing_secret_env]
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
    token_file = paths.home() / "gateway.token"
    try:
        values.add(token_file.read_text(encoding="utf-8").strip())
    except OSError:
        pass
    return {v for v in values if v and len(v) >= MIN_SECRET_LEN}


class Redactor:
    """Replaces secret values in text; longest first so a secret containing another is fully masked."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_LEN)
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text


class RedactingFilter(logging.Filter):
    """Masks secrets in the rendered message, exception and stack text; also fills the context fields."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def add_secret(self, *values: str) -> None:
        self.redactor.add(*values)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
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


def redacting_filter() -> RedactingFilter | None:
    """The installed filter, so the gateway can register a secret it creates at run time."""
    return _active_filter


def setup_logging(
    config: Config | None,
    verbose: bool = False,
    *,
    stderr_level: int | None = None,
    to_file: bool = True,
) -> RedactingFilter:
    """Install the stderr and file handlers (replacing ours from an earlier call).

    stderr shows WARNING and up unless `verbose` (DEBUG) or `stderr_level` says otherwise (the
    gateway passes INFO so its service journal shows events); the file gets the config's level.
    """
    global _active_filter
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_TAG, False)]:
        root.removeHandler(handler)
        handler.close()
    file_level = logging.DEBUG if verbose else getattr(logging, config.logging.level if config else "INFO")
    err_level = logging.DEBUG if verbose else (stderr_level or logging.WARNING)
    redacting = RedactingFilter(Redactor(collect_secrets(config)))
    formatter = OneLineFormatter(FORMAT)

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    handlers[0].setLevel(err_level)
    if to_file:
        try:
            paths.ensure_home()  # owner-only, before the logs dir would create it with the umask
            log_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
            fh = logging.handlers.RotatingFileHandler(
                log_file(),
                maxBytes=config.logging.file_max_bytes if config else 5 * 1024 * 1024,
                backupCount=config.logging.file_backups if config else 5,
                encoding="utf-8",
            )
            os.chmod(log_file(), 0o600)
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
    # Third-party chatter (every HTTP request) only when asked for.
    for noisy in ("httpx", "httpx2", "httpcore", "openai", "aiosqlite", "asyncio", "telegram", "hpack"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    _install_excepthook(redacting.redactor)
    _active_filter = redacting
    return redacting


def _install_excepthook(redactor: Redactor) -> None:
    """Uncaught exceptions print outside logging; mask them too."""

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        sys.stderr.write(redactor("".join(traceback.format_exception(kind, value, tb))))

    sys.excepthook = hook
