"""Web search skill: the Sonar request, and a concise answer with sources merged from every citation shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentbox.turn.runner import TurnRequest
from tests.fakes.aimlapi import Fail, Reply, ToolCall
from tests.helpers import runtime_on
from tests.skills_helpers import tool_outputs


async def test_web_search_answer_with_sources(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("web_search", {"query": "latest pydantic-ai release", "recency": "week"})]),
        Reply(
            text="pydantic-ai 2.68 was released this week.",
            citations=["https://github.com/pydantic/pydantic-ai/releases", "https://pypi.org/project/pydantic-ai/"],
            annotations=[
                {"type": "url_citation", "url_citation": {"url": "https://ai.pydantic.dev/changelog/", "title": "c"}},
                {"type": "url_citation", "url": "https://flat.example/annotation"},
            ],
            search_results=[
                {"title": "PyPI", "url": "https://pypi.org/project/pydantic-ai/"},
                {"title": "Blog", "url": "https://pydantic.dev/articles/release"},
            ],
        ),
        Reply(text="It is 2.68. Sources: ..."),
    )
    async with runtime_on(fake_aimlapi, home) as rt:
        result = await rt.runner.run(TurnRequest(session_key="t:search", text="what is the latest pydantic-ai?"))
    assert result.ok and result.tool_calls == ["web_search"]
    search = fake_aimlapi.chat_requests()[1]
    assert search["model"] == "perplexity/sonar-pro"
    assert search["web_search_options"] == {"search_context_size": "medium", "search_recency_filter": "week"}
    assert search["search_mode"] == "web" and "tools" not in search
    assert search["messages"][-1] == {"role": "user", "content": "latest pydantic-ai release"}
    output = tool_outputs(fake_aimlapi.last_chat())[0]
    assert output.startswith("pydantic-ai 2.68 was released this week.\n\nSources (untrusted web content):\n")
    # merged in order, deduplicated (pypi.org is in both citations and search_results)
    assert output.split("Sources (untrusted web content):\n")[1].splitlines() == [
        "[1] https://github.com/pydantic/pydantic-ai/releases",
        "[2] https://pypi.org/project/pydantic-ai/",
        "[3] https://ai.pydantic.dev/changelog/",
        "[4] https://flat.example/annotation",
        "[5] https://pydantic.dev/articles/release",
    ]
    assert result.reply == "It is 2.68. Sources: ..."


@pytest.mark.parametrize("only", ["citations", "annotations", "search_results"])
async def test_each_citation_shape_alone_gives_sources(fake_aimlapi, home: Path, only: str) -> None:
    fake_aimlapi.search_fields = {only}
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("web_search", {"query": "q"})]), Reply(text="answer"), Reply())
    async with runtime_on(fake_aimlapi, home) as rt:
        await rt.runner.run(TurnRequest(session_key=f"t:{only}", text="search"))
    output = tool_outputs(fake_aimlapi.last_chat())[0]
    assert "[1] https://example.com/one" in output and "[2] https://example.org/two" in output


async def test_search_failure_is_honest(fake_aimlapi, home: Path) -> None:
    fake_aimlapi.script(Reply(tool_calls=[ToolCall("web_search", {"query": "q"})]), Fail(403), Reply())
    async with runtime_on(fake_aimlapi, home) as rt:
        await rt.runner.run(TurnRequest(session_key="t:fail", text="search"))
    assert tool_outputs(fake_aimlapi.last_chat())[0].startswith("Web search failed:")
