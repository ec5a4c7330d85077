"""The model fallback chain of one turn: `[agents.<name>] fallbacks`, on pydantic-ai's `ModelFallback`.

A turn starts on its model (the agent's, or the chat's `/model` choice). A request that fails
with what another model could do better moves to the next model of the chain:

- 5xx, 429, 408 and timeouts, once our HTTP transport (`agentbox.retry`) has spent its retry
  budget on them: the transport is the only place that retries, so the chain never multiplies
  the retries, it only adds one budget per model tried;
- at once on 404 (the model is unknown or retired) and on a 400 that says the model does not
  support the request (images sent to a text-only model, a role it refuses).

Never on 401/403 (the key is the problem, and it is the same key for every model), on other
400s (the request itself is wrong or refused), on a context overflow (the runner shortens the
history instead) or on a connection error that is not a timeout (the API is unreachable).

Within a turn a model that failed is not asked again: the tool steps after a fallback go
straight to the model that answered. The next turn starts from the turn's model again.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic_ai.capabilities import ModelFallback
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelHTTPError,
    ModelRequestTimeout,
    ModelTimeoutError,
    ModelUnavailableError,
)
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models.wrapper import WrapperModel

if TYPE_CHECKING:
    from pydantic_ai import RunContext
    from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
    from pydantic_ai.settings import ModelSettings

SKIPPED = "failed earlier in this turn; not asked again"
FALLBACK_STATUSES = frozenset({404, 408, 429})
# A 400 that blames the model rather than the request (API-NOTES §10: "... does not support 'system' with this model").
_UNSUPPORTED = re.compile(
    r"does not support|doesn't support|not supported|unsupported|not a (vision|multimodal) model"
    r"|model\b.{0,60}\b(not found|does not exist|deprecated)",
    re.IGNORECASE,
)


def falls_back(exc: Exception) -> bool:
    """Whether another model might answer where this error stopped the current one."""
    if isinstance(exc, ModelUnavailableError) and exc.message == SKIPPED:
        return True
    if isinstance(exc, ModelTimeoutError | ModelRequestTimeout):
        return True
    if not isinstance(exc, ModelHTTPError):
        return False
    status = exc.status_code
    if status >= 500 or status in FALLBACK_STATUSES:
        return True
    return status in (400, 422) and bool(_UNSUPPORTED.search(_error_text(exc)))


def _error_text(exc: ModelHTTPError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error")
        message = inner.get("message") if isinstance(inner, dict) else inner
        return str(message or body.get("message") or "")
    return str(body or exc.message or "")


def first_failure(exc: BaseException) -> BaseException:
    """The error to explain when every model failed: the first real one, not a skip."""
    if isinstance(exc, BaseExceptionGroup):
        real = [
            inner for inner in exc.exceptions if not (isinstance(inner, ModelAPIError) and inner.message == SKIPPED)
        ]
        return first_failure(real[0] if real else exc.exceptions[0])
    return exc


def failure_text(exc: BaseException) -> str:
    """`Type: message` of a failed turn's error; each model's own when the whole chain failed."""
    if isinstance(exc, BaseExceptionGroup):
        return "every model failed: " + "; ".join(failure_text(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


@dataclass
class ModelChain:
    """The models one turn may use, in order, and which of them failed so far in this turn."""

    ids: list[str]
    failed: dict[str, str] = field(default_factory=dict)  # model id -> why it failed in this turn
    _by_model_id: dict[str, str] = field(default_factory=dict)
    models: list[Model] = field(default_factory=list)

    @classmethod
    def build(cls, ids: Sequence[str], model_for: Any, *, failed: dict[str, str] | None = None) -> ModelChain:
        """A chain over `ids` (repeats dropped), each model from `model_for(id)` (the shared `ModelFactory.model`);
        `failed`: another chain's record of this turn's failures, shared."""
        chain = cls(list(dict.fromkeys(ids)), failed if failed is not None else {})
        for model_id in chain.ids:
            model = _TurnModel(model_for(model_id), chain, model_id)
            chain.models.append(model)
            chain._by_model_id[model.model_id] = model_id
        return chain

    @property
    def first(self) -> Model:
        return self.models[0]

    def capabilities(self) -> list[ModelFallback[Any]]:
        """What the run gets: pydantic-ai's `ModelFallback` over the rest of the chain, if there is any."""
        if len(self.models) < 2:
            return []
        return [ModelFallback(*self.models[1:], fallback_on=falls_back)]

    def answered_by(self, messages: Sequence[ModelMessage]) -> str:
        """The configured id of the model whose response ended the turn (the first model if none says)."""
        for message in reversed(messages):
            if isinstance(message, ModelResponse) and message.model_id in self._by_model_id:
                return self._by_model_id[message.model_id]
        return self.ids[0]


@dataclass(init=False)
class _TurnModel(WrapperModel):
    """One model of a chain: notes its own fallback-worthy failure, and is skipped for the rest of the turn."""

    chain: ModelChain
    configured_id: str

    def __init__(self, wrapped: Model, chain: ModelChain, configured_id: str) -> None:
        super().__init__(wrapped)
        self.chain = chain
        self.configured_id = configured_id

    def _check(self) -> None:
        if self.configured_id in self.chain.failed:
            raise ModelUnavailableError(self.configured_id, SKIPPED)

    def _note(self, exc: Exception) -> None:
        if falls_back(exc):
            self.chain.failed[self.configured_id] = failure_text(exc)

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        self._check()
        try:
            return await super().request(messages, model_settings, model_request_parameters)
        except Exception as exc:
            self._note(exc)
            raise

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        self._check()
        try:
            async with super().request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as response:
                yield response
        except Exception as exc:
            self._note(exc)
            raise
