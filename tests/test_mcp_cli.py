"""`agentbox mcp list|tools|check` in-process (tests/clirun.py), starting real stdio test servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clirun import invoke_cli
from tests.helpers import cli_env, write_config
from tests.mcpserver import stdio_config

REMOTE = '[mcp.servers.remote]\nurl = "https://mcp.example.com/v1/mcp?key=abc123secret"\nenabled = false\n'


def test_list_shows_each_server_its_agents_and_state_without_secrets(home: Path) -> None:
    write_config(home, stdio_config() + REMOTE + '[agents.main]\nmcp = ["demo"]\n[agents.work]\nmcp = ["demo"]\n')
    done = invoke_cli("mcp", "list", "--json", env=cli_env(home))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["gateway"] is False
    demo, remote = data["servers"]
    assert (demo["name"], demo["transport"], demo["agents"], demo["state"]) == (
        "demo",
        "stdio",
        ["main", "work"],
        "stopped",
    )
    assert demo["target"].endswith("tests/mcpserver.py") and demo["tools"] is None
    assert (remote["transport"], remote["state"], remote["agents"]) == ("http", "disabled", [])
    assert "abc123secret" not in done.stdout and remote["target"].startswith("https://mcp.example.com/v1/mcp")
    table = invoke_cli("mcp", "list", env=cli_env(home)).stdout
    assert "demo" in table and "main, work" in table and "No gateway is running" in table


def test_list_without_servers_says_how_to_add_one(home: Path) -> None:
    done = invoke_cli("mcp", "list", env=cli_env(home))
    assert done.returncode == 0 and "[mcp.servers.NAME]" in done.stdout


@pytest.mark.slow
def test_tools_lists_the_names_the_model_sees_and_the_filters(home: Path) -> None:
    write_config(home, stdio_config(extra='exclude_tools = ["die"]'))
    done = invoke_cli("mcp", "tools", "demo", "--json", env=cli_env(home))
    assert done.returncode == 0, done.stderr
    tools = {tool["server_name"]: tool for tool in json.loads(done.stdout)}
    assert set(tools) == {"add", "echo_env", "sleep", "fail", "die", "pid"}
    assert tools["add"]["name"] == "demo_add" and tools["add"]["description"] == "Add two integers."
    assert set(tools["add"]["parameters"]["properties"]) == {"a", "b"}
    assert tools["die"]["offered"] is False and tools["add"]["offered"] is True
    table = invoke_cli("mcp", "tools", "demo", env=cli_env(home)).stdout
    assert "demo_die" in table and "no (filtered)" in table


def test_tools_of_an_unknown_server_names_the_configured_ones(home: Path) -> None:
    write_config(home, stdio_config())
    done = invoke_cli("mcp", "tools", "github", env=cli_env(home))
    assert done.returncode == 2 and "no MCP server 'github'; configured: demo" in done.stderr


@pytest.mark.slow
def test_check_starts_each_server_and_exits_1_with_a_reason_per_failure(home: Path) -> None:
    config = (
        stdio_config()
        + stdio_config("broken", args=["--crash-on-start"])
        + stdio_config("needs-token", extra='env_from = {GITHUB_TOKEN = "NOT_SET_ANYWHERE"}')
        + '[mcp.servers.missing]\ncommand = "no-such-mcp-server-binary"\n'
        + REMOTE
    )
    write_config(home, config)
    done = invoke_cli("mcp", "check", env=cli_env(home))
    assert done.returncode == 1, done.stdout
    lines = dict(line.split(maxsplit=1) for line in done.stdout.strip().splitlines())
    assert lines["ok"].startswith("demo: 6 tools, started in ")
    assert lines["skipped"] == "remote: disabled (enabled = false)"
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 3
    assert any(
        "broken: the server closed the connection" in line and "it said: this server is broken on purpose" in line
        for line in failed
    )
    assert any(
        "needs-token: env var NOT_SET_ANYWHERE is not set (mcp.servers.needs-token.env_from)" in line for line in failed
    )
    assert any("missing: command 'no-such-mcp-server-binary' not found on PATH" in line for line in failed)


@pytest.mark.slow
def test_check_exits_0_when_every_server_starts(home: Path) -> None:
    write_config(home, stdio_config())
    done = invoke_cli("mcp", "check", env=cli_env(home))
    assert done.returncode == 0 and done.stdout.startswith("ok      demo: 6 tools")
