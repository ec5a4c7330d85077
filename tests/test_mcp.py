"""MCP servers as agent tools: real servers (tests/mcpserver.py, the `mcp` SDK's server side) over stdio
and streamable HTTP, tool calls round-tripping through turns against the fake AI/ML API over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.aimlapi import Reply, ToolCall
from tests.helpers import runtime_on
from tests.mcpserver import alive, http_server, stdio_config

FAST = "[aimlapi.retry]\nattempts = 1\n"


def agent_with(*servers: str, agent: str = "main") -> str:
    names = ", ".join(f'"{name}"' for name in servers)
    return f"[agents.{agent}]\nmcp = [{names}]\n"


def tool_names(body: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in body.get("tools") or []]


def tool_results(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:  # noqa: ASYNC109
    """Await `check()` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        await asyncio.sleep(0.1)


async def turn(rt: Any, text: str, session: str = "s:1", agent: str = "main") -> Any:
    from agentbox.turn.runner import TurnRequest

    return await rt.runner.run(TurnRequest(session, text, agent_id=agent))


@pytest.mark.slow
async def test_a_stdio_tool_call_round_trips_through_a_turn(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("demo_add", {"a": 2, "b": 40})]), Reply(text="It is 42."))
    async with runtime_on(fake_aimlapi, home, FAST + stdio_config() + agent_with("demo")) as rt:
        server = rt.mcp.servers["demo"]
        assert server.state == "stopped"  # nothing starts before an agent needs it
        result = await turn(rt, "what is 2 + 40?")
        first, second = fake_aimlapi.chat_requests()
        assert server.state == "ready"
    assert result.ok and result.reply == "It is 42." and result.tool_calls == ["demo_add"]
    # a small server's schemas go in full: the model calls its tools with no detour
    add = next(t["function"] for t in first["tools"] if t["function"]["name"] == "demo_add")
    assert add["description"] == "Add two integers." and set(add["parameters"]["properties"]) == {"a", "b"}
    assert {"demo_echo_env", "demo_sleep", "current_time"} <= set(tool_names(first))
    assert "search_tools" not in tool_names(first)
    assert tool_results(second) == ["42"]


@pytest.mark.slow
async def test_only_agents_that_list_a_server_get_it(fake_aimlapi, home: Path) -> None:
    config = stdio_config() + agent_with("demo", agent="work")
    async with runtime_on(fake_aimlapi, home, config) as rt:
        await turn(rt, "hello")
        assert rt.mcp.servers["demo"].state == "stopped"
        await turn(rt, "hello", session="s:2", agent="work")
        assert rt.mcp.servers["demo"].state == "ready"
    main, work = fake_aimlapi.chat_requests()
    assert not [name for name in tool_names(main) if name.startswith("demo_")]
    assert "demo_add" in tool_names(work)


@pytest.mark.slow
async def test_env_from_reaches_the_server_and_is_masked_before_the_model_sees_it(
    fake_aimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "ghp_" + "Zq81x" * 8
    monkeypatch.setenv("TEST_GITHUB_TOKEN", secret)
    monkeypatch.setenv("UNRELATED_VAR", "not-for-the-server")
    extra = 'env = {GREETING = "bonjour"}\nenv_from = {GITHUB_TOKEN = "TEST_GITHUB_TOKEN"}'
    calls = [ToolCall("demo_echo_env", {"name": name}) for name in ("GITHUB_TOKEN", "GREETING", "UNRELATED_VAR")]
    fake_aimlapi.script(Reply(tool_calls=calls), Reply(text="done"))
    async with runtime_on(fake_aimlapi, home, stdio_config(extra=extra) + agent_with("demo")) as rt:
        result = await turn(rt, "check the environment")
        [stored] = await rt.store.sessions.history_turns("s:1")
    # the server got its setting and the secret (masked on the way back), and nothing else of ours
    assert tool_results(fake_aimlapi.last_chat()) == ["***", "bonjour", ""]
    assert result.ok and secret.encode() not in (stored.messages or b"")


async def test_streamable_http_with_headers_from(fake_aimlapi, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "mcp-test-" + "k3y" * 10
    monkeypatch.setenv("TEST_MCP_AUTH", f"Bearer {token}")
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("remote_add", {"a": 20, "b": 22})]), Reply(text="42"))
    with http_server(token=token) as url:
        config = f'[mcp.servers.remote]\nurl = "{url}"\nheaders_from = {{Authorization = "TEST_MCP_AUTH"}}\n'
        async with runtime_on(fake_aimlapi, home, config + agent_with("remote")) as rt:
            result = await turn(rt, "add them")
    assert result.ok and result.tool_calls == ["remote_add"]
    assert tool_results(fake_aimlapi.last_chat()) == ["42"]


@pytest.mark.slow
async def test_a_server_that_rejects_us_fails_alone_and_the_model_is_told(
    fake_aimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_MCP_AUTH", "Bearer wrong-token-0000")
    broken = stdio_config("broken", args=["--crash-on-start"])
    with http_server(token="the-right-token-1234") as url:
        remote = (
            f'[mcp.servers.remote]\nurl = "{url}"\nheaders_from = {{Authorization = "TEST_MCP_AUTH"}}\ntimeout = 10\n'
        )
        fake_aimlapi.script(Reply(tool_calls=[ToolCall("demo_add", {"a": 1, "b": 1})]), Reply(text="2"))
        config = FAST + stdio_config() + broken + remote + agent_with("demo", "broken", "remote")
        async with runtime_on(fake_aimlapi, home, config) as rt:
            result = await turn(rt, "one plus one")
            states = {name: server.status() for name, server in rt.mcp.servers.items()}
    assert result.ok and result.reply == "2"
    first = fake_aimlapi.chat_requests()[0]
    assert "demo_add" in tool_names(first)
    assert not [name for name in tool_names(first) if name.startswith(("broken_", "remote_"))]
    assert "MCP server broken is unavailable right now" in system_text(first)
    assert "MCP server remote is unavailable right now" in system_text(first)
    assert states["demo"].state == "ready" and states["broken"].state == "failed"
    assert states["remote"].state == "failed" and "wrong-token" not in (states["remote"].reason or "")


@pytest.mark.slow
async def test_a_server_dying_mid_call_fails_that_call_and_comes_back(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("demo_die", {})]),
        Reply(text="The tool broke."),
        Reply(tool_calls=[ToolCall("demo_add", {"a": 1, "b": 2})]),
        Reply(text="3"),
    )
    async with runtime_on(fake_aimlapi, home, FAST + stdio_config() + agent_with("demo")) as rt:
        server = rt.mcp.servers["demo"]
        broken = await turn(rt, "crash it")
        failed_call = tool_results(fake_aimlapi.chat_requests()[1])
        assert server.state == "failed"
        await eventually(server.ensure_ready)  # once its backoff has passed, the next use starts it again
        again = await turn(rt, "add", session="s:2")
    assert broken.ok and broken.reply == "The tool broke."
    assert "the MCP server demo failed" in failed_call[0]
    assert again.ok and tool_results(fake_aimlapi.last_chat()) == ["3"] and server.restarts == 1


@pytest.mark.slow
async def test_a_slow_tool_call_times_out_as_a_failed_call(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("demo_sleep", {"seconds": 60})]),
        Reply(text="too slow"),
        Reply(tool_calls=[ToolCall("demo_add", {"a": 1, "b": 2})]),
        Reply(text="3"),
    )
    async with runtime_on(fake_aimlapi, home, FAST + stdio_config(extra="timeout = 1.5") + agent_with("demo")) as rt:
        slow = await turn(rt, "wait a minute")
        timed_out = tool_results(fake_aimlapi.chat_requests()[1])
        fast = await turn(rt, "add", session="s:2")
    assert slow.ok and "did not answer within 1.5 s" in timed_out[0]
    assert fast.ok and tool_results(fake_aimlapi.last_chat()) == ["3"]


@pytest.mark.slow
async def test_a_tool_error_reaches_the_model_as_the_servers_message(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("demo_fail", {"message": "repository not found"})]), Reply(text="x"))
    async with runtime_on(fake_aimlapi, home, FAST + stdio_config() + agent_with("demo")) as rt:
        result = await turn(rt, "fail")
        state = rt.mcp.servers["demo"].state
    [error] = tool_results(fake_aimlapi.last_chat())
    assert result.ok and state == "ready"  # a tool error is not a dead server
    # the server raised the SDK's ToolError: its own message is what the model reads, not a generic crash
    assert "repository not found" in error


@pytest.mark.slow
async def test_include_and_exclude_filter_by_the_servers_own_names(fake_aimlapi, home: Path) -> None:
    extra = 'include_tools = ["add", "sleep", "die"]\nexclude_tools = ["die"]'
    async with runtime_on(fake_aimlapi, home, stdio_config(extra=extra) + agent_with("demo")) as rt:
        await turn(rt, "hello")
    assert [name for name in tool_names(fake_aimlapi.last_chat()) if name.startswith("demo_")] == [
        "demo_add",
        "demo_sleep",
    ]


@pytest.mark.slow
async def test_200_tools_stay_within_the_prompt_budget_and_load_on_demand(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(
        Reply(text="plain"),
        Reply(tool_calls=[ToolCall("search_tools", {"queries": ["create issue"]})]),
        Reply(tool_calls=[ToolCall("big_create_issue", {"owner": "octo", "repo": "hello", "query": "bug"})]),
        Reply(text="Filed."),
        Reply(text="Later."),
    )
    config = (
        FAST + stdio_config("big", args=["--tools", "200"], extra="timeout = 20") + "[mcp]\nmax_prompt_chars = 4000\n"
    )
    async with runtime_on(fake_aimlapi, home, config) as rt:
        await turn(rt, "hello", session="without")
        baseline = fake_aimlapi.last_chat()
        rt.config.agents["main"].mcp = ["big"]
        rt.runner.reload_agents()
        result = await turn(rt, "file an issue about the bug", session="with")
        await turn(rt, "and another one?", session="with")
    with_mcp, searched, called, later = fake_aimlapi.chat_requests()[1:]

    def size(body: dict[str, Any]) -> int:
        return len(system_text(body)) + len(json.dumps(body.get("tools") or []))

    # 200 schemas (~90,000 characters in full) cost at most the catalog budget plus search_tools
    assert size(with_mcp) - size(baseline) <= 4000 + 1500
    assert "search_tools" in tool_names(with_mcp)
    assert not [name for name in tool_names(with_mcp) if name.startswith("big_")]
    assert "big_create_issue" in system_text(with_mcp) and "more (search_tools finds them)" in system_text(with_mcp)
    # search_tools loads the schemas it found; the model then calls the tool
    revealed = [name for name in tool_names(searched) if name.startswith("big_")]
    assert revealed[0] == "big_create_issue" and len(revealed) <= 10
    assert tool_results(called)[-1] == "create_issue(octo/hello, query='bug', page=1)"
    assert result.ok and result.reply == "Filed."
    # what was found stays loaded for the rest of the conversation (the stored history says so)
    assert "big_create_issue" in tool_names(later)


@pytest.mark.slow
async def test_stopping_the_runtime_ends_the_server_and_what_it_started(fake_aimlapi, home: Path) -> None:
    pid_file = home / "server.pids"
    config = stdio_config(args=["--pid-file", str(pid_file), "--grandchild"]) + agent_with("demo")
    async with runtime_on(fake_aimlapi, home, config) as rt:
        await turn(rt, "hello")
        pids = [int(pid) for pid in pid_file.read_text().split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
    from tests.gatewaykit import wait_until

    await wait_until(lambda: not any(alive(pid) for pid in pids), 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[mcp.servers.gh]\ncommand = "npx"\nurl = "https://x"\n', "set either command"),
        ('[mcp.servers.gh]\nurl = "ftp://x"\n', "must start with http:// or https://"),
        (
            '[mcp.servers.gh]\ncommand = "npx"\nenv = {GITHUB_TOKEN = "ghp_inline"}\n',
            "'GITHUB_TOKEN' looks like a secret",
        ),
        ('[mcp.servers.gh]\nurl = "https://x"\nheaders = {Authorization = "Bearer inline"}\n', "env_from/headers_from"),
        ('[mcp.servers.gh]\nurl = "https://x"\nenv = {A = "b"}\n', "a url server takes headers"),
        ('[mcp.servers."Git Hub"]\ncommand = "npx"\n', "server name 'Git Hub'"),
        ('[agents.main]\nmcp = ["github"]\n', "agents.main.mcp: no [mcp.servers.github] (servers: none)"),
    ],
)
def test_config_mistakes_are_named_and_inline_secrets_are_not_echoed(text: str, expected: str) -> None:
    from agentbox.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as caught:
        parse_config(text, source=Path("config.toml"))
    assert expected in str(caught.value)
    assert "ghp_inline" not in str(caught.value) and "Bearer inline" not in str(caught.value)


def test_mcp_secrets_named_in_the_config_are_masked_in_logs_from_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentbox.config import parse_config
    from agentbox.logs import collect_secrets

    monkeypatch.setenv("GH_MCP_PAT", "ghp_" + "A1b2C3" * 6)
    monkeypatch.setenv("REMOTE_AUTH", "Bearer remote-" + "x9" * 10)
    config = parse_config(
        '[mcp.servers.gh]\ncommand = "npx"\nenv_from = {GITHUB_PERSONAL_ACCESS_TOKEN = "GH_MCP_PAT"}\n'
        '[mcp.servers.remote]\nurl = "https://mcp.example.com/mcp"\nheaders_from = {Authorization = "REMOTE_AUTH"}\n',
        source=Path("config.toml"),
    )
    secrets = collect_secrets(
        config, environ={"GH_MCP_PAT": "ghp_" + "A1b2C3" * 6, "REMOTE_AUTH": "Bearer remote-" + "x9" * 10}
    )
    assert {"ghp_" + "A1b2C3" * 6, "Bearer remote-" + "x9" * 10} <= secrets


@pytest.mark.slow
async def test_a_server_slow_to_start_does_not_hold_up_the_turn_and_stops_with_the_runtime(
    fake_aimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from agentbox.mcpkit import toolset
    from tests.gatewaykit import wait_until

    monkeypatch.setattr(toolset, "TURN_WAIT_SECONDS", 0.5)
    pid_file = home / "hung.pid"
    hung = (
        f'[mcp.servers.hung]\ncommand = "{sys.executable}"\n'
        f'args = ["-c", "import os, time; open({str(pid_file)!r}, \\"w\\").write(str(os.getpid())); time.sleep(300)"]\n'
    )
    async with runtime_on(fake_aimlapi, home, FAST + stdio_config() + hung + agent_with("demo", "hung")) as rt:
        assert await rt.mcp.servers["demo"].ensure_ready()  # a server that starts in time is there
        result = await turn(rt, "hello")
        state = rt.mcp.servers["hung"].state
        await wait_until(pid_file.exists, 15)
        pid = int(pid_file.read_text())
    assert result.ok and state == "starting"
    first = fake_aimlapi.chat_requests()[0]
    assert "demo_add" in tool_names(first)
    assert "MCP server hung is still starting" in system_text(first)
    await wait_until(lambda: not alive(pid), 15)
