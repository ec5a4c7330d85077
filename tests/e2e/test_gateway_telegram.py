"""End to end: a real `agentbox gateway run` process, the real python-telegram-bot against the fake
Telegram Bot API, the real turn pipeline against the fake AI/ML API. Nothing is mocked in-process."""

from __future__ import annotations

import base64
import re
import signal
from pathlib import Path
from typing import Any

from tests.e2e.gatewayproc import GatewayProcess, start_gateway, wait_for
from tests.e2e.platforms import user_text
from tests.fakes.aimlapi import Hang, Reply
from tests.helpers import png_bytes, run_cli

ALICE = 835750362
OPEN = "dm_policy = 'open'"


def launch(
    processes: list[GatewayProcess], home: Path, fake_aimlapi: Any, fake_telegram: Any, extra: str = ""
) -> GatewayProcess:
    process = start_gateway(home, fake_aimlapi, fake_telegram, extra)
    processes.append(process)
    return process.wait_ready()


def texts_containing(fake_telegram: Any, needle: str, chat: int = ALICE) -> list[str]:
    return [t for t in fake_telegram.sent_messages(chat) if needle in t]


def test_pairing_then_approve_then_answer(processes, home: Path, fake_aimlapi, fake_telegram) -> None:
    gateway = launch(processes, home, fake_aimlapi, fake_telegram)
    fake_telegram.push_text(ALICE, "hello bot")
    [reply] = wait_for(lambda: texts_containing(fake_telegram, "pairing code"), what="the pairing reply")
    code = next(word.rstrip(".") for word in reply.split() if len(word.rstrip(".")) == 8 and word.isupper())
    assert f"agentbox pairing approve telegram {code}" in reply
    fake_telegram.push_text(ALICE, "hello again")  # a pending sender is not spammed with codes
    status = wait_for(lambda: gateway.status()[1]["pairing"]["pending"] == 1 and gateway.status()[1], what="status")
    assert status["connectors"]["telegram"]["state"] == "ready"

    approved = run_cli("pairing", "approve", "telegram", code.lower(), env=gateway.env)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == f"Approved telegram sender {ALICE}.\nThey were told they can talk now.\n"
    assert texts_containing(fake_telegram, "You're approved")  # sent before the command returned

    fake_telegram.push_text(ALICE, "what is 2+2?")
    wait_for(lambda: texts_containing(fake_telegram, "echo: what is 2+2?"), what="the model's answer")
    assert [user_text(b) for b in fake_aimlapi.chat_requests()] == ["what is 2+2?"]  # none before approval
    assert len(texts_containing(fake_telegram, "pairing code")) == 1
    assert len(texts_containing(fake_telegram, "You're approved")) == 1
    assert gateway.terminate() == 0


def test_group_needs_mention_and_photo_reaches_model(processes, home: Path, fake_aimlapi, fake_telegram) -> None:
    launch(processes, home, fake_aimlapi, fake_telegram, OPEN)
    group = -100123
    fake_telegram.push_text(group, "just chatting", chat_type="supergroup")
    fake_telegram.push_text(group, f"@{fake_telegram.bot_username} are you there?", chat_type="supergroup")
    wait_for(lambda: texts_containing(fake_telegram, "are you there?", chat=group), what="the group answer")
    assert [user_text(b) for b in fake_aimlapi.chat_requests()] == ["are you there?"]  # mention stripped

    photo = png_bytes(3, 3)
    fake_telegram.push_photo(ALICE, photo, caption="what is in this picture?")
    wait_for(lambda: len(fake_aimlapi.chat_requests()) == 2, what="the photo turn")
    parts = fake_aimlapi.chat_requests()[-1]["messages"][-1]["content"]
    images = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
    assert len(images) == 1 and images[0].startswith("data:image/png;base64,")
    assert base64.b64decode(images[0].split(",", 1)[1]) == photo  # the largest size, as bytes
    assert fake_telegram.token not in str(fake_aimlapi.chat_requests())
    wait_for(lambda: texts_containing(fake_telegram, "echo: what is in this picture?"), what="the photo answer")


def test_long_answer_arrives_in_order_in_several_messages(processes, home: Path, fake_aimlapi, fake_telegram) -> None:
    paragraphs = [f"Paragraph {i}: " + ("lorem ipsum dolor sit amet " * 18).strip() + "." for i in range(20)]
    answer = "\n\n".join(paragraphs)
    assert len(answer) > 10_000
    fake_aimlapi.script(Reply(text=answer))
    launch(processes, home, fake_aimlapi, fake_telegram, OPEN)
    fake_telegram.push_text(ALICE, "tell me a lot")

    def complete() -> list[str]:
        sent = fake_telegram.sent_messages(ALICE)
        return sent if sent and "Paragraph 19" in sent[-1] and sent[-1].rstrip().endswith(".") else []

    sent = wait_for(complete, timeout=20, what="the whole long answer")
    wait_for(lambda: fake_telegram.sent_messages(ALICE) == sent and len(sent) >= 3, what="settled messages")
    assert all(len(text) <= 4096 for text in sent)
    assert " ".join(" ".join(sent).split()) == " ".join(answer.split())  # every word, in order


def test_kill_9_mid_turn_then_restart_answers_once(processes, home: Path, fake_aimlapi, fake_telegram) -> None:
    fake_aimlapi.script(Hang(30))
    gateway = launch(processes, home, fake_aimlapi, fake_telegram, OPEN)
    fake_telegram.push_text(ALICE, "first question")
    wait_for(lambda: fake_aimlapi.chat_requests(), what="the turn to start")
    gateway.kill()
    fake_telegram.push_text(ALICE, "second question")  # arrives while no gateway runs

    restarted = launch(processes, home, fake_aimlapi, fake_telegram, OPEN)
    wait_for(lambda: texts_containing(fake_telegram, "echo: first question"), what="the resumed answer")
    wait_for(lambda: texts_containing(fake_telegram, "second question"), what="the later message's answer")
    assert restarted.terminate() == 0
    assert len(texts_containing(fake_telegram, "first question")) == 1
    assert len(texts_containing(fake_telegram, "second question")) == 1
    asked = [user_text(b) for b in fake_aimlapi.chat_requests()]
    # the interrupted request, then exactly one more; the replay may batch both pending messages into it
    assert sum("first question" in text for text in asked) == 2
    assert sum("second question" in text for text in asked) == 1


def test_telegram_5xx_for_a_while_does_not_stop_the_gateway(processes, home: Path, fake_aimlapi, fake_telegram) -> None:
    fake_telegram.fail_next("getMe", 502, times=2)  # down at startup: retried with backoff
    gateway = start_gateway(home, fake_aimlapi, fake_telegram, OPEN)
    processes.append(gateway)
    gateway.wait_ready(timeout=30)
    fake_telegram.fail_next("getUpdates", 502, times=4)
    fake_telegram.fail_next("sendMessage", 500, times=1)
    fake_telegram.push_text(ALICE, "still there?")
    wait_for(lambda: texts_containing(fake_telegram, "echo: still there?"), timeout=30, what="the answer after 5xx")
    assert gateway.proc.poll() is None
    assert len(texts_containing(fake_telegram, "echo: still there?")) == 1


def test_single_gateway_per_home_and_status_needs_token(processes, home: Path, fake_aimlapi, fake_telegram) -> None:
    gateway = launch(processes, home, fake_aimlapi, fake_telegram)
    second = GatewayProcess(home, gateway.env)
    processes.append(second)
    assert second.proc.wait(30) == 1
    assert "already running" in second.log

    code, body = gateway.status(token=None)
    assert code == 401 and "unauthorized" in body["error"]
    assert gateway.status(token="wrong")[0] == 401
    code, body = gateway.status()
    assert code == 200 and body["connectors"]["telegram"]["state"] == "ready"
    assert {"busy", "sessions_active", "queued"} <= set(body["lanes"]) and "uptime_s" in body
    token_file = home / "gateway.token"
    assert token_file.stat().st_mode & 0o777 == 0o600

    shown = run_cli("status", env=gateway.env)
    assert shown.returncode == 0 and "telegram: ready" in shown.stdout, shown.stdout + shown.stderr
    assert gateway.terminate(signal.SIGINT) == 0
    stopped = run_cli("status", env=gateway.env)
    assert stopped.returncode == 1 and "no gateway running" in stopped.stderr


def test_sigterm_lets_the_running_turn_finish(processes, home: Path, fake_aimlapi, fake_telegram) -> None:
    fake_aimlapi.script(Hang(1.0))
    gateway = launch(processes, home, fake_aimlapi, fake_telegram, OPEN)
    fake_telegram.push_text(ALICE, "answer before you go")
    wait_for(lambda: fake_aimlapi.chat_requests(), what="the turn to start")
    assert gateway.terminate() == 0
    assert texts_containing(fake_telegram, "echo: answer before you go")
    assert "gateway stopped" in gateway.log


def test_a_stranger_in_an_unknown_group_gets_one_hint_until_the_owner_opens_it(
    processes, home: Path, fake_aimlapi, fake_telegram
) -> None:
    """Someone adds the bot to their own group: no model call, one hint, and the owner decides."""
    gateway = launch(processes, home, fake_aimlapi, fake_telegram)
    group, bot = -100777, fake_telegram.bot_username
    for text in ("do my homework", "/model o1-pro", "hello??"):
        fake_telegram.push_text(group, f"@{bot} {text}", chat_type="supergroup", from_id=666, username="mallory")
    [hint] = wait_for(lambda: texts_containing(fake_telegram, "approve-group", chat=group), what="the group hint")
    wait_for(lambda: gateway.status()[1]["inbox"].get("ignored") == 3, what="all three handled")
    assert fake_telegram.sent_messages(group) == [hint] and fake_aimlapi.chat_requests() == []
    code = re.search(r"approve-group telegram ([A-Z2-9]{8})", hint)
    assert code is not None, hint

    listed = run_cli("pairing", "list", env=gateway.env)
    assert "-100777" in listed.stdout and "Test group" in listed.stdout and code.group(1) in listed.stdout
    opened = run_cli("pairing", "approve-group", "telegram", code.group(1), env=gateway.env)
    assert opened.returncode == 0 and "is now open to everyone in it" in opened.stdout, opened.stderr
    fake_telegram.push_text(group, f"@{bot} now?", chat_type="supergroup", from_id=666, username="mallory")
    wait_for(lambda: texts_containing(fake_telegram, "echo: now?", chat=group), what="the answer once opened")
    assert [user_text(b) for b in fake_aimlapi.chat_requests()] == ["now?"]
    closed = run_cli("pairing", "revoke-group", "telegram", "-100777", env=gateway.env)  # a negative id
    assert closed.returncode == 0, closed.stderr


def test_own_and_other_bots_messages_are_ignored(processes, home: Path, fake_aimlapi, fake_telegram) -> None:
    """Even where every message is answered (an open group, no mention needed), bots start nothing."""
    group, bot = -100777, fake_telegram.bot_username
    gateway = launch(processes, home, fake_aimlapi, fake_telegram, f'group_policy = "open"\ngroups = ["{group}"]')
    own = {"from_id": fake_telegram.bot_id, "is_bot": True, "username": bot, "chat_type": "supergroup"}
    fake_telegram.push_text(group, f"@{bot} echo: an earlier answer", reply_to_bot=True, **own)
    fake_telegram.push_text(group, "beep boop", chat_type="supergroup", from_id=7000002, is_bot=True, username="b2")
    fake_telegram.push_text(group, "are you there?", chat_type="supergroup")  # handled after the two above
    wait_for(lambda: texts_containing(fake_telegram, "echo: are you there?", chat=group), what="the person's answer")
    assert [user_text(b) for b in fake_aimlapi.chat_requests()] == ["are you there?"]
    assert fake_telegram.sent_messages(group) == ["echo: are you there?"]
    inbox = wait_for(lambda: (c := gateway.status()[1]["inbox"]).get("done") == 1 and c, what="the inbox")
    assert inbox == {"done": 1, "ignored": 2}  # stored, then ignored as bot authored


STARTUP = (" control endpoint on ", " gateway running (pid ", " telegram: ready as @", " connector telegram ready")


def startup_lines(log: str) -> list[str]:
    """The startup lines of a log (or of the docs' example), without the time."""
    return [line[24:] for line in log.splitlines() if line[:4].isdigit() and any(part in line for part in STARTUP)]


def test_the_log_says_gateway_running_before_the_connector_is_ready(
    processes, home: Path, fake_aimlapi, fake_telegram
) -> None:
    gateway = launch(processes, home, fake_aimlapi, fake_telegram)
    wait_for(lambda: " connector telegram ready" in gateway.log, what="the connector's ready line")
    assert gateway.terminate() == 0
    printed = startup_lines(gateway.log)
    assert printed[1:] == [
        f"INFO agentbox.gateway.lifecycle gateway running (pid {gateway.proc.pid})",
        f"INFO agentbox.connectors.telegram.connector telegram: ready as @{fake_telegram.bot_username}",
        "INFO agentbox.gateway.supervisor connector telegram ready",
    ], gateway.log
    assert printed[0].startswith("INFO agentbox.gateway.control control endpoint on http://127.0.0.1:")
    # docs/gateway.md "What the log shows" quotes the same lines (logger and words), in this order
    documented = startup_lines((Path(__file__).resolve().parents[2] / "docs" / "gateway.md").read_text("utf-8"))
    assert [line.split()[:4] for line in documented] == [line.split()[:4] for line in printed]
