"""Markdown → Slack mrkdwn, and Slack text → plain text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentbox.connectors.slack.format import escape, markdown_to_mrkdwn, mrkdwn_to_text

# Slack's own syntax the converter may emit: links/mentions in <...> (no raw < > inside),
# and the blockquote marker `>` at the start of a line.
_SLACK_TOKEN = re.compile(r"<(?:https?://|mailto:)[^<>\s|]+(?:\|[^<>]*)?>")
_QUOTE_MARKER = re.compile(r"^>", re.MULTILINE)
_ENTITY = re.compile(r"&(?:amp|lt|gt);")


def assert_only_slack_syntax_is_raw(mrkdwn: str) -> None:
    rest = _QUOTE_MARKER.sub("", _SLACK_TOKEN.sub("", mrkdwn))
    assert "<" not in rest and ">" not in rest, mrkdwn
    assert "&" not in _ENTITY.sub("", rest), mrkdwn
    for token in _SLACK_TOKEN.findall(mrkdwn):  # inside links, & only as an entity too
        assert "&" not in _ENTITY.sub("", token), token


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*italic* and _italic_", "_italic_ and _italic_"),
        ("***both***", "*_both_*"),
        ("~~gone~~", "~gone~"),
        ("2 * 3 * 4 and snake_case_name", "2 * 3 * 4 and snake_case_name"),
        ("[docs](https://x.example/?a=1&b=2)", "<https://x.example/?a=1&amp;b=2|docs>"),
        ("[**bold** link](https://x.example)", "<https://x.example|*bold* link>"),
        ("<https://x.example>", "<https://x.example>"),
        ("![a cat](https://x.example/cat.png)", "<https://x.example/cat.png|a cat>"),
        ("[run](javascript:alert)", "run (javascript:alert)"),
        ("use `a < b && c`", "use `a &lt; b &amp;&amp; c`"),
        ("# Title\n## **Sub**", "*Title*\n*Sub*"),
        ("- one\n* two\n  + nested", "• one\n• two\n  • nested"),
        ("- [x] done\n- [ ] todo", "• ☑ done\n• ☐ todo"),
        ("1. one\n2) two", "1. one\n2. two"),
        ("> quoted **text**", "> quoted *text*"),
        ("a <b> & c", "a &lt;b&gt; &amp; c"),
        ("<!channel> <@U123>", "&lt;!channel&gt; &lt;@U123&gt;"),
        ("---", "──────────"),
    ],
)
def test_converts(markdown: str, mrkdwn: str) -> None:
    assert markdown_to_mrkdwn(markdown) == mrkdwn


def test_code_blocks_are_verbatim_but_escaped() -> None:
    markdown = "Look:\n```python\nif a < b and **c**:\n    print('&')\n```\nafter *it*"
    assert markdown_to_mrkdwn(markdown) == "Look:\n```\nif a &lt; b and **c**:\n    print('&amp;')\n```\nafter _it_"


def test_unclosed_code_block_is_closed() -> None:
    assert markdown_to_mrkdwn("```\ncode") == "```\ncode\n```"


def test_tables_become_code_blocks() -> None:
    table = "| a | b |\n|---|:-:|\n| 1 | <2> |"
    assert markdown_to_mrkdwn(table) == "```\n| a | b |\n|---|:-:|\n| 1 | &lt;2&gt; |\n```"


def test_escape() -> None:
    assert escape("<&>") == "&lt;&amp;&gt;"


def test_slack_text_to_plain_text() -> None:
    text = (
        "<@U0BOT> hi <@U2|ada> in <#C1|general> <!here>: &lt;b&gt; &amp; <https://a.example|site> <https://b.example>"
    )
    assert (
        mrkdwn_to_text(text, strip_user="U0BOT")
        == "hi @ada in #general @here: <b> & site (https://a.example) https://b.example"
    )


# Markdown-heavy fragments so the generator hits links, fences, emphasis and entities often.
_markdownish = st.lists(
    st.sampled_from([*"ab <>&*_~`[]()!#-+|:/\n.x1 ", "https://", "mailto:", "```", "**", "&amp;", "](", "> ", "- "]),
    max_size=60,
).map("".join)


@settings(max_examples=250, deadline=None)
@given(st.lists(_markdownish, max_size=4).map("".join))
def test_never_emits_raw_control_characters_outside_slack_syntax(markdown: str) -> None:
    assert_only_slack_syntax_is_raw(markdown_to_mrkdwn(markdown))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_unicode_text_is_safe(markdown: str) -> None:
    assert_only_slack_syntax_is_raw(markdown_to_mrkdwn(markdown))
