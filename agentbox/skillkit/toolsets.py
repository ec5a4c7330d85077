"""A skill's `tools.py` → a pydantic-ai toolset.

Which functions become tools: the names in the module's `__all__` if it has one, else every
public `async def` defined in the module itself (imports and `_helpers` are skipped). Each needs
a docstring (the model's description) and type hints on every parameter (the JSON schema); a
first parameter `ctx: RunContext[TurnDeps]` gives it the turn's dependencies.

The module is imported as `<package>.tools` of a synthetic package rooted at the skill folder,
so `from . import helpers` works for skills split over several files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from agentbox.errors import AgentboxError
from agentbox.skillkit.api import SkillScope, current_scope
from agentbox.skillkit.model import Skill
from agentbox.turn.deps import TurnDeps


class ToolsImportError(AgentboxError):
    """tools.py failed to import or does not follow the rules; the message is the skill's error."""


def _package_name(skill: Skill) -> str:
    # Unique per folder and version: a workspace skill never shares a module with the bundled one
    # it overrides, and an edited tools.py is imported afresh.
    try:
        stamp = str(skill.tools_py.stat().st_mtime_ns)
    except OSError:
        stamp = ""
    digest = hashlib.sha1(f"{skill.path.resolve()}|{stamp}".encode()).hexdigest()[:10]
    return f"agentbox_skill_{skill.name.replace('-', '_')}_{digest}"


def import_tools_module(skill: Skill) -> types.ModuleType:
    """Import (once per process) the skill's tools.py; any failure becomes ToolsImportError."""
    package = _package_name(skill)
    name = f"{package}.tools"
    if name in sys.modules:
        return sys.modules[name]
    if package not in sys.modules:
        pkg = types.ModuleType(package)
        pkg.__path__ = [str(skill.path)]
        sys.modules[package] = pkg
    spec = importlib.util.spec_from_file_location(name, skill.tools_py)
    if spec is None or spec.loader is None:
        raise ToolsImportError(f"cannot load {skill.tools_py}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # a skill's import must never take the process down
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ToolsImportError(f"tools.py failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def tool_functions(module: types.ModuleType) -> list[Callable[..., Any]]:
    """The functions of a tools module that become tools, in definition order."""
    exported = getattr(module, "__all__", None)
    if exported is not None:
        found = []
        for attr in exported:
            fn = getattr(module, attr, None)
            if not callable(fn):
                raise ToolsImportError(f"tools.py: __all__ names {attr!r}, which is not a function")
            found.append(fn)
        return found
    functions = [
        fn
        for attr, fn in vars(module).items()
        if not attr.startswith("_")
        and inspect.iscoroutinefunction(fn)
        and getattr(fn, "__module__", None) == module.__name__
    ]
    return sorted(functions, key=lambda fn: fn.__code__.co_firstlineno)


def _check_function(fn: Callable[..., Any]) -> None:
    name = getattr(fn, "__name__", repr(fn))
    if not inspect.getdoc(fn):
        raise ToolsImportError(f"tool {name}() has no docstring (the model needs a description)")
    params = list(inspect.signature(fn).parameters.values())
    for index, param in enumerate(params):
        if index == 0 and param.name == "ctx":
            continue
        if param.annotation is inspect.Parameter.empty:
            raise ToolsImportError(f"tool {name}(): parameter {param.name!r} has no type hint")


def build_function_toolset(skill: Skill) -> FunctionToolset[TurnDeps]:
    """Import tools.py and turn its functions into a FunctionToolset (schema errors → ToolsImportError)."""
    module = import_tools_module(skill)
    toolset: FunctionToolset[TurnDeps] = FunctionToolset(id=f"skill:{skill.name}")
    for fn in tool_functions(module):
        _check_function(fn)
        try:
            toolset.add_function(fn)
        except Exception as exc:  # pydantic-ai rejects untyped or unsupported signatures here
            raise ToolsImportError(f"tool {getattr(fn, '__name__', fn)}(): {exc}") from exc
    return toolset


@dataclass
class SkillToolset(WrapperToolset[TurnDeps]):
    """Runs each tool call of one skill inside that skill's scope (its secrets, its folder)."""

    scope: SkillScope | None = None

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[TurnDeps], tool: ToolsetTool[TurnDeps]
    ) -> Any:
        token = current_scope.set(self.scope)
        try:
            return await self.wrapped.call_tool(name, tool_args, ctx, tool)
        finally:
            current_scope.reset(token)


def skill_toolset(skill: Skill) -> AbstractToolset[TurnDeps]:
    """The skill's tools, each call run in the skill's scope."""
    scope = SkillScope(skill.name, skill.path, skill.declared_env)
    return SkillToolset(build_function_toolset(skill), scope=scope)


__all__ = ["SkillScope", "SkillToolset", "ToolsImportError", "build_function_toolset", "skill_toolset"]
