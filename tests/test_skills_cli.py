"""`agentbox skills list|info|new|check`, the scaffolded skill's own test (its own pytest), and prompt size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentbox.turn.history import estimate_tokens
from agentbox.turn.runner import TurnRequest
from tests.clirun import invoke_cli
from tests.helpers import cli_env, runtime_on, write_config
from tests.skills_helpers import sent_tools, system_text, write_skill

REPO = Path(__file__).resolve().parents[1]


def test_skills_list_json_shows_source_and_status(home: Path) -> None:
    root = home / "workspace" / "skills"
    write_skill(root, "broken-one", tools="import no_such_module_abc\n")
    write_skill(root, "needs-key", metadata={"openclaw": {"requires": {"env": ["NOPE_KEY"]}}})
    write_skill(home / "skills", "web-search", description="My own search.")
    done = invoke_cli("skills", "list", "--json", env=cli_env(home))
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["broken-one"]["status"] == "broken"
    assert "ModuleNotFoundError" in rows["broken-one"]["detail"]
    assert (rows["needs-key"]["status"], rows["needs-key"]["detail"]) == ("unavailable", "needs env NOPE_KEY")
    assert (rows["web-search"]["source"], rows["web-search"]["description"]) == ("user", "My own search.")
    assert rows["image-generation"] == {
        "name": "image-generation",
        "source": "bundled",
        "status": "ready",
        "detail": None,
        "description": rows["image-generation"]["description"],
        "path": rows["image-generation"]["path"],
        "overrides": [],
        "fix": None,
        "unmet": [],
        "install": [],
        "warnings": [],
    }
    table = invoke_cli("skills", "list", env=cli_env(home, COLUMNS="160"))  # wide enough for one line per skill
    assert "needs env NOPE_KEY" in table.stdout and "image-generation" in table.stdout


def test_skills_list_without_key_says_why(home: Path) -> None:
    env = cli_env(home)
    env.pop("AIMLAPI_API_KEY")
    rows = {row["name"]: row for row in json.loads(invoke_cli("skills", "list", "--json", env=env).stdout)}
    assert rows["web-search"]["detail"] == "needs env AIMLAPI_API_KEY"


def test_skills_info(home: Path) -> None:
    done = invoke_cli("skills", "info", "web-search", env=cli_env(home))
    assert done.returncode == 0, done.stderr
    assert "source:      bundled" in done.stdout and "needs env:   AIMLAPI_API_KEY" in done.stdout
    assert "web_search: Search the web" in done.stdout and '"recency"' in done.stdout
    assert "# Web search" in done.stdout
    missing = invoke_cli("skills", "info", "nope", env=cli_env(home))
    assert missing.returncode == 1 and "no skill named 'nope'" in missing.stderr


@pytest.mark.slow
def test_new_skill_scaffold_passes_its_own_test_and_check(home: Path) -> None:
    env = cli_env(home)
    done = invoke_cli("skills", "new", "greeter", env=env)
    assert done.returncode == 0, done.stderr
    folder = home / "workspace" / "skills" / "greeter"
    assert {p.name for p in folder.iterdir()} >= {"SKILL.md", "tools.py", "test_greeter.py"}
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout
    checked = invoke_cli("skills", "check", str(folder), env=env)
    assert checked.returncode == 0, checked.stderr
    assert "✓ tools.py: greeter_greet" in checked.stdout
    assert "- greeter: Say hello in a chosen style" in checked.stdout
    assert '"enum": [\n' in checked.stdout or '"pirate"' in checked.stdout
    listed = {r["name"]: r for r in json.loads(invoke_cli("skills", "list", "--json", env=env).stdout)}
    assert listed["greeter"]["status"] == "ready" and listed["greeter"]["source"] == "workspace"
    again = invoke_cli("skills", "new", "greeter", env=env)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = invoke_cli("skills", "new", "Bad Name", env=env)
    assert bad.returncode == 2


def test_check_reports_broken_skill(home: Path, tmp_path: Path) -> None:
    folder = write_skill(tmp_path, "oops", tools="async def f(x):\n    return x\n")
    done = invoke_cli("skills", "check", str(folder), env=cli_env(home))
    assert done.returncode == 1 and "has no docstring" in done.stderr
    (folder / "SKILL.md").write_text("---\nname: oops\n---\n")
    done = invoke_cli("skills", "check", str(folder), env=cli_env(home))
    assert done.returncode == 1 and "needs a `description`" in done.stderr


def test_openclaw_style_skill_with_scripts_loads_and_is_listed(home: Path) -> None:
    folder = write_skill(
        home / "workspace" / "skills",
        "aiml-image-video",
        front_matter=(
            "name: aiml-image-video\ndescription: Generate images and videos with AI/ML API scripts.\n"
            'metadata: {"openclaw": {"primaryEnv": "AIMLAPI_API_KEY", "requires": {"env": ["AIMLAPI_API_KEY"], '
            '"bins": ["python3"]}}}\n'
        ),
        body='Run `python3 {baseDir}/scripts/gen_image.py --prompt "..."`.',
    )
    (folder / "scripts").mkdir()
    (folder / "scripts" / "gen_image.py").write_text("print('ok')\n")
    rows = {r["name"]: r for r in json.loads(invoke_cli("skills", "list", "--json", env=cli_env(home)).stdout)}
    # Its instructions only run its own scripts: "ready" only for an agent that may run them.
    row = rows["aiml-image-video"]
    assert (row["status"], row["detail"]) == ("unavailable", "needs exec to run its scripts (gen_image.py)")
    assert row["fix"] == "set allow_exec = true in [agents.main] of config.toml, after reading those scripts"
    write_config(home, "[agents.main]\nallow_exec = true\n")
    rows = {r["name"]: r for r in json.loads(invoke_cli("skills", "list", "--json", env=cli_env(home)).stdout)}
    assert rows["aiml-image-video"]["status"] == "ready"


async def test_hello_turn_prompt_stays_small(fake_aimlapi, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentbox.skillkit.gating.find_binary", lambda name, config: "/usr/bin/" + name)
    monkeypatch.setattr("agentbox.skillkit.gating.importlib.util.find_spec", lambda name: object())
    async with runtime_on(fake_aimlapi, home) as rt:
        result = await rt.runner.run(TurnRequest(session_key="t:hello", text="hello"))
        assert len(rt.skills.for_agent("main").skills) == 4
    assert result.ok
    body = fake_aimlapi.last_chat()
    tools = sent_tools(body)
    assert {"generate_image", "generate_video", "web_search", "view_web_page", "read_skill"} <= set(tools)
    tokens = estimate_tokens(system_text(body)) + estimate_tokens(json.dumps(body["tools"])) + estimate_tokens("hello")
    # Issue 4 set the bar at 2,000 for a 'hello' turn. With every default on (4 skills, memory,
    # schedules, speak: 15 tools) it measures about 1,900; anything that blows up the prompt fails here.
    assert tokens < 2000, tokens


def test_prompt_size_bench_runs(home: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "prompt_size.py"), "--json"],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["hello_turn_input_tokens"] < 2000 and len(result["skills"]) == 4
