"""`bench/clawhub_skills.py` on a tiny archive written here: one skill folder of each shape it sorts,
so its counts are known exactly. The figures it measured on the public archive are in
docs/writing-skills.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import cli_env
from tests.skills_helpers import requires, write_skill

REPO = Path(__file__).resolve().parents[1]
MISSING_PROGRAM = "agentbox-test-no-such-program"


def write_archive(root: Path) -> None:
    """Seven SKILL.md files in `owner/skill/` folders, as the openclaw/skills repository nests them."""
    curl = "```bash\ncurl -s https://api.example.com/v1/items\n```"
    write_skill(root / "ann", "http-only", body=curl)
    write_skill(root / "ann", "needs-key", body=curl, metadata=requires(env=["EXAMPLE_API_KEY"]))
    own_script = write_skill(root / "bob", "own-script", body="```bash\npython3 {baseDir}/scripts/run.py --go\n```")
    (own_script / "scripts").mkdir()
    (own_script / "scripts" / "run.py").write_text("print('ran')\n")
    write_skill(root / "bob", "needs-gh", body="```bash\ngh issue list --repo owner/name\n```")
    write_skill(root / "cy", "missing-program", body=curl, metadata=requires(bins=[MISSING_PROGRAM]))
    # broken front matter: never closed, and none at all; neither OpenClaw nor agentbox reads them
    (root / "cy" / "unclosed").mkdir()
    (root / "cy" / "unclosed" / "SKILL.md").write_text("---\nname: unclosed\ndescription: [oops\n")
    (root / "cy" / "prose").mkdir()
    (root / "cy" / "prose" / "SKILL.md").write_text("Just prose, no front matter.\n")


def run_bench(archive: Path, home: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "clawhub_skills.py"), str(archive), "--json"],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def as_git_directory(folder: Path) -> Path:
    """The folder committed to a git repository; the bench is given its git directory (no work tree)."""

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "skills")
    return folder / ".git"


@pytest.mark.parametrize("form", ["folder", "git directory"])
def test_the_clawhub_bench_counts_each_shape_of_skill(home: Path, tmp_path: Path, form: str) -> None:
    archive = tmp_path / "skills"
    write_archive(archive)
    result = run_bench(archive if form == "folder" else as_git_directory(archive), home)
    figures = result["all"]
    assert (figures["files"], figures["openclaw_reads"], figures["loads"]) == (7, 5, 5)
    assert figures["openclaw_reads_but_agentbox_fails"] == []
    # the declared key counts as supplied by the owner; a program this machine lacks does not
    assert figures["ready_by_requirements"] == 4
    verdicts = ("of_those_act_without_exec", "of_those_need_exec", "of_those_need_a_shell")
    assert [figures[key] for key in verdicts] == [2, 1, 1]
    assert figures["act_share_of_ready_by_requirements"] == 0.5
    assert (figures["ready"], figures["ready_with_exec"]) == (2, 3)
    assert figures["programs_that_need_a_shell"] == [["gh", 1]]
    # seven folders are fewer than the default sample of 40: the sample is the whole archive
    assert result["sample"] == figures
