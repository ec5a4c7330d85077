"""`agentbox agent --agent NAME` and `agentbox chat --agent NAME`: the terminal talks to a chosen agent."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clirun import invoke_cli
from tests.helpers import cli_env, write_config

AGENTS = (
    '[agents.main]\nmodel = "gpt-4o-mini"\n'
    '[agents.work]\nmodel = "anthropic/claude-sonnet-4.6"\ninstructions = "You are the work assistant."\n'
)


def test_agent_runs_the_named_agent_in_its_own_session(fake_aimlapi, home: Path) -> None:
    write_config(home, AGENTS)
    env = cli_env(home, fake_aimlapi)
    work = json.loads(invoke_cli("agent", "--agent", "work", "-m", "status?", "--json", env=env).stdout)
    main = json.loads(invoke_cli("agent", "-m", "hello", "--json", env=env).stdout)
    assert (work["session"], work["model"]) == ("cli:work", "anthropic/claude-sonnet-4.6")
    assert (main["session"], main["model"]) == ("cli:default", "gpt-4o-mini")
    first, second = fake_aimlapi.chat_requests()
    assert first["messages"][0]["content"].startswith("You are the work assistant.")
    assert not second["messages"][0]["content"].startswith("You are the work assistant.")
    # the work session's memory is its own: the main turn did not see "status?"
    assert [m["content"] for m in second["messages"] if m["role"] == "user"] == ["hello"]


def test_an_unknown_agent_is_refused_with_the_configured_ones(fake_aimlapi, home: Path) -> None:
    write_config(home, AGENTS)
    env = cli_env(home, fake_aimlapi)
    for command in (["agent", "-m", "hi"], ["chat"]):
        done = invoke_cli(*command, "--agent", "wrok", env=env, input="/exit\n")
        assert done.returncode == 2 and "no agent 'wrok' in the config; agents: main, work" in done.stderr
    assert fake_aimlapi.chat_requests() == []


def test_chat_talks_to_the_named_agent(fake_aimlapi, home: Path) -> None:
    write_config(home, AGENTS)
    done = invoke_cli("chat", "--agent", "work", env=cli_env(home, fake_aimlapi), input="hello\n/status\n/exit\n")
    assert done.returncode == 0, done.stderr
    assert "echo: hello" in done.stdout and "session cli:work" in done.stdout
    assert "model anthropic/claude-sonnet-4.6" in done.stdout
    assert [body["model"] for body in fake_aimlapi.chat_requests()] == ["anthropic/claude-sonnet-4.6"]
