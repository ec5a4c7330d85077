"""Message chunking: never over the limit, nothing lost, order kept, code fences stay valid."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from agentbox.textsplit import split_markdown, split_text

_WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=3000)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@settings(max_examples=200, deadline=None)
@given(text=_WORDS, limit=st.integers(min_value=1, max_value=500))
def test_split_text_limits_and_keeps_every_character_in_order(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(len(chunk) <= limit for chunk in chunks)
    assert _squash("".join(chunks)) == _squash(text)


_MD = st.lists(
    st.one_of(
        st.text(min_size=1, max_size=300),
        st.builds(
            lambda body, lang: f"\n```{lang}\n{body}\n```\n",
            st.text(max_size=1500),
            st.sampled_from(["", "python", "js"]),
        ),
    ),
    max_size=8,
).map("".join)


def _strip_fences(text: str) -> str:
    return _squash(re.sub(r"^```[^\n`]*$", "", text, flags=re.MULTILINE))


@settings(max_examples=200, deadline=None)
@given(text=_MD, limit=st.integers(min_value=60, max_value=2000))
def test_split_markdown_limits_order_and_balanced_fences(text: str, limit: int) -> None:
    chunks = split_markdown(text, limit)
    assert all(len(chunk) <= limit for chunk in chunks)
    assert _strip_fences("\n".join(chunks)) == _strip_fences(text)  # each chunk is its own message
    if len(re.findall(r"^```", text, flags=re.MULTILINE)) % 2 == 0 and not re.search(r"```[^\n]*```", text):
        assert all(len(re.findall(r"^```", c, flags=re.MULTILINE)) % 2 == 0 for c in chunks)


def test_prefers_paragraph_boundaries() -> None:
    text = ("alpha " * 30).strip() + "\n\n" + ("beta " * 30).strip()
    assert split_text(text, 200) == [("alpha " * 30).strip(), ("beta " * 30).strip()]


def test_code_block_reopened_with_language() -> None:
    text = "intro\n```python\n" + "x = 1\n" * 100 + "```\nend"
    chunks = split_markdown(text, 200)
    assert chunks[1].startswith("```python\n") and all(c.count("```") % 2 == 0 for c in chunks)
