"""Dependencies: no private module of a dependency is imported, every imported package is declared,
and constraints.txt (what CI installs) pins each declared package inside its pyproject range."""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("agentbox", "connectors", "skills")  # what `pip install agentbox` runs
FIRST_PARTY = {"agentbox"}


def pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def declared(*, extras: tuple[str, ...]) -> list[Requirement]:
    project = pyproject()["project"]
    lines = [*project["dependencies"]]
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def imports(source: str) -> Iterator[tuple[str, list[str]]]:
    """(module path, imported names) of every absolute import in the source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [alias.name for alias in node.names]


def shipped_imports() -> Iterator[tuple[Path, str, list[str]]]:
    for folder in SHIPPED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for module, names in imports(path.read_text(encoding="utf-8")):
                yield path.relative_to(ROOT), module, names


def third_party(module: str) -> bool:
    top = module.split(".")[0]
    return top not in FIRST_PARTY and top not in sys.stdlib_module_names and top != "__future__"


def private_parts(module: str, names: list[str]) -> list[str]:
    parts = module.split(".")[1:] + names
    return [part for part in parts if part.startswith("_") and not (part.startswith("__") and part.endswith("__"))]


def test_no_private_module_of_a_dependency_is_imported() -> None:
    found = [
        f"{path}: {module} {names}"
        for path, module, names in shipped_imports()
        if third_party(module) and private_parts(module, names)
    ]
    assert not found, "private modules of dependencies move without notice:\n" + "\n".join(found)


def test_the_private_import_check_catches_the_usual_forms() -> None:
    found = [
        (module, private_parts(module, names))
        for module, names in imports(
            "from openai._vendor.httpx_aiohttp import transport\nimport telegram._utils.types\n"
            "from httpx import _models\nfrom pydantic_ai import Agent\nfrom __future__ import annotations\n"
        )
    ]
    assert found == [
        ("openai._vendor.httpx_aiohttp", ["_vendor"]),
        ("telegram._utils.types", ["_utils"]),
        ("httpx", ["_models"]),
        ("pydantic_ai", []),
        ("__future__", []),
    ]


def test_every_imported_package_is_declared() -> None:
    declared_names = {canonicalize_name(req.name) for req in declared(extras=("browser",))}
    distributions = packages_distributions()
    missing = {}
    for path, module, _ in shipped_imports():
        if not third_party(module):
            continue
        top = module.split(".")[0]
        providers = {canonicalize_name(name) for name in distributions.get(top, [])}
        if not providers:
            missing.setdefault(top, f"{path}: no installed distribution provides it")
        elif not providers & declared_names:
            missing.setdefault(top, f"{path}: provided by {sorted(providers)}, not in pyproject.toml")
    assert not missing, "\n".join(f"{top}: {why}" for top, why in sorted(missing.items()))


@pytest.mark.parametrize("extras", [(), ("browser", "test")])
def test_constraints_pin_every_declared_package_inside_its_range(extras: tuple[str, ...]) -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    problems = []
    for req in declared(extras=extras):
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} is not pinned in constraints.txt")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} is outside {req}")
    assert not problems, "\n".join(problems)


def test_ci_installs_the_constraints_before_the_readme_command() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme_command = 'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" && .venv/bin/python -m pytest'
    assert readme_command in (ROOT / "README.md").read_text(encoding="utf-8")
    assert script.index('export PIP_CONSTRAINT="$PWD/constraints.txt"') < script.index(readme_command)
    assert (ROOT / ".ci" / "run-latest").read_text(encoding="utf-8").count("unset PIP_CONSTRAINT") == 1
