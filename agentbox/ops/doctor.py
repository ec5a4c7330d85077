"""`agentbox doctor`: every check returns a `Check` with a fix for anything wrong.

Synchronous and free of pydantic-ai: it must work when everything else is broken. Secret values
never enter a `Check` (only `mask()`ed forms); the CLI also runs its output through the redactor.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from agentbox import paths
from agentbox.channels import enabled_channels
from agentbox.config import Config, ConfigError, apply_env, load_config
from agentbox.envfile import env_file_path
from agentbox.gateway.diskfull import PRUNE_HINT
from agentbox.keysource import api_key_source
from agentbox.ops.dbhealth import broken_database_fix
from agentbox.store.schema import SCHEMA_VERSION
from agentbox.tokens import mask

Status = Literal["ok", "warn", "fail"]
MIN_FREE_BYTES = 100 * 1024 * 1024  # below this SQLite writes and log rotation start failing
LOW_FREE_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Check:
    """One `agentbox doctor` finding: what was checked, ok/warn/fail, what was found, and how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return asdict(self)


def check_config() -> tuple[Config, Check]:
    """The config, or (when it is broken) the defaults plus the environment, so other checks still run."""
    path = paths.config_path()
    try:
        config = load_config()
    except ConfigError as exc:
        try:
            fallback = apply_env(Config(), os.environ)
        except ConfigError:
            fallback = Config()
        return fallback, Check(
            "config", "fail", str(exc), f"edit {path} at the key named above (every key: config.example.toml)"
        )
    where = str(path) if path.exists() else f"{path} (absent: defaults in use)"
    fix = None if path.exists() else "run `agentbox onboard` to create it"
    return config, Check("config", "ok" if path.exists() else "warn", f"valid: {where}", fix)


def check_api_key(config: Config, *, config_ok: bool = True) -> Check:
    key = config.api_key()
    if not key and not config_ok:
        return Check(
            "api key",
            "warn",
            "not in AIMLAPI_API_KEY; whether config.toml holds one is unknown until the config is fixed",
            "fix the config first (see `config`)",
        )
    if not key:
        return Check(
            "api key",
            "fail",
            "no AI/ML API key in AIMLAPI_API_KEY or [aimlapi] api_key",
            "export AIMLAPI_API_KEY=... (https://aimlapi.com/app/keys) or `agentbox onboard --api-key ...`",
        )
    return Check("api key", "ok", f"{mask(key)} from {api_key_source()}")


def check_api_online(config: Config, *, timeout: float = 10.0) -> Check:
    """One cheap authenticated call: GET /v2/billing (no model call, costs nothing)."""
    import httpx

    from agentbox.aimlapi import api_root

    key = config.api_key()
    if not key:
        return Check("api online", "fail", "skipped: no API key", "set the key first (see `api key`)")
    headers = {"Authorization": f"Bearer {key}"}
    billing = api_root(config.aimlapi.base_url) + "/v2/billing"
    try:
        with httpx.Client(timeout=timeout, headers=headers) as client:
            response = client.get(billing)
            if response.status_code in (404, 405):  # an OpenAI-compatible server without billing
                models = client.get(config.aimlapi.base_url + "/models")
                if models.status_code == 200:
                    return Check(
                        "api online",
                        "warn",
                        f"{config.aimlapi.base_url} answers, but has no billing endpoint: the key was not verified",
                        "a model call (`agentbox agent -m hi`) verifies the key",
                    )
                response = models
    except httpx.HTTPError as exc:
        return Check(
            "api online",
            "fail",
            f"cannot reach {config.aimlapi.base_url}: {type(exc).__name__}",
            "check the network, a proxy, or AIMLAPI_BASE_URL",
        )
    if response.status_code == 200:
        balance = ""
        try:
            body = response.json()
            if isinstance(body, dict) and "current_balance" in body:
                balance = f"; balance {body['current_balance']} {body.get('currency', '')}".rstrip()
        except ValueError:
            pass
        return Check("api online", "ok", f"key accepted by {config.aimlapi.base_url}{balance}")
    if response.status_code == 401:
        return Check(
            "api online",
            "fail",
            f"the API rejected the key (401) from {api_key_source()}",
            "fix it there, or create a new key at https://aimlapi.com/app/keys",
        )
    if response.status_code == 403:
        return Check(
            "api online",
            "fail",
            "the API refused the key (403: out of credits or a key limit)",
            "top up at https://aimlapi.com/app/billing or check the key's limits",
        )
    return Check(
        "api online",
        "fail",
        f"unexpected answer {response.status_code} from {response.url.host}",
        "retry later; if it persists check AIMLAPI_BASE_URL",
    )


def check_tokens(config: Config) -> list[Check]:
    checks = []
    for channel in enabled_channels(config):
        for spec in channel.token_specs(config):
            value = os.environ.get(spec.env_name, "").strip()
            name = f"{channel.name} {spec.label}"
            if not value:
                if spec.required:
                    checks.append(
                        Check(
                            name,
                            "fail",
                            f"{spec.env_name} is not set",
                            f"`agentbox onboard --enable {channel.name}` with the token, or export {spec.env_name}",
                        )
                    )
                continue
            if not spec.shape.match(value):
                checks.append(
                    Check(
                        name,
                        "fail",
                        f"{spec.env_name} is malformed ({mask(value)}; expected {spec.shape_hint})",
                        f"copy the {spec.label} again from {spec.source}",
                    )
                )
            else:
                checks.append(Check(name, "ok", f"{spec.env_name} {mask(value)}"))
    if not checks:
        checks.append(
            Check(
                "channels",
                "warn",
                "no channel enabled: only `agentbox chat`/`agent` will answer",
                "`agentbox onboard --enable telegram --telegram-token ...`",
            )
        )
    return checks


def check_database(config: Config) -> Check:
    path = config.database_path
    if not path.exists():
        return Check("database", "ok", f"{path} not created yet (first run creates it)")
    fix = broken_database_fix(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return Check("database", "fail", f"{path}: {exc}", fix)
    if result != ["ok"]:
        return Check("database", "fail", f"{path}: integrity check: {'; '.join(result[:3])}", fix)
    if version > SCHEMA_VERSION:
        return Check(
            "database",
            "fail",
            f"{path}: schema {version} is newer than this agentbox ({SCHEMA_VERSION})",
            "upgrade agentbox (pip install -U agentbox)",
        )
    if version < SCHEMA_VERSION:
        return Check("database", "ok", f"{path}: intact, schema {version} (migrates to {SCHEMA_VERSION} on next start)")
    return Check("database", "ok", f"{path}: intact, schema {version}")


def check_permissions(config: Config) -> list[Check]:
    """Secrets and conversations must be readable by the owner only."""
    candidates = [
        paths.config_path(),
        env_file_path(),
        config.database_path,
        config.database_path.with_name(config.database_path.name + "-wal"),
        paths.home() / "gateway.token",
    ]
    checks = []
    home = paths.home()
    if home.exists() and stat.S_IMODE(home.stat().st_mode) & 0o077:
        checks.append(
            Check("permissions", "fail", f"{home} is accessible by others ({_mode(home)})", f"chmod 700 {home}")
        )
    for path in candidates:
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            checks.append(
                Check("permissions", "fail", f"{path} is readable by others ({_mode(path)})", f"chmod 600 {path}")
            )
    return checks or [Check("permissions", "ok", "config, tokens and database are owner-only")]


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


def check_disk(config: Config) -> Check:
    target = config.home if config.home.exists() else config.home.parent
    while not target.exists():
        target = target.parent
    free = shutil.disk_usage(target).free
    text = f"{free / 1024**3:.1f} GiB free on the disk of {target}{_database_size(config)}"
    if free < MIN_FREE_BYTES:
        return Check(
            "disk",
            "fail",
            text + "; agentbox cannot record messages when it is full (they wait, and are retried)",
            f"free some space on that disk; {PRUNE_HINT}",
        )
    if free < LOW_FREE_BYTES:
        return Check("disk", "warn", text, f"free some space soon; {PRUNE_HINT}")
    return Check("disk", "ok", text)


def _database_size(config: Config) -> str:
    files = [config.database_path, config.database_path.with_name(config.database_path.name + "-wal")]
    size = sum(path.stat().st_size for path in files if path.exists())
    return f" (database {size / 1_048_576:.1f} MB)" if size else ""


def check_skills(config: Config) -> list[Check]:
    """Skills some agent enables that this machine cannot run yet, each with the command that fixes it."""
    from agentbox.skillkit.registry import SkillRegistry  # reads SKILL.md files only; no skill code runs

    registry = SkillRegistry(config)
    unmet: dict[tuple[str, str | None], list[str]] = {}  # one check per cause: a missing key idles four skills
    for skill in registry.skills().values():
        if skill.status == "unavailable" and any(registry.is_enabled(agent, skill.name) for agent in config.agents):
            unmet.setdefault((skill.reason or "", skill.fix), []).append(skill.name)
    checks = [
        Check(f"skill{'s' if len(names) > 1 else ''} {', '.join(names)}", "warn", f"unavailable: {reason}", fix)
        for (reason, fix), names in unmet.items()
    ]
    return checks or [Check("skills", "ok", "every enabled skill can run here")]


def run_checks(*, online: bool = False) -> list[Check]:
    """Every check; with a broken config, the ones that depend on it are skipped, the rest still run."""
    from agentbox.ops.doctor_online import check_channels_online, check_gateway_port
    from agentbox.ops.doctor_service import check_service

    config, config_check = check_config()
    config_ok = config_check.status != "fail"
    checks = [config_check, check_api_key(config, config_ok=config_ok)]
    if online:
        checks.append(check_api_online(config))
    if config_ok:
        checks += check_tokens(config)
        if online:
            checks += check_channels_online(config)
            checks.append(check_gateway_port(config))
    else:
        checks.append(Check("channels", "warn", "not checked: the config is broken (see `config`)"))
    checks.append(check_database(config))
    checks += check_permissions(config)
    checks += check_skills(config)
    checks += check_service()
    checks.append(check_disk(config))
    return checks
