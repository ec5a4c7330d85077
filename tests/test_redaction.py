"""Secrets never reach the model, the database or the log through a tool's result or error.

A real turn against the fake AI/ML API: the model calls skill tools that fail the way real ones do
(`raise_for_status()` on a URL carrying `?key=...`, an error naming a URL with `user:password@`)
or return their own secrets. Then the next model request, the database file's bytes and the log
file are searched for every secret value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentbox.redaction import MASK, Redactor, redact_tree, register_secrets, scrub_error, strip_url_secrets
from agentbox.turn.runner import TurnRequest
from tests.fakes.aimlapi import Reply, ToolCall
from tests.helpers import API_KEY, runtime_on
from tests.logkit import agentbox_logging
from tests.skills_helpers import requires, tool_outputs, write_skill

DECLARED = "owk-declared-env-secret-7c1d9e42"  # OPENWEATHER_KEY: a name no pattern would call secret
CONFIGURED = "cfg-skill-token-secret-3b8a0f51"  # [skills.config.weather] api_token
PASSWORD = "pw-in-userinfo-5e6f7a8b"


def query_secret(city: str) -> str:
    """A value agentbox is never told about (like a signed URL's signature): only URL stripping hides it."""
    return "sig-" + hashlib.sha256(city.encode()).hexdigest()[:24]


TOOLS = '''
from __future__ import annotations

import hashlib

import httpx
from pydantic_ai import RunContext

from agentbox.turn.deps import TurnDeps
from agentbox.skillkit import skill_config, skill_env


async def forecast(ctx: RunContext[TurnDeps], city: str) -> str:
    """Weather forecast for a city."""
    signature = "sig-" + hashlib.sha256(city.encode()).hexdigest()[:24]
    params = {"q": city, "appid": skill_env(ctx)["OPENWEATHER_KEY"], "key": signature}
    async with httpx.AsyncClient() as client:
        # The fake API answers 404 here: raise_for_status() names the whole URL, query included.
        response = await client.get(ctx.deps.config.aimlapi.base_url + "/weather", params=params)
        response.raise_for_status()
    return response.text


async def account(ctx: RunContext[TurnDeps]) -> str:
    """Account details of the weather service."""
    return f"user ada, token {skill_config(ctx)['api_token']}, key {skill_env(ctx)['OPENWEATHER_KEY']}"


async def archive(ctx: RunContext[TurnDeps], city: str) -> str:
    """Historical weather."""
    signature = "sig-" + hashlib.sha256(city.encode()).hexdigest()[:24]
    password = skill_config(ctx)["archive_password"]
    raise ConnectionError(f"cannot fetch https://ada:{password}@archive.example/{city}.csv?sig={signature}#top")
'''


@pytest.fixture
def logging_to_file(home: Path) -> Iterator[Path]:
    with agentbox_logging(home, f'[aimlapi]\napi_key = "{API_KEY}"\n') as path:
        yield path


def stored_bytes_and_log(home: Path, log: Path) -> tuple[bytes, str]:
    """The database files' raw bytes (WAL included) and the log text."""
    return b"".join(p.read_bytes() for p in home.glob("agentbox.db*")), log.read_text(encoding="utf-8")


async def test_tool_errors_and_results_carry_no_secret_to_model_database_or_log(
    fake_aimlapi, home: Path, logging_to_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENWEATHER_KEY", DECLARED)
    write_skill(home / "workspace" / "skills", "weather", metadata=requires(env=["OPENWEATHER_KEY"]), tools=TOOLS)
    config = (
        f'[aimlapi]\napi_key = "{API_KEY}"\n'
        f'[skills.config.weather]\napi_token = "{CONFIGURED}"\narchive_password = "{PASSWORD}"\n'
    )
    fake_aimlapi.script(
        Reply(
            tool_calls=[
                ToolCall("forecast", {"city": "Oslo"}),
                ToolCall("account", {}),
                ToolCall("archive", {"city": "Bergen"}),
            ]
        ),
        Reply(text="Sorry, the weather service is down."),
    )
    async with runtime_on(fake_aimlapi, home, config) as rt:
        result = await rt.runner.run(TurnRequest(session_key="t:redact", text="weather in Oslo?"))
    assert result.ok and result.reply == "Sorry, the weather service is down."

    secrets = [DECLARED, CONFIGURED, PASSWORD, query_secret("Oslo"), query_secret("Bergen"), API_KEY]
    forecast, account, archive = tool_outputs(fake_aimlapi.last_chat())
    # The model still learns what went wrong, and where.
    assert "HTTPStatusError" in forecast and "404" in forecast and "/v1/weather?…" in forecast
    assert account == f"user ada, token {MASK}, key {MASK}"
    assert "ConnectionError" in archive and "https://archive.example/Bergen.csv?…" in archive

    next_request = str(fake_aimlapi.chat_requests()[-1])
    database, log_text = stored_bytes_and_log(home, logging_to_file)
    assert "tool forecast failed" in log_text and "tool archive failed" in log_text  # the log did record them
    for secret in secrets:
        assert secret not in next_request, f"secret ending {secret[-4:]} reached the model"
        assert secret.encode() not in database, f"secret ending {secret[-4:]} was stored"
        assert secret not in log_text, f"secret ending {secret[-4:]} was logged"


def test_stored_history_text_is_masked() -> None:
    register_secrets("history-secret-1f2e3d4c")
    stored = redact_tree(
        {"parts": [{"content": "key history-secret-1f2e3d4c", "args": ["x", "history-secret-1f2e3d4c"]}]}
    )
    assert stored == {"parts": [{"content": f"key {MASK}", "args": ["x", MASK]}]}


# -- URL stripping, for any URL ------------------------------------------------------------

lowercase = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
hosts = st.one_of(
    st.lists(lowercase, min_size=1, max_size=3).map(lambda labels: ".".join([*labels, "example"])),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
)
# Secrets use characters no host or path below has, so finding one left over means a leak.
secret_values = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$'()*+,;=:@/?", min_size=8, max_size=40).map(
    lambda text: "S" + text
)


@given(
    scheme=st.sampled_from(["http", "https", "wss", "ftp"]),
    user=lowercase,
    password=st.none() | secret_values,
    host=hosts,
    port=st.none() | st.integers(1, 65535),
    path=st.lists(lowercase, max_size=4).map(lambda parts: "/" + "/".join(parts)),
    query=st.lists(st.tuples(lowercase, secret_values), max_size=4),
    fragment=st.none() | secret_values,
    before=st.sampled_from(["for url '", "GET ", "(", "", "see\n"]),
    after=st.sampled_from(["'", ".", ")", "", " failed", "\nnext line"]),
)
def test_url_stripping_keeps_host_and_path_and_drops_credentials_query_and_fragment(
    scheme: str,
    user: str,
    password: str | None,
    host: str,
    port: int | None,
    path: str,
    query: list[tuple[str, str]],
    fragment: str | None,
    before: str,
    after: str,
) -> None:
    userinfo = f"{user}:{quote(password, safe='')}@" if password else ""
    netloc = host + (f":{port}" if port else "")
    url = f"{scheme}://{userinfo}{netloc}{path}"
    url += f"?{urlencode(query)}" if query else ""
    url += f"#{fragment}" if fragment else ""
    text = f"error {before}{url}{after}"

    cleaned = strip_url_secrets(text)

    assert f"{scheme}://{netloc}{path}" in cleaned
    assert cleaned.startswith(f"error {before}")
    if not after.startswith(("'", ".", ")")):  # a trailing quote or dot may belong to the query
        assert cleaned.endswith(after)
    leftovers = [password, fragment, *(value for _, value in query), *(quote(v) for _, v in query)]
    for value in filter(None, leftovers):
        assert value not in cleaned and quote(value, safe="") not in cleaned


def test_scrub_error_strips_urls_then_masks_known_secrets() -> None:
    redactor = Redactor(["tok-en-known-123"])
    register_secrets("tok-en-known-123")
    text = "POST https://api.telegram.org/bottok-en-known-123/sendMessage?chat_id=42 answered 401"
    assert scrub_error(text) == f"POST https://api.telegram.org/bot{MASK}/sendMessage?… answered 401"
    assert redactor("a tok-en-known-123 b") == f"a {MASK} b"
    assert strip_url_secrets("no url here: key=value") == "no url here: key=value"
