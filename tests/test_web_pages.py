"""Web panel pages and actions over HTTP: pairing decisions, chat over SSE, transcripts, search, usage, media, log."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from agentbox.humanize import money
from agentbox.turn.usage import usage_by_day, utc_day_start
from agentbox.web.pages import last_days
from agentbox.web.queries import search_transcripts
from agentbox.web.render import tokens, utc_time
from tests.fakes.aimlapi import Reply, ToolCall
from tests.gatewaykit import FakeConnector, inbound, wait_until
from tests.helpers import png_bytes
from tests.skills_helpers import requires, write_skill
from tests.webkit import HTML, StreamGate, browser_session, logged_in, running_panel, sse_events


async def eventually(read: Any, ok: Any, tries: int = 500) -> Any:
    """Poll an async read until `ok(value)` holds (the message is handled in the background)."""
    for _ in range(tries):
        if ok(value := await read()):
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened; last value {value!r}")


async def _pending_code(panel: Any, connector: FakeConnector, sender: str) -> str:
    await connector.push(inbound("hi", sender=sender, sender_name=f"user{sender}"))
    await wait_until(lambda: any(s.address.chat_id == sender for s in connector.sent))
    return next(r.code for r in await panel.gateway.pairing.pending() if r.sender_id == sender)


async def test_approve_deny_and_revoke_are_the_cli_s_actions(fake_aimlapi: Any, home: Path) -> None:
    connector = FakeConnector()
    async with running_panel(fake_aimlapi, home, connector) as panel, browser_session() as http:
        csrf = await logged_in(panel, http)
        alice, mallory = await _pending_code(panel, connector, "42"), await _pending_code(panel, connector, "666")
        async with http.get(panel.base + "/", headers=HTML) as answer:
            landing = await answer.text()
        assert alice in landing and mallory in landing and "user666" in landing  # what needs the owner, first

        def post(path: str, **fields: str) -> Any:
            return http.post(panel.base + path, data={**fields, "csrf_token": csrf, "next": "/"}, headers=HTML)

        async with post("/ui/access/approve", channel="telegram", code=alice.lower()) as answer:
            page = await answer.text()
        assert "Approved telegram sender 42 (user42). They were told they can talk now." in page
        assert alice not in page and mallory in page
        assert any("approved" in text for text in connector.texts("42"))  # told at once, as after the CLI
        await connector.push(inbound("what is 2+2?", sender="42"))
        await wait_until(lambda: "echo: what is 2+2?" in connector.texts("42"))

        async with post("/ui/access/deny", channel="telegram", code=mallory) as answer:
            assert "Denied telegram sender 666" in await answer.text()
        await connector.push(inbound("let me in", sender="666"))
        refusals = panel.gateway.store.pairing.refusals
        await eventually(lambda: refusals("telegram"), lambda r: r.get("telegram", {}).get("cooldown"))
        assert await panel.gateway.pairing.pending() == [] and len(connector.texts("666")) == 1
        async with post("/ui/access/approve", channel="telegram", code=mallory) as answer:
            assert "has expired" in await answer.text()
        assert not await panel.gateway.store.pairing.is_allowed("telegram", "666")

        async with post("/ui/access/revoke", channel="telegram", sender_id="42") as answer:
            assert "Revoked telegram sender 42" in await answer.text()
        assert not await panel.gateway.store.pairing.is_allowed("telegram", "42")
        async with post("/ui/access/approve", channel="nochannel", code="X") as answer:
            assert "unknown channel &#39;nochannel&#39;" in await answer.text()


async def test_groups_are_opened_and_closed_from_the_access_page(fake_aimlapi: Any, home: Path) -> None:
    connector = FakeConnector()
    async with running_panel(fake_aimlapi, home, connector) as panel, browser_session() as http:
        csrf = await logged_in(panel, http)
        await connector.push(
            inbound("@bot hi", sender="7", direct=False, chat="-100555", mentioned=True, group_name="Team")
        )
        await wait_until(lambda: connector.texts("-100555"))
        async with http.get(panel.base + "/ui/access", headers=HTML) as answer:
            assert "-100555" in await answer.text()
        form = {"csrf_token": csrf, "channel": "telegram"}
        async with http.post(
            panel.base + "/ui/access/open-group", data={**form, "code_or_id": "-100555"}, headers=HTML
        ) as a:
            assert "telegram group -100555 is now open to everyone in it" in await a.text()
        assert await panel.gateway.store.groups.any_allowed("telegram", ["-100555"])
        async with http.post(
            panel.base + "/ui/access/close-group", data={**form, "group_id": "-100555"}, headers=HTML
        ) as a:
            assert "Closed telegram group -100555" in await a.text()
        assert not await panel.gateway.store.groups.any_allowed("telegram", ["-100555"])


async def test_chat_streams_the_answer_as_events_and_keeps_the_turn(fake_aimlapi: Any, home: Path) -> None:
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("current_time", {})]),
        Reply(text="It is **late**. <script>alert(1)</script> " + " ".join(f"w{i}" for i in range(30))),
    )
    gate = StreamGate(fake_aimlapi, request=2, after_chunks=3)  # the answer's stream, after its first words
    streamed_early = False
    async with running_panel(fake_aimlapi, home) as panel, browser_session() as http:
        csrf = await logged_in(panel, http)
        async with http.post(panel.base + "/ui/chat/new", data={"csrf_token": csrf, "agent": "main"}) as answer:
            chat_id = str(answer.url).rsplit("/", 1)[1]
        photo = png_bytes(64, 48)
        form = aiohttp.FormData()
        form.add_field("text", "what time is it, and what is in this picture?")
        form.add_field("image", photo, filename="photo.png", content_type="image/png")
        url = f"{panel.base}/ui/chat/{chat_id}/send"
        async with http.post(url, data=form, headers={"X-CSRF-Token": csrf}) as answer:
            assert answer.content_type == "text/event-stream"
            lines = []
            async for line in answer.content:
                if line.startswith(b"event: delta") and not gate.is_set():
                    streamed_early = not gate.rest_sent  # the fake holds the rest of the answer until now
                    gate.set()
                lines.append(line.decode())
            events = sse_events("".join(lines))
        assert streamed_early, "no part of the answer reached the browser before the model finished it"
        names = [name for name, _ in events]
        assert names.count("delta") > 5 and names[-1] == "done"  # streamed in pieces, then finished
        streamed = "".join(json.loads(data)["text"] for name, data in events if name == "delta")
        done = json.loads(events[-1][1])
        assert streamed.startswith("It is **late**.")
        assert "<strong>late</strong>" in done["html"] and "<script>" not in done["html"]
        assert "&lt;script&gt;" in done["html"]
        assert "used current_time" in done["tools"] and "<details" in done["tools"]
        sent = fake_aimlapi.chat_requests()[0]["messages"][-1]["content"]
        assert any(part.get("type") == "image_url" for part in sent)
        async with http.get(f"{panel.base}/ui/chat/{chat_id}", headers=HTML) as answer:
            page = await answer.text()
        assert "what time is it" in page and "<strong>late</strong>" in page and "used current_time" in page
        assert "/ui/media/sha/" in page  # the photo sent, from the media table
        [sent_photo] = re.findall(r'src="(/ui/media/sha/[0-9a-f]{64})"', page)
        async with http.get(panel.base + sent_photo) as answer:
            assert answer.content_type == "image/png" and await answer.read() == photo  # the very bytes sent
        session = await panel.gateway.store.sessions.get(f"web:{chat_id}")
        assert session is not None and session.channel == "web" and session.turns == 1


async def test_chat_refuses_bad_input_with_a_clear_reason(fake_aimlapi: Any, home: Path) -> None:
    async with running_panel(fake_aimlapi, home, config="[vision]\nmax_image_bytes = 2048\n") as panel:
        async with browser_session() as http:
            csrf = await logged_in(panel, http)
            async with http.post(panel.base + "/ui/chat/new", data={"csrf_token": csrf}) as answer:
                url = str(answer.url) + "/send"
            for field, data, why in [
                ("image", b"%PDF-1.7 not an image", "not a supported image"),
                ("image", png_bytes(200, 200) + b"\0" * 4096, "larger than the limit"),
                ("text", b"   ", "the message is empty"),
            ]:
                form = aiohttp.FormData()
                form.add_field(field, data, filename="x.png" if field == "image" else None)
                async with http.post(url, data=form, headers={"X-CSRF-Token": csrf}) as answer:
                    assert answer.status == 400 and why in (await answer.json())["error"]
            async with http.post(
                panel.base + "/ui/chat/nosuchchat/send", json={"text": "hi"}, headers={"X-CSRF-Token": csrf}
            ) as a:
                assert a.status == 404
        assert fake_aimlapi.chat_requests() == []


async def _session_row(panel: Any, key: str) -> str:
    """A pattern for the Sessions list's row of `key`: session, channel, chat, agent, last activity,
    turns, tokens in / out, cost, from what the store holds."""
    info = await panel.gateway.store.sessions.get(key)
    assert info is not None and info.input_tokens > 0 and info.output_tokens > 0
    head = (
        f'<td><a href="/ui/sessions/{quote(key, safe="")}">{key}</a></td><td>{info.channel}</td>'
        f"<td><code>{info.chat_id}</code></td><td>{info.agent}</td> "
        f'<td title="{utc_time(info.updated_at)}">'
    )
    tail = (
        f'</td><td class="num">{info.turns}</td> '
        f'<td class="num">{tokens(info.input_tokens)} / {tokens(info.output_tokens)}</td>'
        f'<td class="num">{money(info.usd)}</td>'
    )
    return re.escape(head) + r"(just now|\d+ (min|h|d) ago)" + re.escape(tail)


async def test_transcript_search_and_reset(fake_aimlapi: Any, home: Path) -> None:
    connector = FakeConnector()
    config = "[channels.telegram]\ndm_policy = 'open'\n"
    async with running_panel(fake_aimlapi, home, connector, config=config) as panel, browser_session() as http:
        csrf = await logged_in(panel, http)
        for sender, text in [("42", "my cat is called 50%_off"), ("43", "my dog is called Rex")]:
            await connector.push(inbound(text, sender=sender))
            await wait_until(lambda text=text: f"echo: {text}" in connector.texts())
        async with http.get(panel.base + "/ui/sessions", headers=HTML) as answer:
            listed = " ".join((await answer.text()).split())
        rows = [await _session_row(panel, key) for key in ("telegram:dm:43", "telegram:dm:42")]
        at = [found.start() for row in rows if (found := re.search(row, listed))]
        assert len(at) == 2 and at[0] < at[1], rows  # each row's cells, newest first
        hits = await search_transcripts(panel.gateway.store, "50%_off")
        assert [h.session_key for h in hits] == ["telegram:dm:42"]
        assert await search_transcripts(panel.gateway.store, "c%t_is") == []  # LIKE wildcards are literal
        async with http.get(panel.base + "/ui/sessions", params={"q": "called"}, headers=HTML) as answer:
            page = await answer.text()
        assert "2 matches" in page and "telegram:dm:42" in page and "telegram:dm:43" in page
        async with http.get(panel.base + "/ui/sessions/telegram:dm:42", headers=HTML) as answer:
            page = await answer.text()
        assert "my cat is called 50%_off" in page and "Rex" not in page
        async with http.post(
            panel.base + "/ui/sessions/reset", data={"csrf_token": csrf, "key": "telegram:dm:42"}, headers=HTML
        ) as a:
            assert "starts afresh" in await a.text()
        info = await panel.gateway.store.sessions.get("telegram:dm:42")
        assert info is not None and info.epoch == 1
        async with http.get(panel.base + "/ui/sessions/telegram:dm:404", headers=HTML) as answer:
            assert answer.status == 404


async def test_usage_by_day_separates_models_and_senders(store: Any) -> None:
    from agentbox.store import TurnRecord

    day = utc_day_start(time.time())
    for key, sender, model, usd in [
        ("telegram:dm:1", "1", "gpt-4o", 1.0),
        ("telegram:dm:1", "1", "claude", 0.5),
        ("slack:dm:2", "2", "gpt-4o", 0.25),
    ]:
        channel = key.split(":")[0]
        await store.sessions.ensure(key, channel=channel, chat_id=sender)
        await store.sessions.add_turn(
            TurnRecord(
                key, model, "ok", sender_id=sender, usd=usd, input_tokens=10, output_tokens=5, started_at=day + 60
            )
        )
    by_model = {(r.key, r.usd) for r in await usage_by_day(store.conn, "model", since=day)}
    assert by_model == {("gpt-4o", 1.25), ("claude", 0.5)}
    by_sender = {(r.key, r.usd, r.turns) for r in await usage_by_day(store.conn, "sender", since=day)}
    assert by_sender == {("telegram:1", 1.5, 2), ("slack:2", 0.25, 1)}


async def test_usage_page_shows_totals_and_caps(fake_aimlapi: Any, home: Path) -> None:
    from agentbox.store import TurnRecord

    config = "[limits]\nusd_per_day = 2.0\n"
    async with running_panel(fake_aimlapi, home, config=config) as panel, aiohttp.ClientSession() as http:
        store = panel.gateway.store
        await store.sessions.ensure("telegram:dm:1", channel="telegram", chat_id="1")
        now = time.time()
        for ago_days, usd, tokens_in, tokens_out in [(0, 1.5, 1000, 200), (2, 0.25, 300, 50), (40, 9.0, 9, 9)]:
            started = utc_day_start(now) - ago_days * 86400 + 10  # the last is outside the 30 days
            await store.sessions.add_turn(
                TurnRecord(
                    "telegram:dm:1",
                    "gpt-4o",
                    "ok",
                    sender_id="1",
                    usd=usd,
                    input_tokens=tokens_in,
                    output_tokens=tokens_out,
                    started_at=started,
                )
            )
        async with http.get(panel.base + "/ui/usage", headers=panel.bearer) as answer:
            page = await answer.text()
        assert '<p class="big" id="total-usd">$1.75</p>' in page
        assert "75.0% of the daily cap" in page
        # Two days in each chart: spend by model, by sender; tokens in and out (two layers), by model, by sender.
        assert page.count('<rect class="bar"') == 2 * 6
        assert "gpt-4o: $1.50</title>" in page and "telegram:1: $0.25</title>" in page
        for chart in ("Tokens per day by model", "Tokens per day by sender"):
            assert f'aria-label="{chart}"' in page
        today, two_days_ago = last_days(now)[-1], last_days(now)[-3]
        assert f"{today} · gpt-4o: 1.2k</title>" in page and f"{two_days_ago} · gpt-4o: 350</title>" in page
        assert f"{today} · telegram:1: 1.2k</title>" in page and f"{two_days_ago} · telegram:1: 350</title>" in page
        totals = '<td class="num">2</td><td class="num">1.3k / 250</td><td class="num">$1.75</td></tr>'
        assert f"<tr><td>gpt-4o</td>{totals}" in page and f"<tr><td>telegram:1</td>{totals}" in page
        by_day = page[page.index('id="by-day"') :]
        rows = re.findall(r"<tr><td>(\d{4}-\d\d-\d\d)</td>((?:<td class=\"num\">[^<]*</td>)*)</tr>", by_day)
        assert [day for day, _ in rows] == list(reversed(last_days(now)))  # 30 days, newest first
        cells = {day: re.findall(r">([^<]*)</td>", row) for day, row in rows}
        assert cells[today] == ["1", "1,000", "200", "$1.50"] and cells[two_days_ago] == ["1", "300", "50", "$0.25"]
        assert cells[last_days(now)[-2]] == ["0", "0", "0", "$0.00"]  # a day without turns
        async with http.get(panel.base + "/", headers=panel.bearer) as answer:
            home_page = await answer.text()
        assert '<span class="state ready">ready</span> <b>telegram</b>' in home_page  # the connectors
        assert '<p class="big">$1.50 <span class="muted">of $2.00</span></p>' in home_page  # today's spend, the cap
        assert '<rect class="fill" width="150.0"' in home_page  # the meter: 75% of the track


async def test_media_routes_serve_only_media(fake_aimlapi: Any, home: Path) -> None:
    async with running_panel(fake_aimlapi, home) as panel, aiohttp.ClientSession() as http:
        media = home / "media"
        media.mkdir(exist_ok=True)
        (media / "0123456789abcdef.png").write_bytes(png_bytes(3, 3))
        (media / "page.html").write_text("<script>alert(1)</script>")
        (media / "escape.png").symlink_to(home / "gateway.token")
        async with http.get(panel.base + "/ui/media/0123456789abcdef.png", headers=panel.bearer) as answer:
            assert answer.status == 200 and answer.content_type == "image/png"
            assert await answer.read() == png_bytes(3, 3)
            assert "sandbox" in answer.headers["Content-Security-Policy"]
        async with http.get(panel.base + "/ui/media/page.html", headers=panel.bearer) as answer:
            assert answer.content_type == "application/octet-stream"
            assert answer.headers["Content-Disposition"].startswith("attachment")
        for bad in ["escape.png", "..%2Fgateway.token", "%2e%2e/gateway.token", "sha/" + "0" * 64, "sha/../x"]:
            async with http.get(panel.base + "/ui/media/" + bad, headers=panel.bearer) as answer:
                assert answer.status in (401, 404), bad
                assert panel.token not in await answer.text()


async def test_the_log_streams_new_lines_masked_and_stops_with_the_gateway(fake_aimlapi: Any, home: Path) -> None:
    from agentbox.logs import log_file
    from agentbox.redaction import register_secrets

    log_file().parent.mkdir(parents=True, exist_ok=True)
    log_file().write_text("2026-01-01 INFO an old line\n")
    async with running_panel(fake_aimlapi, home) as panel, aiohttp.ClientSession() as http:
        async with http.get(panel.base + "/ui/ops", headers=panel.bearer) as answer:
            assert "an old line" in await answer.text()
        async with http.get(panel.base + "/ui/ops/log", headers=panel.bearer) as stream:
            assert (await stream.content.readline()).startswith(b": following")
            register_secrets("sk-live-secret-123456")
            with log_file().open("a") as handle:
                handle.write("2026-01-01 INFO a new line with sk-live-secret-123456\n")
            while not (line := await stream.content.readline()).startswith(b"data: "):
                pass
            assert json.loads(line[6:]) == "2026-01-01 INFO a new line with ***"
            panel.gateway.stop_event.set()
            # An open stream must not hold the gateway up (aiohttp would wait 60 s for the handler).
            await asyncio.wait_for(panel.gateway.task, 30)


async def test_search_finds_words_by_meaning_first_and_text_as_typed_otherwise(fake_aimlapi: Any, home: Path) -> None:
    """The panel's search is the memory issue's full-text search (stems, best first); a fragment of a
    word still finds what contains it."""
    connector = FakeConnector()
    config = "[channels.telegram]\ndm_policy = 'open'\n"
    async with running_panel(fake_aimlapi, home, connector, config=config) as panel:
        for sender, text in [("42", "the gardens need watering"), ("43", "my invoice INV-20931 is late")]:
            await connector.push(inbound(text, sender=sender))
            await wait_until(lambda text=text: f"echo: {text}" in connector.texts())
        store = panel.gateway.store
        [garden] = await search_transcripts(store, "garden")  # a stem: "gardens" in the message
        assert garden.session_key == "telegram:dm:42" and "«gardens»" in garden.snippet
        [invoice] = await search_transcripts(store, "0931")  # part of a word: only the substring scan finds it
        assert invoice.session_key == "telegram:dm:43"


async def test_operations_lists_the_schedules(fake_aimlapi: Any, home: Path) -> None:
    from agentbox.store.schedules import NewSchedule

    async with running_panel(fake_aimlapi, home) as panel, browser_session() as http:
        await logged_in(panel, http)
        due = time.time() + 3600
        await panel.gateway.store.schedules.add(
            NewSchedule("reminder", "Call the bank", "at", "", due, "UTC", due, "telegram", "42", "telegram:dm:42")
        )
        async with http.get(panel.base + "/ui/ops", headers=HTML) as answer:
            page = await answer.text()
        assert "Call the bank" in page and "telegram:42" in page and "next 20" in page
        assert "not part of this gateway" not in page


async def test_operations_lists_jobs_and_unavailable_skills(
    fake_aimlapi: Any, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIDE_TABLES_API_KEY", raising=False)
    async with running_panel(fake_aimlapi, home) as panel, browser_session() as http:
        await logged_in(panel, http)
        write_skill(panel.gateway.config.workspace / "skills", "tides", metadata=requires(env=["TIDE_TABLES_API_KEY"]))
        jobs = panel.gateway.store.jobs
        failed = await jobs.create("video", session_key="web:abc", address=None, request={"prompt": "a cat"})
        await jobs.update(failed.id, status="error", error="the provider refused the prompt")
        done = await jobs.create("video", session_key="web:abc", address=None, request={"prompt": "a dog"})
        await jobs.update(done.id, status="delivered")
        async with http.get(panel.base + "/ui/ops", headers=HTML) as answer:
            page = " ".join((await answer.text()).split())
        assert f'<code>{failed.id}</code></td><td>video</td><td><span class="state failed">error</span>' in page
        assert "<td>the provider refused the prompt</td>" in page
        assert f'<code>{done.id}</code></td><td>video</td><td><span class="state ready">delivered</span>' in page
        assert '<a href="/ui/sessions/web%3Aabc">web:abc</a>' in page
        tides = page[page.index("<b>tides</b>") :]
        assert tides.index('<span class="state degraded">unavailable</span>') < tides.index("</tr>")
        assert tides.index("needs env TIDE_TABLES_API_KEY<br>") < tides.index("</tr>")
        assert "add TIDE_TABLES_API_KEY=&lt;value&gt; to" in tides[: tides.index("</tr>")]  # the fix, escaped


async def test_a_video_made_in_the_web_chat_shows_in_its_transcript_and_operations(
    fake_aimlapi: Any, home: Path
) -> None:
    """No connector serves the "web" channel: the finished video is kept under AGENTBOX_HOME/media (never
    queued in the outbox to expire), noted in the chat's transcript and linked from Operations, both
    through the panel's media route."""
    from agentbox.gateway.jobs import gateway_service as jobs_service
    from agentbox.web.panel import gateway_service as panel_service
    from tests.fakes.aimlapi import TINY_MP4
    from tests.gatewaykit import running_gateway
    from tests.webkit import Panel

    fake_aimlapi.video_states = ["queued", "completed"]
    fake_aimlapi.script(
        Reply(tool_calls=[ToolCall("generate_video", {"prompt": "a foggy forest"})]), Reply(text="Started!")
    )
    config = "[skills]\nvideo_poll_interval = 0.05\n"
    async with (
        running_gateway(fake_aimlapi, home, config=config, services=[panel_service, jobs_service]) as gateway,
        browser_session() as http,
    ):
        panel = Panel(gateway, f"http://127.0.0.1:{gateway.control.port}", (home / "gateway.token").read_text().strip())
        csrf = await logged_in(panel, http)
        async with http.post(panel.base + "/ui/chat/new", data={"csrf_token": csrf, "agent": "main"}) as answer:
            chat_id = str(answer.url).rsplit("/", 1)[1]
        url = f"{panel.base}/ui/chat/{chat_id}/send"
        async with http.post(url, json={"text": "make a video"}, headers={"X-CSRF-Token": csrf}) as answer:
            assert sse_events(await answer.text())[-1][0] == "done"
        [job] = await eventually(gateway.store.jobs.list, lambda jobs: jobs and not jobs[0].active)
        assert job.status == "delivered" and await gateway.store.outbox.waiting() == []
        path = Path(job.result["path"])
        assert path.parent == home / "media" and await asyncio.to_thread(path.read_bytes) == TINY_MP4
        link = f'href="/ui/media/{path.name}"'
        async with http.get(f"{panel.base}/ui/chat/{chat_id}", headers=HTML) as answer:
            transcript = await answer.text()
        assert "Your video is ready: a foggy forest" in transcript and link in transcript
        assert transcript.count('class="msg user"') == 1  # the note answers no question of its own
        async with http.get(panel.base + "/ui/ops", headers=HTML) as answer:
            assert link in await answer.text()
        async with http.get(f"{panel.base}/ui/media/{path.name}") as answer:
            assert answer.content_type == "video/mp4" and await answer.read() == TINY_MP4
