"""No single turn can wedge a session: tool results are capped, an oversized turn is shortened in the
prompt, and a context-window overflow is recovered from without /new."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agentbox.turn.runner import TurnRequest
from agentbox.turn.tool_results import cap_result, cut_text
from tests.fakes.aimlapi import Fail, FakeAimlapi, Reply, ToolCall, window_limited
from tests.helpers import runtime_on
from tests.skills_helpers import tool_outputs, write_skill

MB = 1024 * 1024

HUGE_TOOL = """
import os


async def dump_log() -> str:
    \"\"\"The whole server log.\"\"\"
    return os.urandom(25 * 1024 * 1024).hex()  # 50 MB of text, as a runaway log would be
"""


def words(count: int, seed: int = 3) -> str:
    rng = random.Random(seed)
    vocabulary = ["alpha", "bravo", "charlie", "delta", "echo", "fjord", "gamma", "hôtel", "ünïcode", "zulu"]
    return " ".join(rng.choice(vocabulary) for _ in range(count))


def prompt_chars(body: dict[str, Any]) -> int:
    return sum(len(json.dumps(m.get("content"))) for m in body["messages"])


async def stored_sizes(rt: Any) -> list[int]:
    async with rt.store.conn.execute("SELECT length(messages) FROM turns ORDER BY id") as cursor:
        return [int(row[0] or 0) for row in await cursor.fetchall()]


# -- tool results ---------------------------------------------------------------------------


async def test_a_50_mb_tool_result_never_reaches_the_model_or_the_database(
    fake_aimlapi: FakeAimlapi, home: Path
) -> None:
    write_skill(home / "workspace" / "skills", "logs", tools=HUGE_TOOL)
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("dump_log")]), Reply(text="The log is long."))
    async with runtime_on(fake_aimlapi, home) as rt:
        first = await rt.runner.run(TurnRequest("t:log", "show me the log"))
        second = await rt.runner.run(TurnRequest("t:log", "anything odd?"))
        sizes = await stored_sizes(rt)
    assert first.ok and second.ok
    requests = fake_aimlapi.chat_requests()
    [output] = tool_outputs(requests[1])
    assert len(output.encode()) < 32 * 1024 + 300
    assert "agentbox cut this: This tool result was 52,428,800 bytes; only the first 32,768 are shown" in output
    [replayed] = tool_outputs(requests[2])  # the next turn replays the cut result (or less), never 50 MB
    assert replayed[:4096] == output[:4096] and len(replayed) <= len(output)
    assert max(sizes) < 100_000


async def test_the_cap_is_configurable_per_agent(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    write_skill(home / "workspace" / "skills", "logs", tools=HUGE_TOOL)
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("dump_log")]), Reply(text="ok"))
    async with runtime_on(fake_aimlapi, home, "[agents.main]\nmax_tool_result_bytes = 4096\n") as rt:
        await rt.runner.run(TurnRequest("t:cap", "log?"))
    [output] = tool_outputs(fake_aimlapi.chat_requests()[1])
    assert output.startswith(output[:4096]) and "only the first 4,096 are shown" in output


def test_structured_results_are_cut_as_json_and_media_passes_through() -> None:
    from pydantic_ai.messages import BinaryContent

    rows = [{"id": n, "text": words(20, seed=n)} for n in range(1000)]
    capped = cap_result(rows, 8192)
    assert isinstance(capped, str) and capped.startswith('[{"id":0,') and "only the first 8,192 are shown" in capped
    small = {"ok": True}
    assert cap_result(small, 8192) is small
    picture = BinaryContent(b"\x89PNG" + bytes(100_000), media_type="image/png")
    assert cap_result(picture, 8192) is picture


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000), st.integers(min_value=1, max_value=4000))
def test_cut_text_keeps_a_valid_prefix_within_the_limit(text: str, limit: int) -> None:
    out = cut_text(text, limit)
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        assert out == text
    else:
        kept = out[: out.rindex("\n\n[agentbox cut this")]
        assert text.startswith(kept) and len(kept.encode("utf-8", "surrogatepass")) <= limit
        assert f"{len(encoded):,} bytes" in out


# -- oversized turns ------------------------------------------------------------------------


async def test_a_600_kb_paste_is_shortened_on_later_turns(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    paste = words(100_000)  # ~600 KB
    fake_aimlapi.responder = lambda body: Reply(text="Got it.")
    async with runtime_on(fake_aimlapi, home) as rt:
        first = await rt.runner.run(TurnRequest("t:paste", paste))
        second = await rt.runner.run(TurnRequest("t:paste", "what was the first word?"))
        third = await rt.runner.run(TurnRequest("t:paste", "and the last?"))
        [full, *_] = await rt.store.sessions.transcript("t:paste")
    assert first.ok and second.ok and third.ok
    later = fake_aimlapi.chat_requests()[1:]
    assert all(prompt_chars(body) < 80_000 for body in later)  # budget 12,000 tokens, not 600 KB again
    replayed = later[0]["messages"][-3]["content"]
    assert replayed.startswith(paste[:1000]) and "agentbox shortened this for the prompt" in replayed
    assert full["user_text"] == paste  # the transcript keeps every character


async def test_after_a_context_window_error_the_session_keeps_working(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    """The owner set a budget larger than the model's window: the session heals itself, no /new."""
    overflows: list[int] = []
    limited = window_limited(20_000, lambda body: Reply(text="ok"))

    def model(body: dict[str, Any]) -> Any:
        step = limited(body)
        if isinstance(step, Fail):
            overflows.append(prompt_chars(body))
        return step

    fake_aimlapi.responder = model
    config = "[agents.main.memory]\ntoken_budget = 100000\n"
    async with runtime_on(fake_aimlapi, home, config) as rt:
        results = [await rt.runner.run(TurnRequest("t:window", words(7_000, seed=n))) for n in range(4)]
    assert overflows, "the history never outgrew the model's window: the test proves nothing"
    assert [r.ok for r in results] == [True, True, True, True], [r.reply for r in results]


async def test_a_message_too_long_for_the_model_is_cut_and_answered(fake_aimlapi: FakeAimlapi, home: Path) -> None:
    fake_aimlapi.responder = window_limited(8_000, lambda body: Reply(text="ok"))
    async with runtime_on(fake_aimlapi, home) as rt:
        result = await rt.runner.run(TurnRequest("t:long", words(60_000)))
        after = await rt.runner.run(TurnRequest("t:long", "thanks"))
    assert result.ok and after.ok
    retried = fake_aimlapi.chat_requests()[1]["messages"][-1]["content"]
    assert "agentbox shortened this for the prompt" in retried
    assert len(retried) > 10_000  # cut to what the model's window (named in its error) holds, not to a stub
