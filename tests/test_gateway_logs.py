"""What the gateway's terminal says while it works: one line per answer, the pairing command, no empty fields.

Records are rendered with the gateway's own formatter, so the asserted lines are what an owner
reads in `agentbox logs` and the service journal (docs/operations.md and docs/gateway.md quote them).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from agentbox.logs import FORMAT, OneLineFormatter
from tests.fakes.aimlapi import Hang, Reply
from tests.gatewaykit import FakeConnector, inbound, running_gateway, wait_until

OPEN = "[channels.telegram]\ndm_policy = 'open'\n"
PREFIX = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "


def lines(caplog: pytest.LogCaptureFixture, start: str) -> list[str]:
    formatter = OneLineFormatter(FORMAT)
    return [formatter.format(r) for r in caplog.records if r.getMessage().startswith(start)]


async def test_one_info_line_per_answered_message(fake_aimlapi, home: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    fake_aimlapi.script(Reply(text="four", usage=(812, 64)), Hang(0.5), Reply(text="both", usage=(1030, 9)))
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg, config=OPEN) as gw:
        await tg.push(inbound("2+2?", message_id="103"))
        await wait_until(lambda: tg.sent)
        await tg.push(inbound("slow one", message_id="104"))
        await wait_until(lambda: gw.runner.lanes.busy_count == 1)
        await tg.push(inbound("and", message_id="105"))
        await tg.push(inbound("this", message_id="106"))
        await wait_until(lambda: len(tg.sent) == 3)
        tg.down = True
        await tg.push(inbound("while down", message_id="107"))
        await wait_until(lambda: len(lines(caplog, "answered")) == 4)
    one, slow, batch, queued = lines(caplog, "answered")
    model = r"gpt-4o-mini"
    assert re.fullmatch(
        PREFIX
        + rf"INFO agentbox\.gateway\.dispatch session=telegram:dm:42 msg=103 answered with {model}: 812 in / 64 out "
        r"tokens in \d+\.\d s",
        one,
    ), one
    assert " msg=104 answered with " in slow
    assert re.search(r" msg=106 answered with .*: 1,030 in / 9 out tokens in \d+\.\d s \(2 messages together\)$", batch)
    assert queued.endswith("; the reply waits in the outbox") and " msg=107 " in queued


async def test_a_pairing_request_logs_name_code_and_the_command(
    fake_aimlapi, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    tg = FakeConnector()
    async with running_gateway(fake_aimlapi, home, tg) as gw:
        await tg.push(inbound("hi", sender="835750362", sender_name="Eve\x1b]52;c;cm0gLXJmIH4=\x07\u202e"))
        await wait_until(lambda: tg.sent)
        [request] = await gw.pairing.pending("telegram")
    [line] = lines(caplog, "pairing request")
    code = request.code
    assert line.endswith(
        f"INFO agentbox.gateway.dispatch pairing request from telegram sender 835750362 "
        f"('Eve\\x1b]52;c;cm0gLXJmIH4=\\x07\\u202e'), code {code}; "
        f"to let them in run: agentbox pairing approve telegram {code}"
    ), line
    assert "\x1b" not in line and "\u202e" not in line  # the name cannot drive the owner's terminal
    assert "session=" not in line  # no empty context fields


ANSWERED = re.compile(
    PREFIX
    + r"INFO agentbox\.gateway\.dispatch session=\S+ msg=\S+ answered with \S+: [\d,]+ in / [\d,]+ out tokens in \d+\.\d s"
    r"( \(\d+ messages together\))?(; the reply waits in the outbox)?"
)
PAIRING = re.compile(
    PREFIX + r"INFO agentbox\.gateway\.dispatch pairing request from (\w+) sender \S+ \('[^']*'\), code ([A-Z2-9]{8}); "
    r"to let them in run: agentbox pairing approve \1 \2"
)


@pytest.mark.parametrize("doc", ["docs/gateway.md", "docs/operations.md"])
def test_the_log_lines_the_docs_quote_are_the_ones_printed(doc: str) -> None:
    text = (Path(__file__).resolve().parent.parent / doc).read_text(encoding="utf-8")
    answered = [line for line in text.splitlines() if " answered with " in line and line[:4].isdigit()]
    pairing = [line for line in text.splitlines() if " pairing request from " in line and line[:4].isdigit()]
    assert answered and pairing
    assert all(ANSWERED.fullmatch(line) for line in answered), answered
    assert all(PAIRING.fullmatch(line) for line in pairing), pairing
    assert "session=- " not in text and "msg=- " not in text


class WaitsForTheConnector:
    """A background service whose start takes until the connector is ready (as a slow one might)."""

    name = "slow"

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    async def start(self) -> None:
        await self.gateway.slots["telegram"].ready.wait()

    async def stop(self) -> None:
        return None


async def test_gateway_running_comes_before_any_connector_is_ready(
    fake_aimlapi, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_gateway(fake_aimlapi, home, FakeConnector(), services=[WaitsForTheConnector]):
        await wait_until(lambda: lines(caplog, "service slow started"))
    order = [r.getMessage() for r in caplog.records if r.name.startswith("agentbox.gateway.")]
    running = order.index(next(m for m in order if m.startswith("gateway running (pid ")))
    assert running < order.index("connector telegram ready") < order.index("service slow started"), order
