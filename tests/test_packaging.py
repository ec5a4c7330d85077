"""The wheel ships every package: a folder with an `__init__.py` that pyproject forgets would work
in the editable install here and be missing for every user who runs `pip install .`."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_python_package_on_disk_is_listed_in_pyproject() -> None:
    tool = _setuptools()
    listed = set(tool["packages"])
    on_disk = set()
    for name, folder in tool["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            relative = init.parent.relative_to(base).parts
            if any("-" in part for part in relative):
                continue  # bundled skill folders (web-search/...) ship as package data, not packages
            on_disk.add(".".join((name, *relative)))
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - on_disk == set(), "listed but not on disk"


def test_typing_marker_and_bundled_skills_are_package_data() -> None:
    data = _setuptools()["package-data"]
    assert "py.typed" in data["agentbox"] and (ROOT / "agentbox" / "py.typed").is_file()
    assert data["agentbox.bundled_skills"] == ["**/*"]
    assert sorted(p.parent.name for p in (ROOT / "skills").glob("*/SKILL.md"))


def test_the_web_panel_ships_its_templates_and_static_files() -> None:
    """The panel fetches nothing at run time: every template and static file must be in the wheel."""
    from fnmatch import fnmatch

    patterns = _setuptools()["package-data"]["agentbox.web"]
    web = ROOT / "agentbox" / "web"
    files = [p.relative_to(web).as_posix() for folder in ("templates", "static") for p in (web / folder).iterdir()]
    assert "templates/base.html" in files and "static/panel.css" in files and "static/panel.js" in files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []
