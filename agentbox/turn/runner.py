"""One turn through the pipeline the CLI and the gateway share.

lane (per-session order) → guards (e.g. spending caps) → history (+ compaction) →
pydantic-ai run, streamed → persist messages and usage → `TurnResult`.
A failed turn never raises: the user gets one short honest sentence and the turn is recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import mimetypes
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic_ai import Agent, AgentRunResult, RunContext
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelRateLimitError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)
from pydantic_ai.messages import (
    AgentStreamEvent,
    BinaryContent,
    FunctionToolCallEvent,
    ImageUrl,
    ModelMessage,
    ModelRequest,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    UserContent,
)
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import UsageLimits

from agentbox.aimlapi import AimlapiClient, ModelFactory, UsageMeter, current_meter, normalize_model_id
from agentbox.config import Config
from agentbox.keysource import api_key_source
from agentbox.memory.extraction import FACTS_INSTRUCTIONS, split_summary
from agentbox.memory.recall import without_recall
from agentbox.memory.scopes import Speaker
from agentbox.memory.service import MemoryService, TurnMemory
from agentbox.messages import Address, Attachment
from agentbox.redaction import scrub_error
from agentbox.store import Store, TurnRecord
from agentbox.turn.agent import ExtraInstructions, ExtraToolsets, build_agent
from agentbox.turn.compaction import PromptHistory, prompt_history, shorten_text
from agentbox.turn.deps import (
    JobService,
    Outbox,
    Progress,
    ScheduleService,
    SessionContext,
    TurnDeps,
    _no_progress,
)
from agentbox.turn.fallback import ModelChain, failure_text, first_failure
from agentbox.turn.heard import attach_audio
from agentbox.turn.history import dump_messages, estimate_tokens
from agentbox.turn.lanes import Lanes
from agentbox.turn.pricing import turn_cost
from agentbox.turn.usage import record_turn_parts

if TYPE_CHECKING:
    from agentbox.mcpkit import McpServers

log = logging.getLogger(__name__)

MIN_TOKEN_BUDGET = 500  # the floor of a retry's shortened history (memory.token_budget's own minimum)
OnDelta = Callable[[str], Awaitable[None]]
Guard = Callable[["TurnRequest"], Awaitable[str | None]]
"""Runs before a turn; a returned string refuses the turn with that message (no model call)."""


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """One message to answer: the session it belongs to, its text and images, and where it came from."""

    session_key: str
    text: str
    images: tuple[Attachment, ...] = ()
    model: str | None = None  # a one-off override (CLI --model)
    agent_id: str = "main"
    sender_id: str | None = None
    address: Address | None = None  # the chat (channel, chat, thread) it came from; None: the terminal
    audio: tuple[str, ...] = ()  # media hashes of the voice notes `text` was transcribed from
    # Set: the conversation so far as the caller holds it (a stateless API request), used instead of the
    # session's stored history.
    history: tuple[ModelMessage, ...] | None = None
    sender_name: str = ""

    @property
    def channel(self) -> str:
        return self.address.channel if self.address is not None else "cli"


@dataclass(slots=True)
class TurnUsage:
    """What a turn cost: tokens, USD (reported by the API or `usd_estimated` from configured prices) and credits."""

    input_tokens: int = 0
    output_tokens: int = 0
    usd: float | None = None
    usd_estimated: bool = False
    credits: float | None = None


TurnStatus = Literal["ok", "failed", "refused"]
"""ok: answered; failed: the model or a tool failed (the reply says so); refused: a guard said no (no model call)."""


@dataclass(slots=True)
class TurnResult:
    """What one turn produced: the reply for the user, usage, tool calls, media, and how it ended."""

    session_key: str
    reply: str
    model: str
    ok: bool
    usage: TurnUsage = field(default_factory=TurnUsage)
    tool_calls: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    error: str | None = None
    status: TurnStatus = "ok"
    turn_id: int = 0
    http_status: int | None = None  # the API's status code when a failed turn ended on one (401, 404, ...)
    fallback_from: str | None = None  # the turn's own model, when a fallback (`model`) answered instead
    notice: str = ""  # the line appended to `reply` when a fallback answered (`fallback_notice`)

    def as_json(self) -> dict[str, Any]:
        return {
            "session": self.session_key,
            "reply": self.reply,
            "model": self.model,
            "fallback_from": self.fallback_from,
            "ok": self.ok,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
                "usd": self.usage.usd,
            },
            "tool_calls": self.tool_calls,
            "attachments": [item.describe() for item in self.attachments],
            "error": self.error,
        }


_WINDOW = re.compile(r"maximum context length is (\d+)")


def context_window(exc: BaseException) -> int | None:
    """The model's context window in tokens, when its overflow error says (OpenAI-family wording)."""
    match = _WINDOW.search(str(exc))
    return int(match.group(1)) if match else None


def friendly_error(exc: BaseException) -> str:
    """One short honest sentence for the user; details go to the log."""
    exc = first_failure(exc)  # every model of the fallback chain failed: explain the first one
    status = exc.status_code if isinstance(exc, ModelHTTPError) else None
    if isinstance(exc, ModelContextWindowExceededError):
        return "That is too long for this model, even with our conversation shortened. Please send a shorter message."
    if status == 401:
        return (
            "I can't answer: the AI/ML API key was rejected. The owner needs to check it (`agentbox doctor --online`)."
        )
    if status == 403:
        return "I can't answer: the AI/ML API refused the request (out of credits or a key limit)."
    if status == 404:
        return "I can't answer: the model service does not know this model. Try /model with another id."
    if status == 400:
        return "I can't answer: the model service rejected the request as invalid."
    if isinstance(exc, ModelRateLimitError) or status == 429:
        return "The model service is rate-limiting me right now; please try again in a minute."
    if isinstance(exc, UsageLimitExceeded):
        return "I stopped: this turn reached its token limit."
    if isinstance(exc, ModelAPIError):
        return "Sorry, I couldn't reach the model service (it kept failing); please try again shortly."
    if isinstance(exc, UnexpectedModelBehavior):
        return "Sorry, the model sent an answer I couldn't use; please try again."
    return "Sorry, something went wrong on my side and I couldn't answer; the error is logged."


def user_content(text: str, images: Sequence[Attachment]) -> str | list[UserContent]:
    if not images:
        return text
    parts: list[UserContent] = [text] if text else []
    for image in images:
        if image.data is not None:
            parts.append(BinaryContent(image.data, media_type=image.media_type or "image/png"))
        elif image.url:
            parts.append(ImageUrl(image.url))
    return parts


async def save_media(directory: Path, item: Attachment) -> Attachment:
    """Give produced bytes a file path (the CLI prints paths; connectors may upload from disk).

    Hashing and writing run in a thread: a video is megabytes, and the event loop serves every chat.
    """
    if item.data is None or item.path:
        return item
    return await asyncio.to_thread(_write_media, directory, item, item.data)


def _write_media(directory: Path, item: Attachment, data: bytes) -> Attachment:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ext = mimetypes.guess_extension(item.media_type or "") or ".bin"
    if item.filename and "." in item.filename:
        ext = "." + item.filename.rsplit(".", 1)[1]
    path = directory / (hashlib.sha256(data).hexdigest()[:16] + ext)
    if not path.exists():
        path.write_bytes(data)
    return replace(item, path=str(path))


class TurnRunner:
    """Runs turns for the CLI and the gateway alike: owns the model clients, the per-session lanes and
    the agents (built per agent id, rebuilt when the skills on disk change).

    `run(request)` holds the session's lane, applies the guards, runs the model over the session's
    history (compacted to the memory budget; retried once, shortened, if the context window
    overflows) and records the turn with its usage. It never raises for model or tool failures:
    the result carries one honest sentence for the user, and the failed turn is recorded too.
    `aclose()` closes the HTTP clients.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        models: ModelFactory | None = None,
        aimlapi: AimlapiClient | None = None,
        lanes: Lanes | None = None,
        extra_instructions: ExtraInstructions | None = None,
        extra_toolsets: ExtraToolsets | None = None,
        guards: Sequence[Guard] = (),
        agents_version: Callable[[], object] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.models = models or ModelFactory(config)
        self.aimlapi = aimlapi or AimlapiClient(config)
        self.lanes = lanes or Lanes()
        self.guards = list(guards)
        self._extra_instructions = extra_instructions
        self._extra_toolsets = extra_toolsets
        self._agents_version = agents_version  # e.g. the skills on disk: a change rebuilds the agent
        self._agents: dict[str, tuple[object, Agent[TurnDeps, str]]] = {}
        self.jobs: JobService | None = None  # the gateway's job runner, given to tools as `deps.jobs`
        self.mcp: McpServers | None = None  # the MCP servers behind `extra_toolsets`, for status (`/mcp`)
        self.schedules: ScheduleService | None = None  # the gateway's scheduler, `deps.schedules`
        self.memory: MemoryService | None = None  # long-term memory (set by the runtime): `deps.memory`

    def agent(self, agent_id: str) -> Agent[TurnDeps, str]:
        """The agent for `agent_id`, rebuilt when its version changes (a skill added or edited)."""
        version = self._agents_version() if self._agents_version is not None else None
        return self._agent_at(agent_id, version)

    async def agent_for_turn(self, agent_id: str) -> Agent[TurnDeps, str]:
        """`agent()`, with the version check (a stat of every skill folder) run off the event loop."""
        version = await asyncio.to_thread(self._agents_version) if self._agents_version is not None else None
        return self._agent_at(agent_id, version)

    def _agent_at(self, agent_id: str, version: object) -> Agent[TurnDeps, str]:
        cached = self._agents.get(agent_id)
        if cached is None or cached[0] != version:
            agent = build_agent(
                self.config,
                agent_id,
                extra_instructions=self._extra_instructions,
                extra_toolsets=self._extra_toolsets,
            )
            self._agents[agent_id] = cached = (version, agent)
        return cached[1]

    def reload_agents(self) -> None:
        self._agents.clear()

    async def model_for(self, request: TurnRequest) -> str:
        if request.model:
            return normalize_model_id(request.model)
        info = await self.store.sessions.get(request.session_key)
        agent = self.config.agent(request.agent_id)
        if info is not None and info.model:
            chosen = normalize_model_id(info.model)
            # A chat's /model choice counts only while the owner allows it (set before, or since removed).
            if request.channel == "cli" or chosen in agent.model_choices():
                return chosen
            log.warning(
                "session %s: model %s is not allowed for agent %s; using %s",
                request.session_key,
                chosen,
                request.agent_id,
                agent.model,
            )
        return normalize_model_id(agent.model)

    async def run(
        self,
        request: TurnRequest,
        *,
        on_delta: OnDelta | None = None,
        progress: Progress | None = None,
    ) -> TurnResult:
        """Run one turn in its session's lane. Never raises for model or tool failures."""
        async with self.lanes.hold(request.session_key):
            return await self._run_locked(request, on_delta=on_delta, progress=progress)

    def stream(self, request: TurnRequest, *, progress: Progress | None = None) -> TurnStream:
        return TurnStream(self, request, progress=progress)

    async def _run_locked(
        self, request: TurnRequest, *, on_delta: OnDelta | None, progress: Progress | None
    ) -> TurnResult:
        started = time.time()
        model_id = await self._open_session(request)
        for guard in self.guards:
            if refusal := await guard(request):
                await self._record(request, model_id, started, status="capped", reply=refusal, error="refused")
                return TurnResult(request.session_key, refusal, model_id, ok=False, error="refused", status="refused")
        deps = self._build_deps(request, progress)
        deps.memory = await self._turn_memory(request)
        meter = UsageMeter()
        tool_calls: list[str] = []
        chain = ModelChain.build(self.config.agent(request.agent_id).model_chain(model_id), self.models.model)
        try:
            result = await self._call_model(request, deps, chain, on_delta, meter, tool_calls)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return await self._record_failure(request, model_id, started, exc, tool_calls)
        answer = await self._record_answer(request, chain, started, result, meter, deps.outbox)
        if on_delta is not None and answer.notice:
            await on_delta(answer.notice)
        return answer

    async def _open_session(self, request: TurnRequest) -> str:
        """Create the session row if this is its first turn; return the model this turn uses."""
        address = request.address
        await self.store.sessions.ensure(
            request.session_key,
            channel=request.channel,
            chat_id=address.chat_id if address is not None else "",
            thread_id=address.thread_id if address is not None else None,
            agent=request.agent_id,
        )
        return await self.model_for(request)

    def _build_deps(self, request: TurnRequest, progress: Progress | None) -> TurnDeps:
        return TurnDeps(
            session=SessionContext(
                key=request.session_key,
                agent_id=request.agent_id,
                sender_id=request.sender_id,
                address=request.address,
                sender_name=request.sender_name,
            ),
            config=self.config,
            aimlapi=self.aimlapi,
            store=self.store,
            outbox=Outbox(),
            progress=progress or _no_progress,
            images=list(request.images),
            jobs=self.jobs,
            schedules=self.schedules,
        )

    async def _turn_memory(self, request: TurnRequest) -> TurnMemory | None:
        if self.memory is None:
            return None
        address = request.address
        return await self.memory.for_turn(
            Speaker(
                agent_id=request.agent_id,
                channel=request.channel,
                session_key=request.session_key,
                sender_id=request.sender_id,
                chat_id=address.chat_id if address is not None else "",
            )
        )

    async def _call_model(
        self,
        request: TurnRequest,
        deps: TurnDeps,
        chain: ModelChain,
        on_delta: OnDelta | None,
        meter: UsageMeter,
        tool_calls: list[str],
    ) -> AgentRunResult[str]:
        """The model run, with the API's reported cost collected into `meter`."""
        token = current_meter.set(meter)
        try:
            return await self._run_agent(request, deps, chain, on_delta, tool_calls)
        finally:
            current_meter.reset(token)

    async def _record_failure(
        self, request: TurnRequest, model_id: str, started: float, exc: Exception, tool_calls: list[str]
    ) -> TurnResult:
        """Log the failure, record the turn as failed, and answer with one honest sentence."""
        message = friendly_error(exc)
        cause = first_failure(exc)
        http_status = cause.status_code if isinstance(cause, ModelHTTPError) else None
        log.warning(
            "turn failed in session %s: %s%s",
            request.session_key,
            failure_text(exc),
            f" (the key came from {api_key_source()})" if http_status == 401 else "",
            exc_info=not isinstance(cause, ModelAPIError),
        )
        turn_id = await self._record(
            request,
            model_id,
            started,
            status="failed",
            reply=message,
            error=scrub_error(failure_text(exc)),
        )
        return TurnResult(
            request.session_key,
            message,
            model_id,
            ok=False,
            error=type(cause).__name__,
            status="failed",
            tool_calls=tool_calls,
            turn_id=turn_id,
            http_status=http_status,
        )

    async def _record_answer(
        self,
        request: TurnRequest,
        chain: ModelChain,
        started: float,
        result: AgentRunResult[str],
        meter: UsageMeter,
        outbox: Outbox,
    ) -> TurnResult:
        """Price the run, keep its media on disk, and record the turn with its new messages."""
        new_messages = result.new_messages()
        model_id = chain.answered_by(new_messages)
        fallback_from = chain.ids[0] if model_id != chain.ids[0] else None
        if fallback_from is not None:
            reasons = "; ".join(f"{model}: {why}" for model, why in chain.failed.items())
            log.warning("session %s: %s answered instead (%s)", request.session_key, model_id, scrub_error(reasons))
        notice = self._fallback_notice(request.agent_id, model_id, fallback_from)
        text = result.output or ""
        reply = text + notice
        run_usage = result.usage
        input_tokens = int(run_usage.input_tokens or 0)
        output_tokens = int(run_usage.output_tokens or 0)
        usd, estimated = turn_cost(
            self.config.limits,
            model_id,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            reported_usd=meter.reported,
            reported_credits=meter.credits,
        )
        attach_audio(new_messages, request.audio)
        tool_calls = _tool_names(new_messages)
        attachments = [await save_media(self.config.home / "media", item) for item in outbox.items]
        turn_usage = TurnUsage(input_tokens, output_tokens, usd, estimated, meter.credits)
        turn_id = await self.store.sessions.add_turn(
            TurnRecord(
                session_key=request.session_key,
                model=model_id,
                status="ok",
                user_text=request.text,
                reply=reply,
                sender_id=request.sender_id,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                usd=usd,
                usd_estimated=estimated,
                credits=meter.credits,
                tool_calls=tool_calls,
                attachments=[item.describe() for item in attachments],
                messages=await dump_messages(self.store, _without_recall(new_messages)),
                started_at=started,
                finished_at=time.time(),
                fallback_from=fallback_from,
            )
        )
        await record_turn_parts(
            self.store.spend, turn_id, meter.kinds, request.session_key, request.channel, request.sender_id
        )
        if not text.strip() and not attachments:
            reply = "(The model returned an empty answer.)" + notice
        return TurnResult(
            request.session_key,
            reply,
            model_id,
            ok=True,
            usage=turn_usage,
            tool_calls=tool_calls,
            attachments=attachments,
            turn_id=turn_id,
            fallback_from=fallback_from,
            notice=notice,
        )

    def _fallback_notice(self, agent_id: str, answered: str, fallback_from: str | None) -> str:
        """One short line telling the user another model answered (`fallback_notice = "off"`: nothing)."""
        if fallback_from is None or self.config.agent(agent_id).fallback_notice == "off":
            return ""
        return f"\n\n(Answered by {answered}: {fallback_from} could not answer.)"

    async def _run_agent(
        self, request: TurnRequest, deps: TurnDeps, chain: ModelChain, on_delta: OnDelta | None, tool_calls: list[str]
    ) -> AgentRunResult[str]:
        """The model run over the session's history; once more with the history shortened if it overflowed."""
        memory = self.config.agent(request.agent_id).memory
        budget, text = memory.token_budget, request.text
        window: int | None = None  # the model's context window, once an overflow error told us
        recalled = await _recall(deps.memory, request)
        for attempt in (1, 2):
            history = await self._history(request, chain, budget, deps.memory)
            agent = await self.agent_for_turn(request.agent_id)
            try:
                return await agent.run(
                    user_content(text, request.images),
                    message_history=history.messages,
                    instructions=recalled or None,
                    deps=deps,
                    model=chain.first,
                    capabilities=chain.capabilities(),
                    model_settings=self._settings(request.agent_id),
                    usage_limits=UsageLimits(
                        request_limit=25,
                        total_tokens_limit=self.config.limits.tokens_per_turn,
                    ),
                    # Nobody reads deltas (CLI --json, Slack, Discord, streaming off): a plain request costs
                    # less CPU and its answer carries meta.usage, the real cost, which streams lack.
                    event_stream_handler=_event_handler(on_delta, tool_calls) if on_delta else None,
                )
            except ModelContextWindowExceededError as exc:
                if attempt == 2:
                    raise
                window = context_window(exc)
            # The model's window is smaller than our estimate: compact hard (persisted, so the next
            # turn starts from the shorter history too) and cut the new message if it alone is too big.
            budget = max(MIN_TOKEN_BUDGET, (window or history.estimated_tokens) // 4)
            room = window // 2 if window else budget
            if (size := estimate_tokens(text)) > room:
                text = shorten_text(text, room / size)
            tool_calls.clear()
            log.warning(
                "session %s: %s's context window was exceeded (~%d tokens of history); retrying with ~%d. "
                "If this repeats, lower agents.%s.memory.token_budget (now %d).",
                request.session_key,
                chain.ids[0],
                history.estimated_tokens,
                budget,
                request.agent_id,
                memory.token_budget,
            )
        raise AssertionError("unreachable")

    async def _history(
        self, request: TurnRequest, chain: ModelChain, budget: int, long_term: TurnMemory | None
    ) -> PromptHistory:
        """The history the model is sent: the caller's own (a stateless API request), else the session's."""
        if request.history is not None:
            return PromptHistory(list(request.history), 0, compacted=False)
        return await prompt_history(
            self.store,
            request.session_key,
            budget=budget,
            summarize=lambda transcript: self._summarize(request.agent_id, chain, transcript, long_term),
        )

    def _settings(self, agent_id: str) -> ModelSettings:
        agent = self.config.agent(agent_id)
        settings: ModelSettings = {"max_tokens": agent.max_tokens}
        if agent.temperature is not None:
            settings["temperature"] = agent.temperature
        return settings

    async def _summarize(self, agent_id: str, chain: ModelChain, text: str, long_term: TurnMemory | None = None) -> str:
        """A summary of older turns; with long-term memory on, the same call also lists durable facts to keep."""
        memory = self.config.agent(agent_id).memory
        instructions = (
            "Summarize this conversation for your own later reference. Keep facts about the user, names, "
            "numbers, decisions and open tasks; drop pleasantries. At most 250 words."
        )
        if long_term is not None:
            instructions += "\n\n" + FACTS_INSTRUCTIONS
        summarizer: Agent[None, str] = Agent(output_type=str, instructions=instructions)
        if memory.summary_model:  # its own model first, then the turn's chain (what failed there stays failed)
            chain = ModelChain.build([memory.summary_model, *chain.ids], self.models.model, failed=chain.failed)
        result = await summarizer.run(
            text,
            model=chain.first,
            capabilities=chain.capabilities(),
            model_settings={"max_tokens": 800 if long_term is None else 1200},
        )
        if long_term is None:
            return result.output
        summary, facts = split_summary(result.output)
        kept = await long_term.keep_facts(facts)
        log.info("compaction kept %d of %d facts in memory %s", kept, len(facts), long_term.scopes.home)
        return summary

    async def record_cancelled(self, request: TurnRequest, *, started: float, partial_reply: str = "") -> int:
        """Keep a question whose answer the user stopped (Ctrl-C in `agentbox chat`) in the transcript.

        Recorded as status `cancelled`: the transcript shows it, later prompts don't (only `ok` turns).
        """
        model_id = await self.model_for(request)
        return await self._record(
            request, model_id, started, status="cancelled", reply=partial_reply, error="stopped by the user"
        )

    async def _record(
        self, request: TurnRequest, model_id: str, started: float, *, status: str, reply: str, error: str
    ) -> int:
        return await self.store.sessions.add_turn(
            TurnRecord(
                session_key=request.session_key,
                model=model_id,
                status=status,
                user_text=request.text,
                reply=reply,
                error=error,
                sender_id=request.sender_id,
                started_at=started,
                finished_at=time.time(),
            )
        )

    async def aclose(self) -> None:
        await self.models.aclose()
        await self.aimlapi.aclose()


async def _recall(memory: TurnMemory | None, request: TurnRequest) -> str:
    """The turn's memory block for the instructions; a failure costs the block, never the answer."""
    if memory is None:
        return ""
    try:
        return await memory.recall_block(request.text)
    except Exception as exc:
        log.warning("session %s: recalling memories failed: %s", request.session_key, exc, exc_info=True)
        return ""


def _without_recall(messages: list[ModelMessage]) -> list[ModelMessage]:
    """The turn's messages as stored: the recalled memories are not kept with them (/forget really forgets)."""
    return [
        replace(message, instructions=without_recall(message.instructions))
        if isinstance(message, ModelRequest) and message.instructions
        else message
        for message in messages
    ]


def _tool_names(messages: list[ModelMessage]) -> list[str]:
    return [part.tool_name for message in messages for part in message.parts if isinstance(part, ToolCallPart)]


def _event_handler(
    on_delta: OnDelta | None, tool_calls: list[str]
) -> Callable[[RunContext[TurnDeps], AsyncIterable[AgentStreamEvent]], Awaitable[None]]:
    async def handle(_: RunContext[TurnDeps], events: AsyncIterable[AgentStreamEvent]) -> None:
        async for event in events:
            if on_delta is None:
                if isinstance(event, FunctionToolCallEvent):
                    tool_calls.append(event.part.tool_name)
                continue
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart) and event.part.content:
                await on_delta(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                if event.delta.content_delta:
                    await on_delta(event.delta.content_delta)
            elif isinstance(event, FunctionToolCallEvent):
                tool_calls.append(event.part.tool_name)

    return handle


class TurnStream:
    """`async for delta in stream` yields text as the model writes it; `await stream.result()` ends it."""

    _END = object()

    def __init__(self, runner: TurnRunner, request: TurnRequest, *, progress: Progress | None) -> None:
        self._runner = runner
        self._request = request
        self._progress = progress
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._task: asyncio.Task[TurnResult] | None = None

    def _start(self) -> asyncio.Task[TurnResult]:
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        return self._task

    async def _run(self) -> TurnResult:
        try:
            return await self._runner.run(self._request, on_delta=self._queue.put, progress=self._progress)
        finally:
            self._queue.put_nowait(self._END)

    def __aiter__(self) -> AsyncIterator[str]:
        self._start()
        return self._deltas()

    async def _deltas(self) -> AsyncIterator[str]:
        while (item := await self._queue.get()) is not self._END:
            yield str(item)

    async def result(self) -> TurnResult:
        return await self._start()
