"""`SkillHarness`: call a skill's tools in a test, without a model or a gateway.

    from agentbox.skillkit.testing import SkillHarness

    async def test_greet():
        skill = SkillHarness(Path(__file__).parent, env={"GREETER_TOKEN": "t"})
        assert await skill.call("greet", name="Ada") == "Hello, Ada!"
        assert skill.schema("greet")["required"] == ["name"]

Arguments are validated against the same JSON schema the model sees; the call runs in the
skill's scope, so `skill_env(ctx)` and `skill_config(ctx)` behave as they will in production.
`outbox` holds any media the tool produced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.models.test import TestModel
from pydantic_ai.usage import RunUsage

from agentbox.aimlapi import AimlapiClient
from agentbox.config import Config
from agentbox.messages import Attachment
from agentbox.skillkit.api import SkillScope, current_scope
from agentbox.skillkit.loader import load_skill
from agentbox.skillkit.toolsets import build_function_toolset
from agentbox.turn.deps import Outbox, SessionContext, TurnDeps


class SkillHarness:
    """One skill folder loaded for tests: call its tools with validated arguments in the skill's scope,
    with no model and no gateway. Secrets given as `env` go through the per-skill config, never `os.environ`.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        env: dict[str, str] | None = None,
        settings: dict[str, Any] | None = None,
        config: Config | None = None,
        images: list[Attachment] | None = None,
        aimlapi: AimlapiClient | None = None,
    ) -> None:
        self.skill = load_skill(Path(path).resolve(), "path")
        if self.skill.error:
            raise ValueError(f"{self.skill.skill_md}: {self.skill.error}")
        self.config = config or Config()
        # Test secrets go through the per-skill config, never through os.environ.
        skill_settings = dict(settings or {})
        if env:
            skill_settings["env"] = dict(env)
        if skill_settings:
            self.config.skills.config = {**self.config.skills.config, self.skill.name: skill_settings}
        self.toolset = build_function_toolset(self.skill) if self.skill.has_tools else None
        self.outbox = Outbox()
        self.deps = TurnDeps(
            session=SessionContext("test:skill"),
            config=self.config,
            aimlapi=aimlapi or AimlapiClient(self.config),
            outbox=self.outbox,
            images=list(images or []),
        )
        self.scope = SkillScope(self.skill.name, self.skill.path, self.skill.declared_env)

    @property
    def tool_names(self) -> list[str]:
        return list(self.toolset.tools) if self.toolset else []

    def _tool(self, name: str) -> Any:
        if self.toolset is None or name not in self.toolset.tools:
            raise KeyError(f"skill {self.skill.name!r} has no tool {name!r} (tools: {self.tool_names})")
        return self.toolset.tools[name]

    def schema(self, name: str) -> dict[str, Any]:
        """The parameters JSON schema the model is sent for this tool."""
        return dict(self._tool(name).tool_def.parameters_json_schema)

    def description(self, name: str) -> str:
        return str(self._tool(name).tool_def.description or "")

    async def call(self, tool: str, /, **args: Any) -> Any:
        """Validate `args` like a model's call would be, then run the tool in the skill's scope."""
        schema = self._tool(tool).function_schema
        validated = schema.validator.validate_python(args)
        ctx = RunContext(deps=self.deps, model=TestModel(), usage=RunUsage(), tool_name=tool, prompt="test")
        token = current_scope.set(self.scope)
        try:
            return await schema.call(validated, ctx)
        finally:
            current_scope.reset(token)
