"""End to end: a real gateway starts a stdio MCP server on first use, reports it on `GET /mcp`, and
leaves nothing behind: not after a clean stop, and not after `kill -9` (the guard ends the group)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.gatewayproc import GatewayProcess, start_gateway, wait_for
from tests.fakes.aimlapi import Reply, ToolCall
from tests.helpers import run_cli
from tests.mcpserver import alive, stdio_config

ALICE = 835750362


def gateway_with_mcp(
    processes: list[Any], home: Path, fake_aimlapi: Any, fake_telegram: Any
) -> tuple[GatewayProcess, Path]:
    pid_file = home.parent / "mcp.pids"
    extra = "dm_policy = 'open'\n" + '[agents.main]\nmcp = ["demo"]\n'
    extra += stdio_config(args=["--pid-file", str(pid_file), "--grandchild"])
    gateway = start_gateway(home, fake_aimlapi, fake_telegram, extra)
    processes.append(gateway)
    gateway.wait_ready()
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("demo_add", {"a": 40, "b": 2})]), Reply(text="It is 42."))
    fake_telegram.push_text(ALICE, "what is 40 + 2?")
    wait_for(lambda: [t for t in fake_telegram.sent_messages(ALICE) if "It is 42." in t], 30, "the answer")
    return gateway, pid_file


def test_the_gateway_reports_its_server_and_stops_it_on_shutdown(
    processes: list[Any], home: Path, fake_aimlapi: Any, fake_telegram: Any
) -> None:
    gateway, pid_file = gateway_with_mcp(processes, home, fake_aimlapi, fake_telegram)
    pids = [int(pid) for pid in pid_file.read_text().split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    listed = run_cli("mcp", "list", "--json", env=gateway.env)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["gateway"] is True
    assert [(s["name"], s["state"], s["tools"]) for s in data["servers"]] == [("demo", "ready", 6)]
    assert gateway.terminate() == 0
    wait_for(lambda: not any(alive(pid) for pid in pids), 20, "the MCP server and its child to end")


@pytest.mark.skipif(os.name != "posix", reason="process groups")
def test_kill_9_of_the_gateway_leaves_no_mcp_process_behind(
    processes: list[Any], home: Path, fake_aimlapi: Any, fake_telegram: Any
) -> None:
    gateway, pid_file = gateway_with_mcp(processes, home, fake_aimlapi, fake_telegram)
    pids = [int(pid) for pid in pid_file.read_text().split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    gateway.proc.send_signal(signal.SIGKILL)
    gateway.proc.wait(10)
    wait_for(lambda: not any(alive(pid) for pid in pids), 20, "the orphaned MCP server and its child to end")
