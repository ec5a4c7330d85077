"""Skill tools through real turns against the fake AI/ML API: schemas, read_skill, secrets, exec."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentbox.turn.runner import TurnRequest
from tests.fakes.aimlapi import Reply, ToolCall
from tests.helpers import runtime_on
from tests.skills_helpers import config_text, requires, sent_tools, system_text, tool_outputs, write_skill

WEATHER_TOOLS = '''
from __future__ import annotations

from typing import Literal

from pydantic_ai import RunContext

from agentbox.turn.deps import TurnDeps
from agentbox.skillkit import UndeclaredSecret, skill_config, skill_env


async def forecast(
    ctx: RunContext[TurnDeps], city: str, days: int = 3, units: Literal["metric", "imperial"] = "metric"
) -> str:
    """Weather forecast for a city.

    Args:
        city: City name, e.g. "Paris".
        days: How many days ahead.
        units: metric or imperial.
    """
    env = skill_env(ctx)
    try:
        other = env["OTHER_SECRET"]
    except UndeclaredSecret as exc:
        other = f"refused ({exc})"
    return f"{city} {days}d {units}: key={env['WEATHER_API_KEY']} other={other} vars={sorted(env)} " + str(
        skill_config(ctx)
    )


async def _helper() -> None:
    """Private helpers are not tools."""
'''


def weather_skill(home: Path) -> Path:
    return write_skill(
        home / "workspace" / "skills",
        "weather",
        description="Weather forecasts for any city.",
        body="Call forecast(city). WEATHER BODY MARKER.",
        metadata=requires(env=["WEATHER_API_KEY"]),
        tools=WEATHER_TOOLS,
    )


async def test_tool_schema_from_type_hints_is_what_the_model_receives(
    fake_aimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEATHER_API_KEY", "w-123")
    weather_skill(home)
    async with runtime_on(fake_aimlapi, home) as rt:
        result = await rt.runner.run(TurnRequest(session_key="t:schema", text="hello"))
    assert result.ok
    body = fake_aimlapi.last_chat()
    tools = sent_tools(body)
    forecast = tools["forecast"]
    assert forecast["description"].startswith("Weather forecast for a city.")
    params = forecast["parameters"]
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {"type": "string", "description": 'City name, e.g. "Paris".'}
    assert params["properties"]["days"]["type"] == "integer" and params["properties"]["days"]["default"] == 3
    assert params["properties"]["units"]["enum"] == ["metric", "imperial"]
    assert "_helper" not in tools and "read_skill" in tools and "exec" not in tools
    system = system_text(body)
    assert "- weather: Weather forecasts for any city." in system
    assert "WEATHER BODY MARKER" not in system


async def test_read_skill_returns_full_instructions(fake_aimlapi, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEATHER_API_KEY", "w")
    weather_skill(home)
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("read_skill", {"name": "weather"})]),
        Reply(tool_calls=[ToolCall("read_skill", {"name": "nope"})]),
        Reply(text="done"),
    )
    async with runtime_on(fake_aimlapi, home) as rt:
        result = await rt.runner.run(TurnRequest(session_key="t:read", text="weather?"))
    assert result.reply == "done"
    outputs = tool_outputs(fake_aimlapi.last_chat())
    assert "WEATHER BODY MARKER" in outputs[0] and "Tools: forecast" in outputs[0]
    assert "no skill named 'nope'" in outputs[1] and "weather" in outputs[1]


async def test_skill_sees_only_its_declared_secrets(fake_aimlapi, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEATHER_API_KEY", "w-123")
    monkeypatch.setenv("OTHER_SECRET", "must-not-leak")
    weather_skill(home)
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("forecast", {"city": "Oslo"})]), Reply(text="ok"))
    cfg = config_text('[skills.config.weather]\nunits_hint = "metric"')
    async with runtime_on(fake_aimlapi, home, cfg) as rt:
        await rt.runner.run(TurnRequest(session_key="t:secrets", text="weather in Oslo"))
    output = tool_outputs(fake_aimlapi.last_chat())[0]
    assert "key=w-123" in output
    assert "must-not-leak" not in output
    assert "refused (skill 'weather' did not declare env OTHER_SECRET" in output
    assert "vars=['WEATHER_API_KEY']" in output
    assert "'units_hint': 'metric'" in output


async def test_secret_from_config_file_when_not_in_env(fake_aimlapi, home: Path) -> None:
    weather_skill(home)
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("forecast", {"city": "Rome"})]), Reply(text="ok"))
    cfg = config_text('[skills.config.weather.env]\nWEATHER_API_KEY = "from-config"')
    async with runtime_on(fake_aimlapi, home, cfg) as rt:
        assert rt.skills.get("weather").status == "ready"  # type: ignore[union-attr]
        await rt.runner.run(TurnRequest(session_key="t:cfgsecret", text="weather"))
    # The tool got the configured value; echoed back, it is a secret and reaches the model masked.
    assert "key=***" in tool_outputs(fake_aimlapi.last_chat())[0]


def test_skill_helpers_refuse_outside_a_tool_call() -> None:
    from agentbox.skillkit import NotInSkill, skill_dir

    with pytest.raises(NotInSkill):
        skill_dir()


# -- exec ------------------------------------------------------------------------------------

SHOW_ENV = """
import os, sys
print("args=" + ",".join(sys.argv[1:]))
print("declared=" + os.environ.get("DECLARED_KEY", "<unset>"))
print("undeclared=" + os.environ.get("UNDECLARED_KEY", "<unset>"))
print("aimlapi=" + os.environ.get("AIMLAPI_API_KEY", "<unset>"))
print("cwd=" + os.getcwd())
"""


def exec_skill(home: Path, tmp_path: Path) -> Path:
    folder = write_skill(
        home / "workspace" / "skills",
        "scripted",
        description="An OpenClaw-style skill that runs scripts.",
        body="Run `python3 {baseDir}/scripts/show_env.py --flag` to see the environment.",
        metadata=requires(env=["DECLARED_KEY"], anyBins=["python3"]),
    )
    (folder / "scripts").mkdir()
    (folder / "scripts" / "show_env.py").write_text(SHOW_ENV)
    (folder / "scripts" / "sleepy.py").write_text("import time\nprint('start', flush=True)\ntime.sleep(30)\n")
    (folder / "scripts" / "loud.py").write_text("print('x' * 200000)\n")
    outside = tmp_path / "outside.py"
    outside.write_text("print('ESCAPED')\n")
    (folder / "scripts" / "link.py").symlink_to(outside)
    return folder


EXEC_CONFIG = """
[agents.main]
allow_exec = true

[skills]
exec_timeout = 2
exec_output_limit = 2048
"""


async def test_exec_runs_only_inside_the_skill_with_only_declared_env(
    fake_aimlapi, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECLARED_KEY", "visible")
    monkeypatch.setenv("UNDECLARED_KEY", "hidden-value")
    folder = exec_skill(home, tmp_path)
    calls = [
        ("scripts/show_env.py", ["--flag", "a b; rm -rf /"]),
        ("../../outside.py", []),
        (str(tmp_path / "outside.py"), []),
        ("scripts/link.py", []),
        ("scripts/missing.py", []),
        (str(folder / "scripts" / "show_env.py"), []),
    ]
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("exec", {"skill": "scripted", "path": p, "args": a}) for p, a in calls]),
        Reply(text="ran"),
    )
    async with runtime_on(fake_aimlapi, home, EXEC_CONFIG) as rt:
        result = await rt.runner.run(TurnRequest(session_key="t:exec", text="run it"))
    assert result.ok, result.error
    outputs = tool_outputs(fake_aimlapi.last_chat())
    ok = outputs[0]
    assert "exit code: 0" in ok
    assert "args=--flag,a b; rm -rf /" in ok  # one argv item, never a shell
    assert "declared=***" in ok  # the script saw the declared secret; the model gets it masked
    assert "undeclared=<unset>" in ok and "hidden-value" not in ok
    assert "aimlapi=<unset>" in ok  # not declared by this skill, so not passed on
    assert f"cwd={home / 'exec' / 'scripted'}" in ok
    assert outputs[1].startswith("refused:") and "'..' is not allowed" in outputs[1]
    assert outputs[2].startswith("refused:") and "outside the skill folder" in outputs[2]
    assert outputs[3].startswith("refused:") and "outside the skill folder" in outputs[3]
    assert outputs[4].startswith("refused:") and "not a file" in outputs[4]
    assert "declared=***" in outputs[5]  # an absolute path inside the folder is fine
    assert all("ESCAPED" not in out for out in outputs)


async def test_exec_timeout_and_output_cap(
    fake_aimlapi, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECLARED_KEY", "v")
    exec_skill(home, tmp_path)
    fake_aimlapi.script(
        Reply(
            tool_calls=[
                ToolCall("exec", {"skill": "scripted", "path": "scripts/sleepy.py"}),
                ToolCall("exec", {"skill": "scripted", "path": "scripts/loud.py"}),
            ]
        ),
        Reply(text="ran"),
    )
    async with runtime_on(fake_aimlapi, home, EXEC_CONFIG) as rt:
        await rt.runner.run(TurnRequest(session_key="t:exec2", text="run"))
    sleepy, loud = tool_outputs(fake_aimlapi.last_chat())
    assert "exit code: timeout (killed)" in sleepy and "start" in sleepy
    assert "(output truncated)" in loud and len(loud) < 3000


async def test_exec_is_off_by_default(
    fake_aimlapi, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exec_skill(home, tmp_path)
    async with runtime_on(fake_aimlapi, home) as rt:
        assert rt.skills.get("scripted").reason == "needs env DECLARED_KEY"  # type: ignore[union-attr]
    monkeypatch.setenv("DECLARED_KEY", "v")
    async with runtime_on(fake_aimlapi, home) as rt:
        assert rt.skills.get("scripted").status == "ready"  # type: ignore[union-attr]
        await rt.runner.run(TurnRequest(session_key="t:noexec", text="hi"))
    tools = sent_tools(fake_aimlapi.last_chat())
    assert "read_skill" in tools and "exec" not in tools
