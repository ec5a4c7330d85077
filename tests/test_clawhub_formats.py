"""OpenClaw / ClawHub SKILL.md shapes found in the public openclaw/skills archive, one small skill each.

Every skill here is written for the test and reproduces one quirk of published skills; none is
copied from the archive. Each loaded as broken (or lost what it declared) before issue 15.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbox.config import Config
from agentbox.skillkit import SkillRegistry
from agentbox.skillkit.loader import MAX_DEPTH, load_skill, parse_skill_md, skill_folders


def skill_at(tmp_path: Path, text: str, folder: str = "some-skill", manifest: str = "SKILL.md") -> Path:
    path = tmp_path / folder
    path.mkdir(parents=True, exist_ok=True)
    (path / manifest).write_bytes(text.encode("utf-8"))
    return path


def test_unquoted_colon_in_description_is_read_line_by_line(tmp_path: Path) -> None:
    text = "---\nname: discordish\ndescription: Use when: you need to post, react or pin.\n---\nBody.\n"
    skill = load_skill(skill_at(tmp_path, text), "workspace")
    assert skill.error is None
    assert skill.description == "Use when: you need to post, react or pin."
    assert skill.warnings and "read line by line as OpenClaw does" in skill.warnings[0]


def test_a_json_metadata_line_survives_the_line_parser(tmp_path: Path) -> None:
    text = (
        "---\nname: gh-issues\ndescription: Triage: label and close issues.\n"
        'metadata: {"clawdbot": {"emoji": "🐙", "requires": {"bins": ["gh"], "env": ["GH_TOKEN"]}}}\n---\n'
    )
    skill = load_skill(skill_at(tmp_path, text), "workspace")
    assert skill.error is None
    assert skill.requires.bins == ("gh",) and skill.requires.env == ("GH_TOKEN",) and skill.emoji == "🐙"


def test_an_indented_metadata_block_survives_the_line_parser(tmp_path: Path) -> None:
    text = (
        "---\nname: notes\ndescription: Notes: write them down.\nmetadata:\n"
        "  moltbot:\n    requires:\n      env: [NOTES_TOKEN]\n---\n"
    )
    skill = load_skill(skill_at(tmp_path, text), "workspace")
    assert skill.requires.env == ("NOTES_TOKEN",)


def test_a_name_that_is_not_a_slug_becomes_one(tmp_path: Path) -> None:
    skill = load_skill(skill_at(tmp_path, "---\nname: Agent Browser\ndescription: Browse.\n---\n"), "workspace")
    assert (skill.error, skill.name, skill.title) == (None, "agent-browser", "Agent Browser")


def test_a_missing_name_falls_back_to_the_folder(tmp_path: Path) -> None:
    text = "---\nslug: parcel\ndisplay_name: Parcel\ndescription: Track deliveries.\n---\n"
    skill = load_skill(skill_at(tmp_path, text, folder="parcel-tracking"), "workspace")
    assert (skill.error, skill.name) == (None, "parcel-tracking")


def test_lowercase_skill_md_crlf_and_bom(tmp_path: Path) -> None:
    text = "\ufeff---\r\nname: lower\r\ndescription: Written on Windows.\r\n---\r\nBody line.\r\n"
    skill = load_skill(skill_at(tmp_path, text, manifest="skill.md"), "workspace")
    assert (skill.error, skill.name, skill.manifest, skill.body) == (None, "lower", "skill.md", "Body line.")
    assert skill_folders(tmp_path) == [tmp_path / "some-skill"]


def test_a_long_description_loads(tmp_path: Path) -> None:
    description = "Does many things. " * 100  # 1,800 characters; OpenClaw sets no limit
    skill = load_skill(skill_at(tmp_path, f"---\nname: long\ndescription: {description}\n---\n"), "workspace")
    assert skill.error is None and skill.description == description.strip()
    assert len(skill.summary()) <= 140


def test_every_metadata_generation_is_read(tmp_path: Path) -> None:
    for key, var in (("openclaw", "A_KEY"), ("clawdbot", "B_KEY"), ("moltbot", "C_KEY"), ("clawdis", "D_KEY")):
        text = (
            f'---\nname: gen-{key}\ndescription: x\nmetadata: {{"{key}": {{"requires": {{"env": ["{var}"]}}}}}}\n---\n'
        )
        assert parse_skill_md(text, path=tmp_path, source="workspace").requires.env == (var,), key


def test_the_aiml_shape_top_level_env_and_primary_env(tmp_path: Path) -> None:
    text = (
        "---\nname: aimlapi-media-gen\ndescription: Generate images and videos.\n"
        "env:\n  - AIMLAPI_API_KEY\nprimaryEnv: AIMLAPI_API_KEY\n---\n"
        'Run `python3 {baseDir}/scripts/gen_video.py --prompt "..."`.\n'
    )
    folder = skill_at(tmp_path, text, folder="aiml-image-video")
    skill = load_skill(folder, "workspace")
    assert skill.requires.env == ("AIMLAPI_API_KEY",) and skill.primary_env == "AIMLAPI_API_KEY"
    assert skill.declared_env == frozenset({"AIMLAPI_API_KEY"})
    assert "{baseDir}" not in skill.body and f"python3 {folder.resolve()}/scripts/gen_video.py" in skill.body


def test_top_level_requires_env_objects_csv_and_prose(tmp_path: Path) -> None:
    text = (
        "---\nname: mixed\ndescription: x\n"
        'requires:\n  bins: [python3, ffmpeg]\n  python: ">=3.10"\n'
        "env:\n  - name: MIXED_TOKEN\n    required: true\n  - name: MIXED_REGION\n    required: false\n"
        'metadata: {"openclaw": {"requires": {"anyBins": "rg, grep"}, "optionalEnv": ["MIXED_DEBUG"]}}\n---\n'
    )
    skill = parse_skill_md(text, path=tmp_path, source="workspace")
    assert skill.requires.bins == ("python3", "ffmpeg") and skill.requires.any_bins == ("rg", "grep")
    assert skill.requires.env == ("MIXED_TOKEN",) and set(skill.optional_env) == {"MIXED_REGION", "MIXED_DEBUG"}
    assert skill.requires.python == ()  # ">=3.10" is a version range, not a module
    assert any("'>=3.10': not a name" in warning for warning in skill.warnings)
    assert skill.declared_env == frozenset({"MIXED_TOKEN", "MIXED_REGION", "MIXED_DEBUG"})


def test_install_hints_in_both_shapes(tmp_path: Path) -> None:
    text = (
        "---\nname: hints\ndescription: x\nmetadata:\n  clawdbot:\n    install:\n"
        "      - {kind: brew, formula: gh, label: GitHub CLI}\n      - {kind: node, package: '@scope/cli'}\n"
        "install:\n  uv: [some-tool]\n---\n"
    )
    hints = [hint.render() for hint in parse_skill_md(text, path=tmp_path, source="workspace").install]
    assert hints == ["brew install gh (GitHub CLI)", "npm install -g @scope/cli", "uv tool install some-tool"]


def test_always_true_is_ready_despite_an_unmet_requirement(home: Path) -> None:
    root = Config().workspace / "skills"
    skill_at(root, '---\nname: always-on\ndescription: x\nmetadata: {"clawdbot": {"always": true, '
             '"requires": {"env": ["NEVER_SET_KEY"]}}}\n---\n', folder="always-on")  # fmt: skip
    skill = SkillRegistry(Config(), environ={}, include_bundled=False).skills()["always-on"]
    assert skill.status == "ready"
    assert skill.status_text() == "ready (always: true, although it needs env NEVER_SET_KEY)"


def test_nested_skills_are_found_to_a_bounded_depth(tmp_path: Path) -> None:
    root = tmp_path / "root"
    skill_at(root, "---\nname: direct\ndescription: x\n---\n", folder="direct")
    skill_at(root, "---\nname: by-owner\ndescription: x\n---\n", folder="owner/by-owner")
    skill_at(root, "---\nname: in-repo\ndescription: x\n---\n", folder="repo/skills/in-repo")
    skill_at(root, "---\nname: inner\ndescription: x\n---\n", folder="direct/sub/inner")  # inside a skill: not one
    skill_at(root, "---\nname: deps\ndescription: x\n---\n", folder="tool/node_modules/deps")
    skill_at(root, "---\nname: hidden\ndescription: x\n---\n", folder=".git/hidden")
    too_deep = "/".join(f"d{level}" for level in range(MAX_DEPTH)) + "/too-deep"
    skill_at(root, "---\nname: too-deep\ndescription: x\n---\n", folder=too_deep)
    os.symlink(root, root / "owner" / "loop")  # a cycle must not hang discovery
    skill_at(tmp_path, "---\nname: linked\ndescription: x\n---\n", folder="dev/linked")
    os.symlink(tmp_path / "dev" / "linked", root / "linked", target_is_directory=True)  # developed elsewhere
    found = [load_skill(folder, "workspace").name for folder in skill_folders(root)]
    assert sorted(found) == ["by-owner", "direct", "in-repo", "linked"]


def test_two_owners_publishing_one_name_keep_one_with_a_note(home: Path) -> None:
    root = Config().workspace / "skills"
    skill_at(root, "---\nname: Agent Browser\ndescription: first\n---\n", folder="alice/agent-browser")
    skill_at(root, "---\nname: agent-browser\ndescription: second\n---\n", folder="bob/agent-browser")
    skill = SkillRegistry(Config(), environ={}, include_bundled=False).skills()["agent-browser"]
    assert skill.description == "second" and skill.overrides == [root / "alice" / "agent-browser"]


SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="#\ufeff\x85"),
    min_size=1,
    max_size=120,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.from_regex(r"[A-Za-z][A-Za-z ]{0,20}", fullmatch=True), tail=SAFE_TEXT)
def test_any_description_with_an_unquoted_colon_loads_as_written(tmp_path: Path, head: str, tail: str) -> None:
    description = f"{head}: {tail}".strip()
    text = f"---\nname: colon\ndescription: {description}\n---\nbody\n"
    skill = parse_skill_md(text, path=tmp_path, source="workspace")
    assert skill.description == description.strip()
