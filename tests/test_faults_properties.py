"""Property-based tests for outside input to pairing (chunking and Markdown conversion have theirs in
tests/test_textsplit.py and tests/test_telegram_format.py): any text typed as a code, any sender id."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbox.gateway.access import CODE_ALPHABET, CODE_LENGTH, PairingError, PairingService, new_code, normalize_code
from agentbox.store import Store

codes = st.text(alphabet=CODE_ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH)
# What a person might type around a code: case changes, spaces and dashes anywhere.
noise = st.lists(st.sampled_from(["", " ", "-", "  ", "--"]), min_size=CODE_LENGTH + 1, max_size=CODE_LENGTH + 1)
sender_ids = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@given(codes, noise, st.lists(st.booleans(), min_size=CODE_LENGTH, max_size=CODE_LENGTH))
def test_typed_code_normalizes_back(code: str, gaps: list[str], lower: list[bool]) -> None:
    typed = gaps[0] + "".join(
        (ch.lower() if low else ch) + gap for ch, low, gap in zip(code, lower, gaps[1:], strict=True)
    )
    assert normalize_code(typed) == code


@given(st.text(max_size=60))
def test_normalized_input_has_no_separators_or_lowercase(text: str) -> None:
    out = normalize_code(text)
    assert " " not in out and "-" not in out and out == out.upper()


def test_new_codes_are_well_formed() -> None:
    for _ in range(200):
        code = new_code()
        assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)


async def _approve_round(sender: str, attempt: str) -> tuple[str, str | None, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "a.db")
        try:
            service = PairingService(store.pairing, clock=lambda: 1_000_000.0)
            outcome = await service.request("telegram", sender, sender_name="x", chat_id=sender)
            assert outcome.code is not None
            try:
                approved: str | None = (await service.approve("telegram", attempt)).sender_id
            except PairingError:
                approved = None
            allowed = [a.sender_id for a in await service.allowed("telegram")]
            return outcome.code, approved, allowed
        finally:
            await store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender_ids, st.text(max_size=30))
def test_only_the_right_code_approves_and_any_input_is_safe(sender: str, attempt: str) -> None:
    code, approved, allowed = asyncio.run(_approve_round(sender, attempt))
    if normalize_code(attempt) == code:
        assert approved == sender and allowed == [sender]
    else:
        assert approved is None and allowed == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender_ids)
def test_any_sender_id_round_trips_through_pairing(sender: str) -> None:
    # A fresh store per round gets a fresh random code, so approve with the code of the same round:
    code, approved, allowed = asyncio.run(_code_then_approve(sender))
    assert approved == sender and allowed == [sender] and len(code) == CODE_LENGTH


async def _code_then_approve(sender: str) -> tuple[str, str | None, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "a.db")
        try:
            service = PairingService(store.pairing, clock=lambda: 1_000_000.0)
            outcome = await service.request("telegram", sender, chat_id=sender)
            assert outcome.code is not None
            typed = "-".join(outcome.code[i : i + 4] for i in (0, 4)).lower()  # "abcd-efgh", as people type it
            approved = (await service.approve("telegram", typed)).sender_id
            return outcome.code, approved, [a.sender_id for a in await service.allowed("telegram")]
        finally:
            await store.close()
