"""Skill discovery: precedence, gating with exact reasons, broken-skill isolation, caching, per-agent choice."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agentbox.config import AgentConfig, Config
from agentbox.skillkit import SkillRegistry, fixes
from agentbox.skillkit.loader import parse_skill_md
from tests.skills_helpers import requires, write_skill

BUNDLED = {"image-generation", "video-generation", "web-search", "web-page-vision"}
KEY_ENV = {"AIMLAPI_API_KEY": "k"}


def registry(config: Config | None = None, environ: dict[str, str] | None = None, **kw: object) -> SkillRegistry:
    return SkillRegistry(config or Config(), environ=KEY_ENV if environ is None else environ, **kw)  # type: ignore[arg-type]


def test_bundled_skills_are_found_and_ready_with_a_key(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentbox.skillkit.gating.find_binary", lambda name, config: f"/usr/bin/{name}")
    skills = registry().skills()
    assert BUNDLED <= set(skills)
    for name in BUNDLED:
        assert skills[name].source == "bundled"
        assert skills[name].status == "ready", skills[name].status_text()


def test_precedence_bundled_extra_user_workspace(home: Path, tmp_path: Path) -> None:
    extra = tmp_path / "team-skills"
    config = Config()
    config.skills.extra_dirs = [str(extra)]
    write_skill(extra, "web-search", description="team search")
    write_skill(extra, "team-only", description="from the team dir")
    write_skill(home / "skills", "web-search", description="user search")
    write_skill(home / "skills", "mine", description="user skill")
    write_skill(config.workspace / "skills", "mine", description="workspace wins")

    skills = registry(config).skills()
    assert skills["web-search"].source == "user"
    assert skills["web-search"].description == "user search"
    # the user copy shadows both the team copy and the bundled one, in order
    assert [p.parent.name for p in skills["web-search"].overrides] == ["skills", "team-skills"]
    assert skills["mine"].source == "workspace" and skills["mine"].description == "workspace wins"
    assert skills["team-only"].source == "extra"
    assert skills["image-generation"].source == "bundled"


def test_extra_dir_overrides_bundled(home: Path, tmp_path: Path) -> None:
    config = Config()
    config.skills.extra_dirs = [str(tmp_path / "x")]
    write_skill(tmp_path / "x", "web-search", description="replaced")
    assert registry(config).skills()["web-search"].source == "extra"


def test_gating_reasons_are_exact(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    root = Config().workspace / "skills"
    write_skill(root, "needs-env", metadata=requires(env=["WEATHER_API_KEY"]))
    write_skill(root, "needs-bin", metadata=requires(bins=["definitely-not-a-binary"]))
    write_skill(root, "needs-config", metadata=requires(config=["token"]))
    write_skill(root, "needs-python", metadata={"agentbox": {"requires": {"python": ["no_such_module_xyz"]}}})
    write_skill(root, "needs-os", metadata=requires(os=["plan9"]))
    skills = registry(environ={}).skills()
    assert skills["image-generation"].status_text() == (
        "unavailable: needs env AIMLAPI_API_KEY — fix: agentbox onboard --api-key <key> (keys: https://aimlapi.com/app/keys)"
    )
    # every unmet requirement is named, not just the first
    assert skills["web-page-vision"].reason.startswith("needs env AIMLAPI_API_KEY; needs binary chromium")  # type: ignore[union-attr]
    assert skills["needs-env"].reason == "needs env WEATHER_API_KEY"
    assert skills["needs-bin"].reason == "needs binary definitely-not-a-binary"
    assert skills["needs-config"].reason == "needs config token"
    assert skills["needs-python"].reason == "needs python package no_such_module_xyz"
    dotenv = fixes.shell_path(home / ".env")
    assert skills["needs-env"].fix == f"add WEATHER_API_KEY=<value> to {dotenv} or to [skills.config.needs-env.env]"
    assert (
        skills["needs-config"].fix
        == f"set token in [skills.config.needs-config] of {fixes.shell_path(home / 'config.toml')}"
    )
    assert skills["needs-python"].fix == f"{fixes.shell_path(sys.executable)} -m pip install no_such_module_xyz"
    assert skills["needs-bin"].fix.startswith("install definitely-not-a-binary")  # PATH is empty: no apt, dnf...
    assert skills["needs-os"].fix is None  # nothing to install
    assert skills["needs-os"].reason == "needs os plan9"


def test_chromium_missing_makes_web_page_vision_unavailable(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentbox.skillkit.gating.shutil.which", lambda name: None)
    skills = registry().skills()
    vision = skills["web-page-vision"]
    assert vision.status_text() == f"unavailable: needs binary chromium — fix: {fixes.binary_install('chromium')}"
    assert vision.fix and "chromium_path" in vision.fix
    assert skills["web-search"].status == "ready"


def test_requirements_met_from_config(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    chromium = tmp_path / "my-chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    config = Config()
    config.skills.chromium_path = str(chromium)
    config.skills.config = {"needs-config": {"token": "t", "env": {"WEATHER_API_KEY": "w"}}}
    root = config.workspace / "skills"
    write_skill(root, "needs-config", metadata=requires(config=["token"], env=["WEATHER_API_KEY"]))
    monkeypatch.setattr("agentbox.skillkit.gating.shutil.which", lambda name: None)
    skills = registry(config).skills()
    assert skills["needs-config"].status == "ready"
    assert skills["web-page-vision"].status == "ready"  # chromium_path counts


def test_openclaw_json_metadata_and_clawdbot_key(tmp_path: Path) -> None:
    text = (
        "---\nname: nano\ndescription: Images via Gemini\n"
        'metadata: {"openclaw": {"emoji": "🍌", "primaryEnv": "GEMINI_API_KEY", '
        '"requires": {"bins": ["uv"], "env": ["GEMINI_API_KEY"]}}, '
        '"clawdbot": {"requires": {"anyBins": ["python3", "python"]}}}\n---\nRun scripts/gen.py\n'
    )
    skill = parse_skill_md(text, path=tmp_path, source="workspace")
    assert skill.requires.bins == ("uv",) and skill.requires.any_bins == ("python3", "python")
    assert skill.declared_env == frozenset({"GEMINI_API_KEY"})
    assert skill.emoji == "🍌" and skill.body == "Run scripts/gen.py"


BROKEN_CASES = {
    "no-description": ("name: no-description\n", None, "needs a `description`"),
    "import-error": (None, "raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    "syntax-error": (None, "def broken(:\n", "SyntaxError"),
    "undocumented": (None, "async def f(x: int) -> int:\n    return x\n", "has no docstring"),
    "untyped": (None, 'async def f(x):\n    """Doc."""\n    return x\n', "has no type hint"),
}


def test_broken_skills_are_isolated_with_their_error(home: Path) -> None:
    root = Config().workspace / "skills"
    for name, (front, tools, _) in BROKEN_CASES.items():
        write_skill(root, name, front_matter=front, tools=tools)
    (root / "no-front-matter").mkdir()
    (root / "no-front-matter" / "SKILL.md").write_text("just text\n")
    (root / "unclosed").mkdir()
    (root / "unclosed" / "SKILL.md").write_text("---\nname: unclosed\ndescription: no end\n\nbody\n")
    write_skill(root, "fine", tools='async def fine_tool(x: int) -> int:\n    """Double x."""\n    return 2 * x\n')
    reg = registry()
    listing = {skill.name: text for skill, text in reg.listing()}
    for name, (_, _, expected) in BROKEN_CASES.items():
        assert listing[name].startswith("broken: ") and expected in listing[name], (name, listing[name])
    assert "must start with a '---' line" in listing["no-front-matter"]
    assert "not closed by a '---' line" in listing["unclosed"]
    assert listing["fine"] == "ready"
    agent = reg.for_agent("main")
    assert "fine" in agent.skills and not set(BROKEN_CASES) & set(agent.skills)
    assert agent.tools["fine"] == ["fine_tool"]


def test_clashing_tool_names_break_the_later_skill_only(home: Path) -> None:
    root = Config().workspace / "skills"
    tool = 'async def same(x: int) -> int:\n    """Same name."""\n    return x\n'
    write_skill(root, "a-first", tools=tool)
    write_skill(root, "b-second", tools=tool)
    write_skill(root, "c-builtin", tools='async def read_skill(x: str) -> str:\n    """Shadow."""\n    return x\n')
    agent = registry().for_agent("main")
    assert "a-first" in agent.skills
    skills = registry().skills()  # fresh registry: statuses come from the same rules
    reg = registry()
    reg.for_agent("main")
    assert reg.get("b-second").error == "tool 'same' is already provided by skill a-first"  # type: ignore[union-attr]
    assert "already provided by agentbox" in (reg.get("c-builtin").error or "")  # type: ignore[union-attr]
    assert skills["a-first"].status == "ready"


def test_disabled_and_unlisted_skills_are_not_imported(home: Path) -> None:
    root = Config().workspace / "skills"
    marker = "import sys\nsys.modules.setdefault('agentbox_test_imported_{n}', sys)\n"
    for name in ("on", "off", "unlisted"):
        write_skill(
            root,
            name,
            tools=marker.format(n=name) + f'async def {name}_tool() -> str:\n    """T."""\n    return "x"\n',
        )
    config = Config()
    config.agents = {"main": AgentConfig(skills=["on", "off"], disabled_skills=["off"])}
    reg = registry(config)
    agent = reg.for_agent("main")
    assert list(agent.skills) == ["on"]
    assert "agentbox_test_imported_on" in sys.modules
    assert "agentbox_test_imported_off" not in sys.modules
    assert "agentbox_test_imported_unlisted" not in sys.modules
    assert dict((s.name, t) for s, t in reg.listing("main"))["off"] == "disabled"


def test_discovery_is_cached_until_a_skill_changes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agentbox.skillkit.registry as registry_module

    calls = []
    real = registry_module.discover
    monkeypatch.setattr(registry_module, "discover", lambda roots: calls.append(1) or real(roots))
    reg = registry()
    reg.skills()
    reg.skills()
    reg.for_agent("main")
    assert len(calls) == 1
    write_skill(Config().workspace / "skills", "new-one")
    assert "new-one" in reg.skills()
    assert len(calls) == 2


def test_prompt_lists_name_and_one_line_only(home: Path) -> None:
    write_skill(
        Config().workspace / "skills",
        "long",
        description="First line of the description.\nSecond line never shown.",
        body="SECRET BODY TEXT",
    )
    text = registry().instructions("main")
    assert "- long: First line of the description." in text
    assert "Second line" not in text and "SECRET BODY TEXT" not in text
    assert "read_skill" in text


def test_a_skillkit_submodule_loads_without_the_registry_and_the_turn() -> None:
    """The log filter reads `gating.env_reference` at every CLI start: that must not load the whole skill system."""
    import subprocess

    code = (
        "import sys\nimport agentbox.skillkit.gating\n"
        "print(sorted(m for m in ('agentbox.skillkit.registry', 'agentbox.turn.deps') if m in sys.modules))\n"
        "from agentbox.skillkit import SkillRegistry, TurnDeps, skill_env\n"
        "print(SkillRegistry.__module__, TurnDeps.__module__, skill_env.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == [
        "[]",
        "agentbox.skillkit.registry agentbox.turn.deps agentbox.skillkit.api",
    ], done.stderr
