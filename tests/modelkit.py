"""Turn logic without a wire: pydantic-ai's `FunctionModel` in place of the AI/ML API models.

For what happens around the model call (lanes, history, compaction, caps, the gateway's
scheduling): the test's own function answers, in-process, and can wait on the test's events, so
ordering and concurrency are shown by conditions rather than by timings. What goes over HTTP
(request bodies, streaming, retries, errors, timeouts) stays on the fake in tests/fakes/aimlapi.py.
"""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models.function import FunctionDef, FunctionModel


class FunctionModels:
    """Stands in for `agentbox.aimlapi.ModelFactory` (the runner's `models`): every model id runs `function`."""

    def __init__(self, function: FunctionDef) -> None:
        self.function = function
        self.model_ids: list[str] = []  # the id of every model the runner asked for, in order

    def model(self, model_id: str) -> FunctionModel:
        self.model_ids.append(model_id)
        return FunctionModel(self.function, model_name=model_id)

    async def aclose(self) -> None:
        pass


def conversation(messages: list[ModelMessage]) -> list[str]:
    """The user's and the model's texts, in order, as the model was shown them (no system prompt)."""
    texts = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                texts.append(part.content)
            elif isinstance(part, TextPart) and isinstance(message, ModelResponse):
                texts.append(part.content)
    return texts


def last_prompt(messages: list[ModelMessage]) -> str:
    """The text of the newest user message."""
    request = messages[-1]
    assert isinstance(request, ModelRequest)
    [text] = [p.content for p in request.parts if isinstance(p, UserPromptPart) and isinstance(p.content, str)]
    return text


def reply(text: str) -> ModelResponse:
    return ModelResponse(parts=[TextPart(text)])
