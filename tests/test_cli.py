"""The `agentbox` CLI against the fake AI/ML API: in-process, plus the real process where it matters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clirun import invoke_cli
from tests.fakes.aimlapi import Fail, Reply, ToolCall
from tests.helpers import API_KEY, cli_env, png_bytes, run_cli, write_config


def test_agent_json_reports_reply_usage_tools(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("current_time", "{}")]), Reply(text="It is noon.", usage=(50, 5)))
    done = invoke_cli("agent", "-m", "what time is it?", "--json", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["session"] == "cli:default" and out["reply"] == "It is noon." and out["model"] == "gpt-4o-mini"
    assert out["usage"]["input_tokens"] > 0 and out["usage"]["output_tokens"] > 5  # both requests counted
    assert "usd" in out["usage"] and out["tool_calls"] == ["current_time"] and out["attachments"] == []


@pytest.mark.e2e
def test_agent_streams_text_and_remembers_across_processes(fake_aimlapi, home: Path) -> None:
    env = cli_env(home, fake_aimlapi)
    first = run_cli("agent", "-m", "my name is Ada", "--session", "me", env=env)
    second = run_cli("agent", "-m", "what is my name?", "--session", "me", env=env)
    assert first.returncode == 0 and first.stdout.strip() == "echo: my name is Ada"
    assert second.returncode == 0
    history = [m["content"] for m in fake_aimlapi.last_chat()["messages"] if m["role"] != "system"]
    assert history == ["my name is Ada", "echo: my name is Ada", "what is my name?"]
    listed = json.loads(invoke_cli("sessions", "list", "--json", env=env).stdout)
    assert [(s["key"], s["turns"]) for s in listed] == [("me", 2)]
    shown = invoke_cli("sessions", "show", "me", env=env)
    assert "my name is Ada" in shown.stdout and "what is my name?" in shown.stdout
    assert invoke_cli("sessions", "reset", "me", env=env).returncode == 0
    invoke_cli("agent", "-m", "fresh?", "--session", "me", env=env)
    assert [m["content"] for m in fake_aimlapi.last_chat()["messages"] if m["role"] != "system"] == ["fresh?"]
    assert len(json.loads(invoke_cli("sessions", "show", "me", "--json", env=env).stdout)["turns"]) == 3


def test_agent_image_file_and_url(fake_aimlapi, home: Path, tmp_path: Path) -> None:
    image = tmp_path / "pic.png"
    image.write_bytes(png_bytes())
    done = invoke_cli(
        "agent",
        "-m",
        "see",
        "--image",
        str(image),
        "--image",
        "https://example.org/a.jpg",
        "--json",
        env=cli_env(home, fake_aimlapi),
    )
    assert done.returncode == 0, done.stderr
    parts = fake_aimlapi.last_chat()["messages"][-1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert urls[0].startswith("data:image/png;base64,") and urls[1] == "https://example.org/a.jpg"


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"not an image at all", "not a supported image"), (b"\x89PNG\r\n\x1a\n" + b"0" * 3000, "limit is")],
)
def test_bad_image_fails_before_any_model_call(
    fake_aimlapi, home: Path, tmp_path: Path, content: bytes, expected: str
) -> None:
    write_config(home, "[vision]\nmax_image_bytes = 2048\n")
    path = tmp_path / "file.png"
    path.write_bytes(content)
    done = invoke_cli("agent", "-m", "see", "--image", str(path), env=cli_env(home, fake_aimlapi))
    assert done.returncode == 2 and expected in done.stderr
    assert fake_aimlapi.requests == []


def test_missing_key_is_one_line_exit_2(home: Path) -> None:
    env = cli_env(home)
    del env["AIMLAPI_API_KEY"]
    done = invoke_cli("agent", "-m", "hi", env=env)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "AIMLAPI_API_KEY" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[aimlapi\nbase_url = 1", "TOML syntax error"),
        ("[gateway]\nprot = 1\n", "gateway.prot: unknown key"),
        ("[gateway]\nport = 'x'\n", "gateway.port: Input should be a valid integer"),
        ("[aimlapi.retry]\nattempts = 0\n", "aimlapi.retry.attempts: Input should be greater than or equal to 1"),
        ("[channels.telegram]\ndm_policy = 'everyone'\n", "channels.telegram.dm_policy: Input should be"),
    ],
)
def test_bad_config_names_file_and_key(home: Path, text: str, expected: str) -> None:
    path = write_config(home, text)
    done = invoke_cli("agent", "-m", "hi", env=cli_env(home))
    assert done.returncode == 2
    assert str(path) in done.stderr and expected in done.stderr and "Traceback" not in done.stderr


def test_config_env_overrides_file(fake_aimlapi, home: Path) -> None:
    write_config(home, '[aimlapi]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "from-file"\n')
    done = invoke_cli("agent", "-m", "hi", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 0, done.stderr
    assert fake_aimlapi.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_agentbox_config_env_names_the_file(fake_aimlapi, home: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('[agents.main]\nmodel = "aimlapi/openai/gpt-5-nano-2025-08-07"\n')
    done = invoke_cli("agent", "-m", "hi", env=cli_env(home, fake_aimlapi, AGENTBOX_CONFIG=str(other)))
    assert done.returncode == 0, done.stderr
    assert fake_aimlapi.last_chat()["model"] == "openai/gpt-5-nano-2025-08-07"
    missing = invoke_cli(
        "agent", "-m", "hi", env=cli_env(home, fake_aimlapi, AGENTBOX_CONFIG=str(tmp_path / "nope.toml"))
    )
    assert missing.returncode == 2 and "nope.toml" in missing.stderr


def test_failed_turn_prints_honest_sentence_exit_1(fake_aimlapi, home: Path) -> None:
    write_config(home, "[aimlapi.retry]\nattempts = 2\ninitial_delay = 0.01\n")
    fake_aimlapi.script(Fail(500, times=5))
    done = invoke_cli("agent", "-m", "hi", "--json", env=cli_env(home, fake_aimlapi))
    assert done.returncode == 1
    out = json.loads(done.stdout)
    assert out["ok"] is False and "try again" in out["reply"]
    assert len(fake_aimlapi.requests) == 2


def test_chat_repl_commands_and_streaming(fake_aimlapi, home: Path) -> None:
    script = "/help\nhello\n/model gpt-4o\nsecond\n/status\n/reset\nthird\n/exit\n"
    done = invoke_cli("chat", "--session", "repl", env=cli_env(home, fake_aimlapi), input=script)
    assert done.returncode == 0, done.stderr
    assert "/reset" in done.stdout and "echo: hello" in done.stdout and "echo: second" in done.stdout
    assert "Model: gpt-4o" in done.stdout and "session repl" in done.stdout and "2 turns" in done.stdout
    models = [b["model"] for b in fake_aimlapi.chat_requests()]
    assert models == ["gpt-4o-mini", "gpt-4o", "gpt-4o"]
    assert [m["content"] for m in fake_aimlapi.last_chat()["messages"] if m["role"] != "system"] == ["third"]


@pytest.mark.e2e
@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["sessions", "list"],
        ["sessions", "search", "dog"],
        ["memory", "list"],
        ["memory", "export"],
        ["cron", "list"],
        ["cron", "add", "--in", "1h", "--to", "telegram:1", "-m", "x"],
    ],
)
def test_quick_commands_do_not_import_heavy_libraries(home: Path, args: list[str]) -> None:
    import subprocess
    import sys

    code = (
        f"import sys, runpy; sys.argv = ['agentbox', *{args!r}]\n"
        "try:\n    runpy.run_module('agentbox.cli.main', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('pydantic_ai', 'openai', 'telegram', 'slack_bolt', 'discord') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=cli_env(home), capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr


@pytest.mark.e2e
def test_version(home: Path) -> None:  # the real entry point, as the installed `agentbox` runs it
    from agentbox import __version__

    done = run_cli("--version", env=cli_env(home))
    assert done.returncode == 0 and done.stdout.strip() == f"agentbox {__version__}"
