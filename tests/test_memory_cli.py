"""`agentbox memory ...` and `agentbox sessions search`, in-process: the owner sees, edits, moves and searches."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbox.memory.model import MAX_TEXT
from agentbox.store import Store, TurnRecord
from tests.clirun import invoke
from tests.helpers import write_config

ESC = "\x1b]52;c;ZXZpbA==\x07"  # a terminal control sequence hidden in chat text


def memories(home: Path, *args: str) -> list[dict]:
    done = invoke(home, "memory", "list", "--json", *args)
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)


def test_add_list_search_forget_with_the_documented_json_shape(home: Path) -> None:
    assert (
        invoke(
            home, "memory", "add", "The user's dog is called Biscuit.", "--channel", "telegram", "--sender", "123"
        ).exit_code
        == 0
    )
    added = invoke(home, "memory", "add", "Standup is at 09:30.", "--agent", "main", "--pin")
    assert added.stdout == "Remembered as #2 in agent:main.\n"
    again = invoke(
        home, "memory", "add", "the user's dog is called biscuit", "--channel", "telegram", "--sender", "123"
    )
    assert again.stdout == "Already remembered as #1 in sender:telegram:123.\n"
    [dog] = memories(home, "--channel", "telegram", "--sender", "123")
    assert set(dog) >= {"id", "scope", "text", "created_at"}
    assert (dog["id"], dog["scope"], dog["text"], dog["pinned"]) == (
        1,
        "sender:telegram:123",
        "The user's dog is called Biscuit.",
        False,
    )
    assert dog["created_at"].endswith("Z") and dog["origin"] == "telegram:123" and dog["source"] == "owner"
    assert [m["scope"] for m in memories(home)] == ["agent:main", "sender:telegram:123"]
    found = json.loads(invoke(home, "memory", "search", "what is my dog called?", "--json").stdout)
    assert [m["id"] for m in found] == [1]
    assert invoke(home, "memory", "forget", "1").stdout == "Forgot 1 memory.\n"
    missing = invoke(home, "memory", "forget", "1")
    assert missing.exit_code == 1 and "do not exist" in missing.stderr
    assert [m["id"] for m in memories(home)] == [2]


def test_add_and_import_keep_to_the_cap_of_the_agent_the_scope_belongs_to(home: Path, tmp_path: Path) -> None:
    write_config(
        home,
        "[agents.main.memory]\nmax_items_per_scope = 2\n"
        "[agents.work]\nmodel = 'gpt-4o'\n[agents.work.memory]\nmax_items_per_scope = 4\n",
    )
    for number in range(3):
        added = invoke(home, "memory", "add", f"Work fact number {number}.", "--agent", "work")
        assert added.exit_code == 0 and "evicted" not in added.stdout, added.stdout
    notes = tmp_path / "notes.md"
    notes.write_text(
        "## agent:work\n- Work fact four.\n- Work fact five.\n\n## agent:main\n- Main one.\n- Main two.\n- Main three.\n",
        encoding="utf-8",
    )
    imported = invoke(home, "memory", "import", str(notes))
    assert imported.exit_code == 0 and "2 old ones were evicted" in imported.stdout, imported.stdout
    assert len(memories(home, "--agent", "work")) == 4  # work's cap, not main's
    assert len(memories(home, "--agent", "main")) == 2


def test_scope_options_that_make_no_sense_are_refused_with_the_fix(home: Path) -> None:
    for args, needle in (
        (["--sender", "123"], "--sender needs --channel"),
        (["--channel", "telegram"], "--channel goes with --sender or --chat"),
        (["--agent", "main", "--scope", "agent:main"], "choose one of --agent, --scope"),
        (["--scope", "person:123"], "not a memory scope"),
    ):
        done = invoke(home, "memory", "list", *args)
        assert done.exit_code == 2 and needle in done.stderr, done.stderr
    no_scope = invoke(home, "memory", "add", "A fact.")
    assert no_scope.exit_code == 2 and "say whose memory" in no_scope.stderr
    too_long = invoke(home, "memory", "add", "x" * (MAX_TEXT + 1), "--agent", "main")
    assert too_long.exit_code == 2 and "one short sentence" in too_long.stderr
    typo = invoke(home, "memory", "add", "A fact.", "--channel", "telegarm", "--sender", "1")
    assert typo.exit_code == 0 and "not a channel agentbox knows" in typo.stderr


def test_link_makes_one_person_and_unlink_undoes_it(home: Path) -> None:
    invoke(home, "memory", "add", "The user is vegetarian.", "--channel", "telegram", "--sender", "123")
    invoke(home, "memory", "add", "The user works nights.", "--channel", "slack", "--sender", "U456")
    linked = invoke(home, "memory", "link", "telegram:123", "slack:U456")
    assert linked.stdout == "Linked telegram:123, slack:U456: one person, memory scope sender:telegram:123.\n"
    both = memories(home, "--channel", "slack", "--sender", "U456")
    assert sorted(m["text"] for m in both) == ["The user is vegetarian.", "The user works nights."]
    links = json.loads(invoke(home, "memory", "links", "--json").stdout)
    assert links == [{"person": "sender:telegram:123", "identities": ["slack:U456", "telegram:123"]}]
    assert invoke(home, "memory", "unlink", "slack:U456").exit_code == 0
    assert [m["text"] for m in memories(home, "--channel", "slack", "--sender", "U456")] == ["The user works nights."]
    bad = invoke(home, "memory", "link", "telegram:123")
    assert bad.exit_code == 2 and "at least two" in bad.stderr


# Texts as a memory stores them: one line, at most MAX_TEXT characters, not blank.
TEXTS = st.text(min_size=1, max_size=MAX_TEXT).map(lambda t: " ".join(t.split())).filter(bool)
SCOPES = st.sampled_from(["sender:telegram:123", "sender:cli:owner", "chat:slack:C0123", "agent:main"])


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    items=st.lists(st.tuples(SCOPES, TEXTS, st.booleans()), min_size=1, max_size=12),
    fmt=st.sampled_from(["md", "json"]),
)
def test_export_then_import_round_trips(tmp_path_factory, items: list[tuple[str, str, bool]], fmt: str) -> None:
    source, target = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("target")
    for scope, text, pinned in items:
        pin = ["--pin"] if pinned else []
        assert invoke(source, "memory", "add", "--scope", scope, *pin, "--", text).exit_code == 0  # "-0" is text
    exported = invoke(source, "memory", "export", "--format", fmt, "--output", str(source / f"memory.{fmt}"))
    assert exported.exit_code == 0, exported.stderr
    imported = invoke(target, "memory", "import", str(source / f"memory.{fmt}"))
    assert imported.exit_code == 0, imported.stderr

    def kept(home: Path) -> list[tuple[str, str, bool, str]]:
        return sorted((m["scope"], m["text"], m["pinned"], m["created_at"]) for m in memories(home))

    assert kept(target) == kept(source)
    again = invoke(target, "memory", "import", str(source / f"memory.{fmt}"))
    assert "Imported 0 new memories" in again.stdout and kept(target) == kept(source)  # importing twice adds nothing


def test_an_openclaw_memory_md_moves_in(home: Path, tmp_path: Path) -> None:
    notes = tmp_path / "MEMORY.md"
    notes.write_text(
        "# MEMORY.md\n\n## Communication Style\n- Prefers concise responses, no filler\n- Uses dark mode everywhere\n\n"
        "## Development\n* Primary language: TypeScript\n1. Package manager: pnpm (never npm)\n\n"
        "Long-running project: a home automation hub\nbuilt on a Raspberry Pi.\n\n```\nnot a memory\n```\n",
        encoding="utf-8",
    )
    done = invoke(home, "memory", "import", str(notes), "--channel", "cli", "--sender", "owner")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.endswith("Imported 5 new memories (0 were already there, 0 reworded an existing one).\n")
    assert sorted(m["text"] for m in memories(home, "--scope", "sender:cli:owner")) == [
        "Communication Style: Prefers concise responses, no filler",
        "Communication Style: Uses dark mode everywhere",
        "Development: Long-running project: a home automation hub built on a Raspberry Pi.",
        "Development: Package manager: pnpm (never npm)",
        "Development: Primary language: TypeScript",
    ]


def test_a_bad_import_file_says_where_and_stores_nothing(home: Path, tmp_path: Path) -> None:
    orphan = tmp_path / "notes.md"
    orphan.write_text("## sender:telegram:1\n- kept\n\n## Misc\n- no scope for this one\n", encoding="utf-8")
    done = invoke(home, "memory", "import", str(orphan))
    assert done.exit_code == 2 and f"{orphan}: line 5: no scope for this memory" in done.stderr
    broken = tmp_path / "memories.json"
    broken.write_text(json.dumps([{"scope": "agent:main", "text": "ok"}, {"scope": "nobody", "text": "x"}]))
    done = invoke(home, "memory", "import", str(broken))
    assert done.exit_code == 2 and f"{broken}: item 1:" in done.stderr and "not a memory scope" in done.stderr
    assert memories(home) == []


def test_list_search_and_export_print_chat_text_safely(home: Path) -> None:
    hostile = f"The user's wifi is called Hedgehog{ESC}\x9b31m\u202e."  # ESC, a C1 CSI, a bidi override
    invoke(home, "memory", "add", "--agent", "main", "--", hostile)
    for args in (["list"], ["search", "wifi"], ["export", "--format", "json"]):
        shown = invoke(home, "memory", *args).stdout
        assert "Hedgehog" in shown and not {"\x1b", "\x07", "\x9b", "\u202e"} & set(shown), args
    exported = invoke(home, "memory", "export", "--format", "json")
    assert json.loads(exported.stdout)[0]["text"] == hostile  # JSON keeps it, escaped


def test_sessions_search_finds_old_turns_across_sessions(home: Path) -> None:
    async def seed() -> None:
        async with await Store.open(home / "agentbox.db") as store:
            for key in ("telegram:dm:1", "slack:dm:U2"):
                await store.sessions.ensure(key, channel=key.split(":")[0])
            await store.sessions.add_turn(TurnRecord("telegram:dm:1", "m", "ok", "where is the lighthouse?", "North."))
            for index in range(300):
                await store.sessions.add_turn(TurnRecord("slack:dm:U2", "m", "ok", f"ticket {index}", "done"))
            await store.sessions.add_turn(
                TurnRecord("slack:dm:U2", "m", "ok", "paint it red", f"The lighthouse{ESC} is red now.")
            )

    asyncio.run(seed())
    done = invoke(home, "sessions", "search", "lighthouses", "--json")
    hits = json.loads(done.stdout)
    assert [(h["session"], h["turn_id"]) for h in hits] in (
        [("telegram:dm:1", 1), ("slack:dm:U2", 302)],
        [("slack:dm:U2", 302), ("telegram:dm:1", 1)],
    )
    assert set(hits[0]) >= {"turn_id", "session", "started_at", "user", "reply"}
    assert "«lighthouse»" in hits[0]["user"] + hits[0]["reply"]
    text = invoke(home, "sessions", "search", "lighthouse", "--session", "slack:dm:U2").stdout
    assert "slack:dm:U2" in text and "reply: The «lighthouse»" in text and "telegram" not in text and "\x1b" not in text
    assert invoke(home, "sessions", "search", "zeppelin").stdout == "No turn matches.\n"
