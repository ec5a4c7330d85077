"""Imports run one way, toward the core: a lower layer never imports a higher one.

The layout carries the architecture (CONTRIBUTING.md): connectors know nothing of the gateway,
the turn or the store; the store knows nothing of turns or the gateway; turns and the skill
loader know nothing of the gateway or the CLI. Checked on the source, so a cycle or a shortcut
fails here before it becomes a habit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "connectors": ("agentbox.gateway", "agentbox.turn", "agentbox.store", "agentbox.cli", "agentbox.ops"),
    "agentbox/store": ("agentbox.turn", "agentbox.gateway", "agentbox.cli", "agentbox.ops", "agentbox.skillkit"),
    "agentbox/turn": ("agentbox.gateway", "agentbox.cli", "agentbox.ops"),
    "agentbox/skillkit": ("agentbox.gateway", "agentbox.cli", "agentbox.ops"),
    "agentbox/gateway": ("agentbox.cli",),
    "agentbox/ops": ("agentbox.cli",),
    # Capabilities the turn uses know nothing of the gateway or the CLI...
    "agentbox/memory": ("agentbox.gateway", "agentbox.cli", "agentbox.ops"),
    "agentbox/voice": ("agentbox.gateway", "agentbox.cli", "agentbox.ops"),
    "agentbox/mcpkit": ("agentbox.gateway", "agentbox.cli", "agentbox.ops"),
    # ...and the gateway's features (they mount on its server, run as its services) nothing of the CLI.
    "agentbox/schedules": ("agentbox.cli",),
    "agentbox/web": ("agentbox.cli",),
    "agentbox/api": ("agentbox.cli",),
    "agentbox/hooks": ("agentbox.cli",),
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_never_imports_the_layers_above_it(layer: str) -> None:
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for name in sorted(imported_modules(path))
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[layer])
    ]
    assert offences == []


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from agentbox.gateway.lifecycle import Gateway\n    import agentbox.cli.main\n")
    assert {"agentbox.gateway.lifecycle", "agentbox.cli.main"} <= imported_modules(module)
