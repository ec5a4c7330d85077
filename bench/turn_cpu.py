"""CPU per turn in the agentbox process, and what pydantic-ai alone costs, to explain the turn figures.

Prints, against the fake AI/ML API in another process (0 ms latency, 300 one-turn sessions at once):
  - CPU milliseconds per turn with every bundled skill on, and with skills off
  - CPU milliseconds per bare pydantic-ai run (FunctionModel, no HTTP, no agentbox) for scale

Run: `python -m bench.turn_cpu`.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.fakes import fake_aimlapi_process

TURNS = 300


def _home(path: Path, config_text: str) -> Path:
    path.mkdir(parents=True)
    (path / "config.toml").write_text(config_text)
    return path


async def _agentbox_cpu(url: str, home: Path) -> float:
    os.environ.update({"AGENTBOX_HOME": str(home), "AIMLAPI_API_KEY": "bench-key", "AIMLAPI_BASE_URL": url})
    from agentbox.config import load_config
    from agentbox.runtime import open_runtime
    from agentbox.turn.runner import TurnRequest

    async with open_runtime(load_config()) as rt:
        await rt.runner.run(TurnRequest("warmup", "hi"))
        start = time.process_time()
        results = await asyncio.gather(*(rt.runner.run(TurnRequest(f"s{i}", "hi")) for i in range(TURNS)))
        cpu = time.process_time() - start
    assert all(result.ok for result in results)
    return cpu * 1000 / TURNS


async def _bare_pydantic_ai_cpu() -> float:
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart
    from pydantic_ai.models.function import FunctionModel

    agent = Agent(FunctionModel(lambda _messages, _info: ModelResponse(parts=[TextPart("echo")])), output_type=str)
    await agent.run("warmup")
    start = time.process_time()
    await asyncio.gather(*(agent.run("hello") for _ in range(TURNS)))
    return (time.process_time() - start) * 1000 / TURNS


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, fake_aimlapi_process(0.0) as url:
        for round_ in (1, 2):
            on = asyncio.run(_agentbox_cpu(url, _home(Path(tmp) / f"on{round_}", "")))
            off = asyncio.run(_agentbox_cpu(url, _home(Path(tmp) / f"off{round_}", "[agents.main]\nskills = []\n")))
            print(f"round {round_}: CPU per turn {on:.1f} ms with all bundled skills, {off:.1f} ms with skills off")
    print(f"bare pydantic-ai run (FunctionModel, no HTTP): {asyncio.run(_bare_pydantic_ai_cpu()):.1f} ms CPU")


if __name__ == "__main__":
    main()
