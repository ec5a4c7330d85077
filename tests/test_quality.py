"""The house rules that tools can check: ruff-clean code, mypy-clean types on agentbox/, connectors/ and the bundled
skills, and American spelling of the -ize words the code uses."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return path


def test_ruff_finds_nothing() -> None:
    done = subprocess.run(
        [_tool("ruff"), "check", "agentbox", "connectors", "skills", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_mypy_finds_nothing_in_agentbox_and_connectors() -> None:
    done = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "connectors" in _mypy_config()["files"]


@pytest.mark.parametrize("tools", sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("skills/*/tools.py")))
def test_mypy_finds_nothing_in_bundled_skill(tools: str) -> None:
    # One run per skill: every tools.py is module "tools" to mypy, and one run cannot hold two of them.
    done = subprocess.run([_tool("mypy"), tools], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def _mypy_config() -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    return config


# British -ise forms of words this code base uses (in names too: `_normalise_json`); -our words are left alone.
BRITISH_ISE = re.compile(
    r"(normal|organ|recogn|serial|summar|initial|author|neutral)is(e|ing|ation|able)\w*", re.IGNORECASE
)
SPELLING_PATHS = ("agentbox", "connectors", "skills", "docs", "README.md")


def _shipped_text_files() -> list[Path]:
    """Tracked .py and .md files of the package, connectors, bundled skills and docs (every such file outside a git checkout)."""
    listed = subprocess.run(["git", "ls-files", "--", *SPELLING_PATHS], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout:
        paths = [ROOT / line for line in listed.stdout.splitlines()]
    else:
        paths = [ROOT / "README.md", *(p for top in SPELLING_PATHS[:-1] for p in (ROOT / top).rglob("*"))]
    return sorted(p for p in paths if p.suffix in (".py", ".md") and p.is_file())


def test_the_code_and_docs_spell_ize_words_the_american_way() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {match.group(0)}"
        for path in _shipped_text_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for match in BRITISH_ISE.finditer(line)
    ]
    assert found == [], "British spellings (use -ize):\n" + "\n".join(found)
