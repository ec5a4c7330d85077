"""OpenClaw-style skills doing their job in real turns: {baseDir}, declared secrets reaching scripts, env
grants, read_skill on any file, the prompt budget, and honest "ready" labels."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from agentbox.config import AgentConfig, Config
from agentbox.logs import collect_secrets
from agentbox.skillkit import SkillRegistry
from agentbox.turn.runner import TurnRequest
from tests.clirun import invoke_cli
from tests.fakes.aimlapi import Reply, ToolCall
from tests.helpers import API_KEY, cli_env, runtime_on
from tests.skills_helpers import sent_tools, system_text, tool_outputs, write_skill

GEN_VIDEO = """
import hashlib, os, sys
key = os.environ.get("AIMLAPI_API_KEY")
print("key:", "received sha256=" + hashlib.sha256(key.encode()).hexdigest()[:16] if key else "MISSING")
print("args:", " ".join(sys.argv[1:]))
"""

# The shape of the AI/ML API's own ClawHub skill `aiml-image-video`: top-level `env` list and
# `primaryEnv`, no metadata block, instructions that run a script through {baseDir}.
AIML_SHAPE = (
    "name: aimlapi-media-gen\n"
    "description: Generate images and videos with the AI/ML API.\n"
    "env:\n  - AIMLAPI_API_KEY\n"
    "primaryEnv: AIMLAPI_API_KEY\n"
)
AIML_BODY = 'To make a video run:\n\n```bash\npython3 {baseDir}/scripts/gen_video.py --prompt "<what to show>"\n```\n'


def aiml_shaped_skill(home: Path) -> Path:
    folder = write_skill(
        home / "workspace" / "skills", "aimlapi-media-gen", folder="aiml-image-video", front_matter=AIML_SHAPE,
        body=AIML_BODY,
    )  # fmt: skip
    (folder / "scripts").mkdir()
    (folder / "scripts" / "gen_video.py").write_text(GEN_VIDEO)
    return folder


async def test_the_aiml_skill_shape_works_unchanged_with_exec(fake_aimlapi, home: Path) -> None:
    folder = aiml_shaped_skill(home).resolve()
    script = f"{folder}/scripts/gen_video.py"
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("read_skill", {"name": "aimlapi-media-gen"})]),
        Reply(tool_calls=[ToolCall("exec", {"skill": "aimlapi-media-gen", "path": script, "args": ["--prompt", "a cat"]})]),
        Reply(text="Your video is rendering."),
    )  # fmt: skip
    async with runtime_on(fake_aimlapi, home, "[agents.main]\nallow_exec = true\n") as rt:
        result = await rt.runner.run(TurnRequest(session_key="t:aiml", text="make a cat video"))
    assert result.ok, result.error
    instructions, ran = tool_outputs(fake_aimlapi.last_chat())
    assert "{baseDir}" not in instructions and f"python3 {script} --prompt" in instructions  # a real path
    digest = hashlib.sha256(API_KEY.encode()).hexdigest()[:16]
    assert f"key: received sha256={digest}" in ran and "args: --prompt a cat" in ran  # the script got the key


async def test_without_exec_the_same_skill_says_what_it_needs(fake_aimlapi, home: Path) -> None:
    aiml_shaped_skill(home)
    async with runtime_on(fake_aimlapi, home) as rt:
        await rt.runner.run(TurnRequest(session_key="t:aiml2", text="hi"))
    system = system_text(fake_aimlapi.last_chat())
    assert "## Skills not available yet" in system
    assert "aimlapi-media-gen" in system.split("## Skills not available yet")[1]
    assert "needs exec to run its scripts (gen_video.py)" in system and "allow_exec = true" in system


API_SKILL = """\
Call the Acme API:

```bash
curl -s https://api.acme.example/v1/items -H "Authorization: Bearer $ACME_TOKEN"
```
"""


async def test_an_owner_grant_gives_an_undeclared_env_var_to_one_skill(
    fake_aimlapi, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_ACME_KEY", "acme-secret-value-77")
    folder = write_skill(home / "workspace" / "skills", "acme", body=API_SKILL + "Or `python3 {baseDir}/show.py`.")
    (folder / "show.py").write_text("import os\nprint('token=' + os.environ.get('ACME_TOKEN', '<unset>'))\n")
    write_skill(home / "workspace" / "skills", "other", body="Run `python3 {baseDir}/show.py`.")
    (home / "workspace" / "skills" / "other" / "show.py").write_text((folder / "show.py").read_text())
    config = '[agents.main]\nallow_exec = true\n\n[skills.config.acme]\nenv = {ACME_TOKEN = "MY_ACME_KEY"}\n'
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("exec", {"skill": name, "path": "show.py"}) for name in ("acme", "other")]),
        Reply(text="ok"),
    )
    async with runtime_on(fake_aimlapi, home, config) as rt:
        await rt.runner.run(TurnRequest(session_key="t:grant", text="token?"))
    granted, not_granted = tool_outputs(fake_aimlapi.last_chat())
    assert "token=***" in granted  # the script got it; the model sees it masked
    assert "token=<unset>" in not_granted  # another skill does not
    # The grant names a variable: its value is a secret, the name is not (it must not turn into *** in logs).
    assert "MY_ACME_KEY" not in collect_secrets(rt.config)


def test_a_grant_naming_an_unset_variable_is_an_unmet_requirement(home: Path) -> None:
    root = Config().workspace / "skills"
    write_skill(root, "needs-two", metadata={"openclaw": {"requires": {"env": ["TOKEN_A", "TOKEN_B"]}}})
    config = Config()
    config.skills.config = {"needs-two": {"env": {"TOKEN_A": "${OWNER_TOKEN_A}"}}}
    skill = SkillRegistry(config, environ={}, include_bundled=False).skills()["needs-two"]
    assert skill.reason == "needs env OWNER_TOKEN_A (granted as TOKEN_A); needs env TOKEN_B"


def test_skills_list_shows_every_unmet_requirement_and_the_install_hints(home: Path, tmp_path: Path) -> None:
    write_skill(
        home / "workspace" / "skills",
        "many-needs",
        metadata={
            "clawdbot": {
                "requires": {"env": ["FIRST_KEY", "SECOND_KEY"], "bins": ["no-such-tool-a", "no-such-tool-b"]},
                "install": [{"kind": "brew", "formula": "example/tap/tool-a"}],
            }
        },
    )
    env = cli_env(home, PATH=str(tmp_path / "empty-bin"))
    row = next(
        r for r in json.loads(invoke_cli("skills", "list", "--json", env=env).stdout) if r["name"] == "many-needs"
    )
    assert [item["need"] for item in row["unmet"]] == [
        "needs env FIRST_KEY",
        "needs env SECOND_KEY",
        "needs binary no-such-tool-a",
        "needs binary no-such-tool-b",
    ]
    assert row["install"] == ["brew install example/tap/tool-a"]
    table = invoke_cli("skills", "list", env={**env, "COLUMNS": "200"}).stdout
    assert table.count("fix for many-needs: ") == 4 and "many-needs suggests: brew install example/tap/tool-a" in table


def test_ready_means_able_to_act(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentbox.skillkit.gating.find_binary", lambda name, config: f"/usr/bin/{name}")
    root = Config().workspace / "skills"
    write_skill(root, "curl-api", body=API_SKILL)
    write_skill(root, "gh-cli", body="```bash\ngh pr list --repo owner/repo\ngh pr view 12\n```\n")
    write_skill(root, "own-script", body="```bash\npython3 {baseDir}/scripts/run.py\n```\n")
    write_skill(root, "advice", body="Ask three questions, then write a plan in Markdown.")
    with_exec = Config(agents={"main": AgentConfig(allow_exec=True)})
    for config, expected in ((Config(), "unavailable"), (with_exec, "ready")):
        registry = SkillRegistry(config, environ={}, include_bundled=False)
        listing = {skill.name: text for skill, text in registry.listing("main")}
        assert listing["curl-api"] == listing["advice"] == "ready"
        assert listing["gh-cli"] == "unavailable: needs a shell to run gh (agentbox runs no shell commands)"
        assert listing["own-script"].startswith(expected)


async def test_read_skill_opens_files_inside_the_skill_only(fake_aimlapi, home: Path, tmp_path: Path) -> None:
    folder = write_skill(home / "workspace" / "skills", "docs", body="See references/api.md.")
    (folder / "references").mkdir()
    (folder / "references" / "api.md").write_text("# API\nBase: {baseDir}/data\n")
    (folder / "references" / "big.txt").write_text("x" * 200_000)
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + os.urandom(64))
    (tmp_path / "secret.txt").write_text("OUTSIDE")
    (folder / "link.md").symlink_to(tmp_path / "secret.txt")
    calls = ["references/api.md", "../../../../secret.txt", str(tmp_path / "secret.txt"), "link.md"]
    calls += ["references/big.txt", "logo.png", "references", "nope.md"]
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("read_skill", {"name": "docs"})]),
        Reply(tool_calls=[ToolCall("read_skill", {"name": "docs", "path": path}) for path in calls]),
        Reply(text="read"),
    )
    async with runtime_on(fake_aimlapi, home) as rt:
        await rt.runner.run(TurnRequest(session_key="t:files", text="docs?"))
    listing, api, parent, absolute, link, big, logo, folder_list, missing = tool_outputs(fake_aimlapi.last_chat())
    assert "- references/api.md" in listing and "- logo.png" in listing
    assert api == f"# API\nBase: {folder.resolve()}/data\n"
    assert parent.startswith("refused:") and "'..' is not allowed" in parent
    assert absolute.startswith("refused:") and link.startswith("refused:")
    assert "OUTSIDE" not in parent + absolute + link
    assert big.endswith("x\n\n(cut at 24000 characters; the file has 200000 bytes)")
    assert logo.startswith("(logo.png is a binary file of")
    assert folder_list.split("\n") == ["references/api.md", "references/big.txt"]
    assert missing.startswith("no file 'nope.md'")


async def test_the_prompt_stays_within_budget_with_500_skills(fake_aimlapi, home: Path) -> None:
    root = home / "workspace" / "skills"
    for number in range(500):
        topic = "invoices" if number == 417 else f"topic {number}"
        write_skill(root, f"skill-{number:03d}", description=f"Handles {topic} with care, in detail, every time.")
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("find_skill", {"query": "invoices"})]), Reply(text="found"))
    async with runtime_on(fake_aimlapi, home) as rt:
        instructions = rt.skills.instructions("main")
        await rt.runner.run(TurnRequest(session_key="t:budget", text="invoices?"))
    assert len(instructions) <= Config().skills.max_prompt_chars
    assert "- skill-000: Handles topic 0" in instructions  # described while the budget lasts
    assert "More skills (names only" in instructions and "find_skill(query)" in instructions
    body = fake_aimlapi.last_chat()
    assert "find_skill" in sent_tools(body)
    assert tool_outputs(body)[0].startswith("- skill-417: Handles invoices")
