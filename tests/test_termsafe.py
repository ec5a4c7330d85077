"""Untrusted chat text never reaches the owner's terminal as escape sequences."""

from hypothesis import given
from hypothesis import strategies as st

from agentbox.cli.termsafe import terminal_safe


def test_osc52_clipboard_write_and_csi_are_neutralized() -> None:
    hostile = "Bob\x1b]52;c;ZWNobyBwd25lZA==\x07 \x1b[2J\x9b31m"
    shown = terminal_safe(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert shown.startswith("Bob\ufffd]52;c;")


def test_newlines_kept_unless_single_line() -> None:
    assert terminal_safe("a\nb\tc\r") == "a\nb\tc\ufffd"
    assert terminal_safe("a\nb\r\tc", single_line=True) == "a b  c"


@given(st.text())
def test_no_control_character_survives(text: str) -> None:
    shown = terminal_safe(text, single_line=True)
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in shown)
    assert len(shown) == len(text)
