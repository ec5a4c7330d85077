"""A user or workspace skill named like a bundled one replaces it: `skills list` says so, `skills new` warns."""

from __future__ import annotations

import json
from pathlib import Path

from agentbox.skillkit.registry import bundled_root
from tests.clirun import invoke_cli
from tests.helpers import cli_env
from tests.skills_helpers import write_skill


def test_list_says_which_skill_replaces_which(home: Path) -> None:
    mine = write_skill(home / "skills", "web-search", description="My own search.")
    env = cli_env(home)
    rows = {row["name"]: row for row in json.loads(invoke_cli("skills", "list", "--json", env=env).stdout)}
    assert rows["web-search"]["source"] == "user"
    assert rows["web-search"]["overrides"] == [{"source": "bundled", "path": str(bundled_root() / "web-search")}]
    assert rows["image-generation"]["overrides"] == []

    table = invoke_cli("skills", "list", env=env)
    assert table.returncode == 0, table.stderr
    note = next(line for line in table.stdout.splitlines() if line.startswith("note: web-search"))
    assert f"the user skill ({mine}) replaces the bundled one" in note


def test_workspace_over_user_over_bundled_lists_both_hidden_ones(home: Path) -> None:
    write_skill(home / "skills", "web-search")
    write_skill(home / "workspace" / "skills", "web-search")
    [row] = [
        r
        for r in json.loads(invoke_cli("skills", "list", "--json", env=cli_env(home)).stdout)
        if r["name"] == "web-search"
    ]
    assert row["source"] == "workspace"
    assert [o["source"] for o in row["overrides"]] == ["bundled", "user"]


def test_new_warns_when_it_replaces_a_bundled_skill(home: Path) -> None:
    env = cli_env(home)
    done = invoke_cli("skills", "new", "web-search", env=env)
    assert done.returncode == 0, done.stderr  # overriding on purpose is allowed
    assert (
        f"a bundled skill named 'web-search' exists ({bundled_root() / 'web-search'}); yours replaces it" in done.stderr
    )
    assert "choose another name to keep both" in done.stderr
    fresh = invoke_cli("skills", "new", "weather-now", env=env)
    assert fresh.returncode == 0 and "warning" not in fresh.stderr


def test_new_outside_the_roots_warns_that_the_existing_one_is_used(home: Path, tmp_path: Path) -> None:
    done = invoke_cli("skills", "new", "image-generation", "--dir", str(tmp_path / "elsewhere"), env=cli_env(home))
    assert done.returncode == 0, done.stderr
    assert "agentbox uses the bundled skill 'image-generation'" in done.stderr and "not this one" in done.stderr
