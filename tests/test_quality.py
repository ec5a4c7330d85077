"""The house rules that tools can check: ruff-clean code, mypy-clean types on agentbox/, connectors/ and the bundled skills."""

from __future__ import annotations

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
