"""The model fallback chain (`[agents.<name>] fallbacks`): the fake AI/ML API fails models by id
over real HTTP, and the tests assert what was sent, what the user reads and what was recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentbox.store import Store
from tests.clirun import invoke_cli
from tests.fakes.aimlapi import Fail, Hang, Reply, Step, ToolCall
from tests.helpers import cli_env, png_bytes, runtime_on, write_config

FAST_RETRIES = "[aimlapi.retry]\nattempts = 3\ninitial_delay = 0.01\nmax_delay = 0.02\n"


def chain_config(*, notice: str = "short", fallbacks: str = '["b/second", "c/third"]') -> str:
    return (
        FAST_RETRIES
        + f'[agents.main]\nmodel = "a/first"\nfallbacks = {fallbacks}\nfallback_notice = "{notice}"\n'
        + 'allowed_models = ["d/extra"]\n'
    )


def by_model(failures: dict[str, Step], answer: Callable[[dict[str, Any]], Step] | None = None) -> Any:
    """A responder failing each model named in `failures` the same way every time; the rest answer."""

    def respond(body: dict[str, Any]) -> Step:
        if body["model"] in failures:
            return failures[body["model"]]
        if answer is not None:
            return answer(body)
        return Reply(text=f"answer from {body['model']}")

    return respond


def models_asked(fake: Any) -> list[str]:
    return [body["model"] for body in fake.chat_requests()]


async def test_503s_use_up_the_retry_budget_once_then_the_second_model_answers(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.responder = by_model({"a/first": Fail(503)})
    async with runtime_on(fake_aimlapi, home, chain_config()) as rt:
        from agentbox.turn.runner import TurnRequest
        from agentbox.turn.usage import usage_by

        result = await rt.runner.run(TurnRequest("s:1", "hello"))
        [turn] = await rt.store.sessions.transcript("s:1")
        [row] = [r for r in await usage_by(rt.store.conn, "model") if r.key == "b/second"]
    # three attempts (the transport's budget) on the first model, never more, then the second once
    assert models_asked(fake_aimlapi) == ["a/first"] * 3 + ["b/second"]
    assert result.ok and result.model == "b/second" and result.fallback_from == "a/first"
    assert result.reply == "answer from b/second\n\n(Answered by b/second: a/first could not answer.)"
    assert (turn["model"], turn["fallback_from"], turn["status"]) == ("b/second", "a/first", "ok")
    assert (row.turns, row.fallbacks) == (1, 1)


@pytest.mark.parametrize("failure", [Fail(429), Hang(30)], ids=["429", "timeout"])
async def test_429_and_timeouts_fall_back_after_the_retry_budget(fake_aimlapi, home: Path, failure: Step) -> None:
    # a short client timeout: each hanging request gives up long before the fake would answer
    config = "[aimlapi]\ntimeout = 0.3\n" + chain_config()
    fake_aimlapi.responder = by_model({"a/first": failure})
    async with runtime_on(fake_aimlapi, home, config) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("s:1", "hello"))
        [turn] = await rt.store.sessions.transcript("s:1")
    # the transport's three attempts on the first model, then the second model once
    assert models_asked(fake_aimlapi) == ["a/first"] * 3 + ["b/second"]
    assert result.ok and result.model == "b/second" and result.fallback_from == "a/first"
    assert result.reply == "answer from b/second\n\n(Answered by b/second: a/first could not answer.)"
    assert (turn["model"], turn["fallback_from"], turn["status"]) == ("b/second", "a/first", "ok")


async def test_a_404_falls_back_at_once_and_the_turns_tool_steps_stay_on_the_model_that_answered(
    fake_aimlapi, home: Path
) -> None:
    def second(body: dict[str, Any]) -> Step:
        if not any(m["role"] == "tool" for m in body["messages"]):
            return Reply(tool_calls=[ToolCall("current_time", {"timezone": "UTC"})])
        return Reply(text="It is noon.")

    fake_aimlapi.responder = by_model({"a/first": Fail(404)}, second)
    async with runtime_on(fake_aimlapi, home, chain_config()) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("s:1", "what time is it?"))
        history = await rt.store.sessions.history_turns("s:1")
        first_turn = models_asked(fake_aimlapi)
        fake_aimlapi.requests.clear()
        again = await rt.runner.run(TurnRequest("s:1", "and now?"))
    # no retry of a 404, and the tool step does not go back to the model that failed
    assert result.ok and result.tool_calls == ["current_time"] and result.model == "b/second"
    assert first_turn == ["a/first", "b/second", "b/second"]
    assert len(history) == 1
    # the next turn starts from the agent's own model again
    assert models_asked(fake_aimlapi) == ["a/first", "b/second"]
    assert again.ok and again.fallback_from == "a/first"


async def test_503s_then_a_404_reach_the_third_model_and_a_stream_carries_the_notice(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.responder = by_model({"a/first": Fail(503), "b/second": Fail(404)})
    deltas: list[str] = []

    async def collect(delta: str) -> None:
        deltas.append(delta)

    async with runtime_on(fake_aimlapi, home, chain_config()) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("s:1", "hello"), on_delta=collect)
    assert models_asked(fake_aimlapi) == ["a/first"] * 3 + ["b/second", "c/third"]
    assert all(body["stream"] for body in fake_aimlapi.chat_requests())
    assert result.model == "c/third" and result.fallback_from == "a/first"
    assert "".join(deltas) == result.reply == "answer from c/third\n\n(Answered by c/third: a/first could not answer.)"


@pytest.mark.parametrize(
    "failure",
    [
        Fail(401),
        Fail(403),
        Fail(400, "Body validation error! messages: invalid content"),
        Fail(400, "Invalid prompt: your prompt was flagged as potentially violating our usage policy"),
    ],
    ids=["401", "403", "400-validation", "400-content"],
)
async def test_no_fallback_when_the_key_or_the_request_is_the_problem(fake_aimlapi, home: Path, failure: Fail) -> None:
    fake_aimlapi.responder = by_model({"a/first": failure})
    async with runtime_on(fake_aimlapi, home, chain_config()) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("s:1", "hello"))
        [turn] = await rt.store.sessions.transcript("s:1")
    assert models_asked(fake_aimlapi) == ["a/first"]
    assert not result.ok and result.http_status == failure.status and result.model == "a/first"
    assert (turn["status"], turn["fallback_from"]) == ("failed", None)


async def test_an_image_to_a_text_only_model_goes_to_the_next_model_at_once(fake_aimlapi, home: Path) -> None:
    refusal = Fail(
        400, "Unsupported value: 'messages[1].content[1].type' does not support 'image_url' with this model."
    )
    fake_aimlapi.responder = by_model({"a/first": refusal})
    async with runtime_on(fake_aimlapi, home, chain_config()) as rt:
        from agentbox.messages import Attachment
        from agentbox.turn.runner import TurnRequest

        image = Attachment(kind="image", data=png_bytes(64, 48), media_type="image/png")
        result = await rt.runner.run(TurnRequest("s:1", "what is this?", images=(image,)))
    assert models_asked(fake_aimlapi) == ["a/first", "b/second"]
    assert result.ok and result.model == "b/second"
    parts = fake_aimlapi.chat_requests()[1]["messages"][-1]["content"]
    assert [part["type"] for part in parts] == ["text", "image_url"]


async def test_the_notice_can_be_turned_off(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.responder = by_model({"a/first": Fail(404)})
    async with runtime_on(fake_aimlapi, home, chain_config(notice="off")) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("s:1", "hello"))
    assert result.reply == "answer from b/second" and result.fallback_from == "a/first"


async def test_when_every_model_fails_the_user_hears_about_the_first_and_the_turn_is_recorded(
    fake_aimlapi, home: Path
) -> None:
    fake_aimlapi.responder = by_model({"a/first": Fail(503), "b/second": Fail(404), "c/third": Fail(502)})
    async with runtime_on(fake_aimlapi, home, chain_config()) as rt:
        from agentbox.turn.runner import TurnRequest

        result = await rt.runner.run(TurnRequest("s:1", "hello"))
        [turn] = await rt.store.sessions.transcript("s:1")
    assert models_asked(fake_aimlapi) == ["a/first"] * 3 + ["b/second"] + ["c/third"] * 3
    assert not result.ok and result.http_status == 503
    assert result.reply.startswith("Sorry, I couldn't reach the model service")
    assert turn["status"] == "failed" and turn["error"].startswith("every model failed: ModelUnavailableError")
    assert "c/third" in turn["error"] and result.error == "ModelUnavailableError"


async def test_slash_model_accepts_the_fallbacks_and_allowed_models_only(fake_aimlapi, home: Path) -> None:
    from agentbox.config import AgentConfig
    from agentbox.gateway.commands import allowed_model

    agent = AgentConfig(model="aimlapi/a/first", fallbacks=["b/second", "a/first"], allowed_models=["d/extra"])
    choices = agent.model_choices()
    assert choices == ["a/first", "b/second", "d/extra"]
    assert allowed_model("B/Second", choices) == "b/second" and allowed_model("e/costly", choices) is None
    # a chat's /model choice leads its turns' chain; the agent's fallbacks follow, without repeats
    assert agent.model_chain("b/second") == ["b/second", "a/first"]


async def test_agent_json_reports_the_model_that_answered_and_usage_counts_fallbacks(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.responder = by_model({"a/first": Fail(404)})
    write_config(home, chain_config())
    env = cli_env(home, fake_aimlapi)
    run = invoke_cli("agent", "-m", "hello", "--json", env=env)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert (data["model"], data["fallback_from"]) == ("b/second", "a/first")
    assert data["reply"].endswith("(Answered by b/second: a/first could not answer.)")
    usage = invoke_cli("usage", "--by", "model", "--json", env=env)
    rows = {row["key"]: row for row in json.loads(usage.stdout)["rows"]}
    assert rows["b/second"]["fallbacks"] == 1 and "a/first" not in rows
    table = invoke_cli("usage", "--by", "model", env=env).stdout
    assert "fallback" in table.splitlines()[0]


async def test_status_names_the_fallback_that_gave_the_last_answer(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.responder = by_model({"a/first": Fail(404)})
    async with runtime_on(fake_aimlapi, home, chain_config()) as rt:
        from agentbox.commands import parse_command
        from agentbox.gateway.commands import ChatCommands
        from agentbox.messages import Inbound
        from agentbox.turn.runner import TurnRequest

        await rt.runner.run(TurnRequest("telegram:dm:7", "hello", sender_id="7"))
        inbound = Inbound("telegram", "7", "1", "7", "/status", is_direct=True)
        command = parse_command("/status", "chat")
        assert command is not None
        text = await ChatCommands(rt.config, rt.store).run(
            command, inbound, session_key="telegram:dm:7", agent_id="main"
        )
    assert "Last answer: b/second (a fallback; a/first could not answer)" in text


async def test_a_database_from_before_fallbacks_migrates_and_keeps_its_turns(home: Path) -> None:
    from tests.helpers import database_before

    path = home / "agentbox.db"
    with database_before(path, "fallback_from") as conn:
        conn.execute("INSERT INTO sessions(key, created_at, updated_at) VALUES ('s:1', 1, 1)")
        conn.execute(
            "INSERT INTO turns(session_key, epoch, started_at, status, model, usd) VALUES ('s:1', 0, 5, 'ok', 'gpt-4o', 0.5)"
        )
    async with await Store.open(path) as store:
        from agentbox.turn.usage import usage_by

        [row] = await usage_by(store.conn, "model")
        assert (row.key, row.turns, row.fallbacks, row.usd) == ("gpt-4o", 1, 0, 0.5)
        assert await store.sessions.last_answer("s:1") == ("gpt-4o", None)


async def test_a_summary_needed_while_the_first_model_is_down_is_written_by_a_fallback(
    fake_aimlapi, home: Path
) -> None:
    """Compaction asks the chain too; and the failure it met is not met again by the turn's own request."""
    config = chain_config() + "[agents.main.memory]\ntoken_budget = 600\n"

    def respond(body: dict[str, Any]) -> Step:
        if body["model"] == "a/first":
            return Fail(503)
        if "Summarize this conversation" in json.dumps(body["messages"][0]):
            return Reply(text="SUMMARY: numbers were counted.")
        return Reply(text="noted " + "blah " * 40)

    fake_aimlapi.responder = respond
    async with runtime_on(fake_aimlapi, home, config) as rt:
        from agentbox.turn.runner import TurnRequest

        results = [await rt.runner.run(TurnRequest("s:1", f"number {i} " + "pad " * 30)) for i in range(8)]
    bodies = fake_aimlapi.chat_requests()
    summaries = [b for b in bodies if "Summarize this conversation" in json.dumps(b["messages"][0])]
    assert all(result.ok and result.model == "b/second" for result in results)
    assert [b["model"] for b in summaries] == ["a/first"] * 3 + ["b/second"]
    # each turn waits out the first model's retries once, summary or not
    assert models_asked(fake_aimlapi).count("a/first") == 3 * len(results)
    assert "SUMMARY: numbers were counted." in json.dumps(bodies[-1]["messages"])
