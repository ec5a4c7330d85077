"""Markdown → Telegram HTML: examples, and properties checked against the fake's strict HTML parser."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agentbox.connectors.telegram.format import (
    TELEGRAM_MAX_TEXT,
    markdown_to_html,
    render_chunks,
    utf16_len,
    visible_text,
)
from tests.fakes.telegram import HtmlParseError, parse_html


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("**bold** and __also__", "<b>bold</b> and <b>also</b>"),
        ("*it* and _it_", "<i>it</i> and <i>it</i>"),
        ("snake_case_name stays", "snake_case_name stays"),
        ("~~gone~~", "<s>gone</s>"),
        ("a `x<y>&z` b", "a <code>x&lt;y&gt;&amp;z</code> b"),
        ("[site](https://e.com/?a=1&b=2)", '<a href="https://e.com/?a=1&amp;b=2">site</a>'),
        ("[bad](javascript:void)", "bad (javascript:void)"),
        ("## Heading", "<b>Heading</b>"),
        ("- one\n* two", "• one\n• two"),
        ("1. first", "1. first"),
        ("> quote", "<blockquote>quote</blockquote>"),
        ("5 < 6 & 7 > 3", "5 &lt; 6 &amp; 7 &gt; 3"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        (r"\*not italic\*", "*not italic*"),
        ("**never closed", "**never closed"),
    ],
)
def test_inline_and_block_examples(markdown: str, expected: str) -> None:
    assert markdown_to_html(markdown) == expected
    parse_html(expected)


def test_code_block_keeps_language_and_escapes() -> None:
    html = markdown_to_html("before\n```python\nif a < b and c:\n    **x**\n```\nafter")
    assert html == 'before\n<pre><code class="language-python">if a &lt; b and c:\n    **x**</code></pre>\nafter'


def test_unclosed_code_block_runs_to_the_end() -> None:
    html = markdown_to_html("```\nopen <tag>")
    assert html == "<pre>open &lt;tag&gt;</pre>"
    assert parse_html(html) == "open <tag>"


def test_fake_parser_rejects_what_telegram_rejects() -> None:
    for bad in ("<b>open", "<b><i>x</b></i>", "<div>x</div>", "a < b", "x & y", "</b>"):
        with pytest.raises(HtmlParseError):
            parse_html(bad)


def test_long_reply_splits_at_paragraphs_under_the_limit() -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 150 for i in range(20)]
    chunks = render_chunks("\n\n".join(paragraphs))
    assert len(chunks) > 1
    assert all(utf16_len(c.html) <= TELEGRAM_MAX_TEXT for c in chunks)
    assert all(c.plain.startswith("Paragraph") for c in chunks)  # cuts fall between paragraphs


def test_markup_heavy_chunk_is_resplit_after_conversion() -> None:
    # "&" becomes "&amp;": the Markdown fits, its HTML would not
    chunks = render_chunks("&" * 4000)
    assert len(chunks) >= 2
    assert all(utf16_len(c.html) <= TELEGRAM_MAX_TEXT for c in chunks)
    assert "".join(visible_text(c.html) for c in chunks) == "&" * 4000


def test_emoji_count_as_two_utf16_units() -> None:
    chunks = render_chunks("😀" * 3000)  # 3,000 characters but 6,000 UTF-16 units
    assert len(chunks) == 2
    assert all(utf16_len(c.html) <= TELEGRAM_MAX_TEXT for c in chunks)


_TOKENS = [*"ab c\n*_~`[]()#>-+.&<\\!|", "**", "```", "```py\n", "](https://x.y)", "😀"]
markdownish = st.lists(st.sampled_from(_TOKENS), max_size=200).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdownish)
def test_property_output_always_parses(markdown: str) -> None:
    parse_html(markdown_to_html(markdown))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdownish, st.integers(min_value=40, max_value=600))
def test_property_chunks_parse_and_fit(markdown: str, limit: int) -> None:
    for chunk in render_chunks(markdown * 6, limit):
        assert utf16_len(chunk.html) <= limit
        assert utf16_len(chunk.plain) <= limit
        assert parse_html(chunk.html).strip()  # Telegram rejects blank messages
        assert chunk.plain.strip()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab c\n*_~#>-&<.")), max_size=300))
def test_property_no_word_characters_lost(markdown: str) -> None:
    # without links and code (whose URL / language are not visible) every letter survives, in order;
    # "~~~a" at a line start is a fenced code block whose info string "a" is a language, not text
    assume(not re.search(r"^ {0,3}~~~", markdown, flags=re.MULTILINE))
    visible = parse_html(markdown_to_html(markdown))
    assert re.sub(r"[^abc]", "", visible) == re.sub(r"[^abc]", "", markdown)


def test_hostile_nesting_does_not_recurse_forever() -> None:
    html = markdown_to_html("*_" * 3000 + "x" + "_*" * 3000)
    parse_html(html)
