"""What the panel renders: Markdown from a model never becomes markup it did not ask for; charts
carry their numbers in words and patterns, not only in colour."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from agentbox.web.charts import Series, legend, meter, stacked_bars
from agentbox.web.render import markdown_html

# What Markdown itself produces; anything else in the output came from the text.
MARKDOWN_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "a", "img", "ul", "ol", "li", "blockquote", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "s",
}  # fmt: skip
SAFE_SCHEMES = ("http:", "https:", "mailto:", "#", "/")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.found


HOSTILE = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[c](vbscript:x)",
        "![i](data:text/html;base64,PHNjcmlwdD4=)",
        "<iframe src=//evil>",
        "<svg onload=alert(1)>",
        '"><b onmouseover=x>',
        "<style>*{}</style>",
        "`<code>`",
        "| a | <b>b</b> |\n|---|---|\n| 1 | 2 |",
    ]
)


@settings(max_examples=300)
@given(st.lists(st.one_of(HOSTILE, st.text()), max_size=6).map("\n".join))
def test_model_markdown_never_becomes_raw_html(text: str) -> None:
    for tag, attrs in tags_of(str(markdown_html(text))):
        assert tag in MARKDOWN_TAGS, (tag, text)
        assert not any(name.startswith("on") or name == "style" for name in attrs), (attrs, text)
        for name in ("href", "src"):
            value = (attrs.get(name) or "").strip().lower()
            if value:
                assert value.startswith(SAFE_SCHEMES) or not re.match(r"^[a-z][a-z0-9+.-]*:", value), (value, text)


def test_markdown_renders_what_chat_answers_use() -> None:
    html = str(
        markdown_html(
            "**bold** and `code`\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[docs](https://example.org)"
        )
    )
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html and "<li>one</li>" in html
    assert "<td>1</td>" in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow" target="_blank">docs</a>' in html


def test_a_stacked_bar_chart_says_every_value_in_words() -> None:
    days = ["2026-11-28", "2026-11-29", "2026-11-30"]
    series = [Series("gpt-4o", [1.0, 0.0, 2.6]), Series("claude", [0.5, 0.25, 0.0])]
    svg = str(stacked_bars(days, series, label="Spend", fmt=lambda v: f"${v:.2f}"))
    titles = re.findall(r"<title>([^<]*)</title>", svg)
    assert titles == ["Spend", "2026-11-28 · gpt-4o: $1.00", "2026-11-28 · claude: $0.50",
                      "2026-11-29 · claude: $0.25", "2026-11-30 · gpt-4o: $2.60"]  # fmt: skip
    fills = re.findall(r'fill="url\(#(p\d)\)"', svg)
    assert fills == ["p0", "p1", "p1", "p0"]  # each series its own pattern, not only its own colour
    assert ">$5.00</text>" in svg  # the axis reaches a round number above the tallest bar ($2.60)
    keys = str(legend(series, lambda v: f"${v:.2f}"))
    assert "gpt-4o <b>$3.60</b>" in keys and "claude <b>$0.75</b>" in keys


def test_an_empty_chart_and_the_cap_meter() -> None:
    svg = str(stacked_bars(["2026-11-30"], [], label="Spend", fmt=str))
    assert "<rect" not in svg and "<svg" in svg
    assert 'class="meter over"' in str(meter(3.0, 2.0, label="cap"))
    assert 'class="meter warn"' in str(meter(1.7, 2.0, label="cap"))
    assert 'width="0.0"' in str(meter(1.0, None, label="no cap"))


def test_names_in_charts_are_escaped() -> None:
    svg = str(stacked_bars(["2026-11-30"], [Series("<script>x</script>", [1.0])], label="<b>", fmt=str))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<b>" not in svg


def test_the_connectors_card_shows_state_reason_and_restarts_or_the_caller_s_hint() -> None:
    from types import SimpleNamespace

    from agentbox.web.render import environment

    card = environment().from_string(
        '{% from "_connectors.html" import connectors_card %}'
        "{% call connectors_card(connectors) %}Set <code>enabled = true</code>{% endcall %}"
    )
    failed = SimpleNamespace(name="telegram", state="failed: token <rejected>", restarts=3)
    ready = SimpleNamespace(name="slack", state="ready", restarts=0)
    html = card.render(connectors=[failed, ready])
    assert '<span class="state failed">failed</span> <b>telegram</b>' in html
    assert ":failed: token" not in html and ": token &lt;rejected&gt;" in html  # the reason, escaped
    assert "(3 restarts)" in html and '<span class="state ready">ready</span> <b>slack</b>' in html
    assert "enabled = true" not in html  # the hint only when nothing is enabled
    assert '<p class="empty">Set <code>enabled = true</code></p>' in card.render(connectors=[])


class Page(HTMLParser):
    """Tags (with attributes) and text nodes of a rendered fragment, entities decoded."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    def fields(self, action: str) -> dict[str, str | None]:
        """The hidden fields of the form posting to `action` (the first one)."""
        at = next(i for i, (tag, attrs) in enumerate(self.tags) if tag == "form" and attrs.get("action") == action)
        fields = {}
        for tag, attrs in self.tags[at + 1 :]:
            if tag != "input":
                break
            fields[str(attrs["name"])] = attrs["value"]
        return fields


stranger_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300)
HOSTILE_NAMES = st.sampled_from(
    ['"><script>alert(1)</script>', "' onmouseover='x", "</td></tr></table><form>", "&amp;"]
)


@settings(max_examples=150)
@given(
    sender_id=stranger_text | HOSTILE_NAMES,
    name=stranger_text | HOSTILE_NAMES,
    group_id=stranger_text | HOSTILE_NAMES,
    group_name=stranger_text | HOSTILE_NAMES,
)
def test_what_strangers_name_themselves_shows_as_text_and_posts_back_unchanged(
    sender_id: str, name: str, group_id: str, group_name: str
) -> None:
    from types import SimpleNamespace

    from agentbox.web.render import render

    def attention(sender_id: str, name: str, group_id: str, group_name: str) -> Page:
        pending = SimpleNamespace(
            channel="telegram", sender_id=sender_id, sender_name=name, code="K7Q2MZ", created_at=0
        )
        group = SimpleNamespace(channel="telegram", group_id=group_id, group_name=group_name, code="G4H8")
        context = {
            "pending": [pending],
            "group_requests": [group],
            "now": 60.0,
            "csrf": "t",
            "csrf_field": "csrf_token",
        }
        return Page(render("_attention.html", **context))

    page = attention(sender_id, name, group_id, group_name)
    plain = attention("42", "Alice", "-100555", "Family")
    assert [tag for tag, _ in page.tags] == [tag for tag, _ in plain.tags]  # no element of the stranger's making
    assert [sorted(attrs) for _, attrs in page.tags] == [sorted(attrs) for _, attrs in plain.tags]
    for value in (sender_id, name, group_id, group_name):
        assert value in page.texts  # shown as it is, one text node
    assert page.fields("/ui/access/open-group")["code_or_id"] == group_id  # the form sends back what was shown


@settings(max_examples=50, deadline=None)
@given(question=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20_000) | HOSTILE_NAMES)
def test_a_question_of_any_size_shows_in_the_transcript_as_text(question: str) -> None:
    from agentbox.web.render import render

    def turn(text: str) -> Page:
        t = {"id": 7, "status": "ok", "started_at": 0, "user_text": text, "model": "m", "reply": "fine",
             "links": [], "input_tokens": 1, "output_tokens": 1, "usd": 0}  # fmt: skip
        return Page(render("_turn.html", t=t, extras={}, highlight=""))

    page, plain = turn(question), turn("What time is it?")
    assert [tag for tag, _ in page.tags] == [tag for tag, _ in plain.tags]
    assert question in page.texts
