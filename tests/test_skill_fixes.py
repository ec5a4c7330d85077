"""An unavailable skill always comes with the exact command that fixes it: `skills list`, `doctor`, the chat.

The CLI runs as a subprocess in which Playwright really cannot be imported (a `sitecustomize`
blocks it), as on a fresh `pip install .` without the `browser` extra.
"""

from __future__ import annotations

import json
import shlex
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from agentbox.skillkit import fixes
from agentbox.turn.runner import TurnRequest
from tests.clirun import invoke_cli
from tests.fakes.aimlapi import Reply, ToolCall
from tests.helpers import cli_env, run_cli, runtime_on, write_config
from tests.skills_helpers import system_text, tool_outputs

# The browser extra's own tested range, installed as is: `agentbox[browser]` would fetch PyPI's "agentbox",
# another project, over this one.
BROWSER_EXTRA = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"][
    "optional-dependencies"
]["browser"]
BROWSER_FIX = f"{fixes.shell_path(sys.executable)} -m pip install " + " ".join(
    shlex.quote(f"{r.name}{r.specifier}") for r in map(Requirement, BROWSER_EXTRA)
)
NO_PLAYWRIGHT = """
import importlib.machinery

_find_spec = importlib.machinery.PathFinder.find_spec.__func__


def _without_playwright(cls, name, path=None, target=None):
    if name == "playwright" or name.startswith("playwright."):
        return None  # as if it were not installed: find_spec() gives None, import raises ModuleNotFoundError
    return _find_spec(cls, name, path, target)


importlib.machinery.PathFinder.find_spec = classmethod(_without_playwright)
"""


@pytest.fixture
def without_playwright(home: Path, tmp_path: Path) -> dict[str, str]:
    """CLI env: Playwright not importable; a Chromium present (so the python package is what is missing)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_PLAYWRIGHT)
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\nexit 0\n")
    chromium.chmod(0o755)
    write_config(home, f'[skills]\nchromium_path = "{chromium}"\n')
    return cli_env(home, PYTHONPATH=str(site))


@pytest.mark.e2e
def test_skills_list_gives_the_install_command(without_playwright: dict[str, str]) -> None:
    done = run_cli("skills", "list", "--json", env=without_playwright)
    assert done.returncode == 0, done.stderr
    vision = next(row for row in json.loads(done.stdout) if row["name"] == "web-page-vision")
    assert (vision["status"], vision["detail"]) == ("unavailable", "needs python package playwright")
    assert vision["fix"] == BROWSER_FIX

    table = run_cli("skills", "list", env=without_playwright)
    assert f"fix for web-page-vision: {BROWSER_FIX}\n" in table.stdout  # one whole line: copy and paste it
    info = run_cli("skills", "info", "web-page-vision", env=without_playwright)
    assert f"fix:         {BROWSER_FIX}\n" in info.stdout


@pytest.mark.e2e
def test_doctor_warns_with_the_install_command(without_playwright: dict[str, str]) -> None:
    done = run_cli("doctor", "--json", env=without_playwright)
    report = json.loads(done.stdout)
    [check] = [c for c in report["checks"] if c["name"] == "skill web-page-vision"]
    assert check == {
        "name": "skill web-page-vision",
        "status": "warn",
        "detail": "unavailable: needs python package playwright",
        "fix": BROWSER_FIX,
    }
    text = run_cli("doctor", env=without_playwright)
    assert f"fix: {BROWSER_FIX}" in text.stdout


def test_the_installed_playwright_makes_the_warning_go(home: Path, tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\nexit 0\n")
    chromium.chmod(0o755)
    write_config(home, f'[skills]\nchromium_path = "{chromium}"\n')
    report = json.loads(invoke_cli("doctor", "--json", env=cli_env(home)).stdout)
    assert {"name": "skills", "status": "ok", "detail": "every enabled skill can run here", "fix": None} in report[
        "checks"
    ]


async def test_the_model_learns_why_and_the_fix(fake_aimlapi, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = __import__("importlib.util").util.find_spec
    monkeypatch.setattr(
        "agentbox.skillkit.gating.importlib.util.find_spec",
        lambda name: None if name == "playwright" else real_find_spec(name),
    )
    monkeypatch.setattr("agentbox.skillkit.gating.find_binary", lambda name, config: "/usr/bin/" + name)
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("read_skill", {"name": "web-page-vision"})]),
        Reply(text="Web page vision is not set up yet."),
    )
    async with runtime_on(fake_aimlapi, home) as rt:
        result = await rt.runner.run(TurnRequest(session_key="t:fix", text="what does example.com show?"))
    assert result.ok
    first, second = fake_aimlapi.chat_requests()
    prompt = system_text(first)
    assert "## Skills not available yet" in prompt
    assert "- web-page-vision: Open a web page" in prompt and BROWSER_FIX in prompt
    assert "- web-search:" in prompt.split("## Skills not available yet")[0]  # ready skills stay in the main list
    [answer] = tool_outputs(second)
    assert "'web-page-vision' is installed but unavailable: needs python package playwright" in answer
    assert BROWSER_FIX in answer


@pytest.mark.parametrize(
    ("os_release", "family", "command"),
    [
        ('ID=debian\nVERSION_ID="12"\n', "debian", "apt install chromium"),
        ("ID=ubuntu\nID_LIKE=debian\n", "ubuntu", "snap install chromium"),
        ('ID=linuxmint\nID_LIKE="ubuntu debian"\n', "ubuntu", "snap install chromium"),
        ('ID="fedora"\n', "fedora", "dnf install chromium"),
        ("ID=arch\n", "arch", "pacman -S chromium"),
        ("ID=plan9\n", "", "install Chromium"),
    ],
)
def test_chromium_command_per_system(tmp_path: Path, os_release: str, family: str, command: str) -> None:
    path = tmp_path / "os-release"
    path.write_text(os_release)
    assert fixes.os_family(path) == family
    fix = fixes.binary_install("chromium", family)
    assert command in fix and fix.endswith("or set [skills] chromium_path in config.toml")
    assert fixes.binary_install("chromium", "darwin").startswith("brew install --cask chromium")


def test_commands_are_valid_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert fixes.shell_path(tmp_path / ".venv" / "bin" / "python") == "~/.venv/bin/python"
    assert fixes.shell_path(tmp_path / "my env" / "python") == shlex.quote(str(tmp_path / "my env" / "python"))
    command = shlex.split(fixes.pip_install("playwright"))
    assert command[-2] == "install" and "agentbox" not in command[-1]
    assert Requirement(command[-1]).name == "playwright" and Requirement(command[-1]).specifier.contains("1.65")
