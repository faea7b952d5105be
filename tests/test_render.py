"""Issue 12 items 7 and 16: untrusted text is shown visibly and clipped; output off a terminal is not wrapped."""

from __future__ import annotations

import io
import json
import sys
import unicodedata

import pytest

from autopilot_cli.cli._render import clip, console, json_errors, more, print_json, safe, safe_line
from autopilot_cli.errors import NotFound

INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def test_every_control_format_and_separator_character_is_shown_as_its_code_point() -> None:
    missed = []
    for cp in range(0x110000):
        ch = chr(cp)
        if unicodedata.category(ch) in INVISIBLE_CATEGORIES and ch not in "\t\n":
            if safe(ch) != f"⟨U+{cp:04X}⟩" or safe_line(ch) != f"⟨U+{cp:04X}⟩":
                missed.append(f"U+{cp:04X}")
    assert missed == []


@pytest.mark.parametrize("ch", ["\u202a", "\u202e", "\u2066", "\u2069", "\u200b", "\u200f", "\u2028", "\u2029",
                                "\ufeff", "\x1b", "\x85", "\u3164", "\U000e0041"])
def test_the_characters_the_issue_names(ch: str) -> None:
    assert ch not in safe(f"a{ch}b") and safe(f"a{ch}b") == f"a⟨U+{ord(ch):04X}⟩b"


def test_ordinary_text_is_left_alone() -> None:
    text = "Grüße, 你好, مرحبا, emoji 👍🏽 and ❤️, tab\there"
    assert safe(text) == text
    assert safe_line("two\nlines\r\nand\ttab") == "two⏎lines⏎and tab"
    assert safe("two\r\nlines") == "two\nlines"  # multi-line places keep lines; a lone CR is shown
    assert safe("a\rb") == "a⟨U+000D⟩b"
    assert safe("[bold]x[/bold]") == "\\[bold]x\\[/bold]"


def test_long_text_shows_its_start_and_how_much_more() -> None:
    text = "x" * 900_000
    assert safe_line(text, 70) == "x" * 70 + " " + more(900_000 - 70)
    assert more(899_930) == "… 899,930 more characters" and more(1) == "… 1 more character"
    lines = "line\n" * 5000
    shown = safe(lines, 2000, 40)
    assert shown.count("\n") == 40 and shown.endswith(f"… {len(lines) - 40 * 5 + 1:,} more characters")
    assert clip("ab\n\n\n", max_lines=1) == ("ab", 0)  # only blank lines left out: nothing to announce


def test_print_json_escapes_invisible_characters_and_keeps_the_data(capsys) -> None:
    data = {"text": "Hi\u202e\u200b\u2028 there\U000e0041 \ud800 and ünïcode"}
    print_json(data)
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\u202e\u200b\u2028\U000e0041\ud800")
    assert "ünïcode" in out and "\\u202e" in out and "\\udb40\\udc41" in out
    assert json.loads(out) == data


def test_json_errors_prints_an_error_object_and_re_raises(capsys) -> None:
    with pytest.raises(NotFound), json_errors(True):
        raise NotFound("no event with id 9")
    assert json.loads(capsys.readouterr().out) == {
        "error": {"code": "not_found", "message": "no event with id 9", "exit_code": 1}}
    with pytest.raises(NotFound), json_errors(False):
        raise NotFound("no event with id 9")
    assert capsys.readouterr().out == ""


def test_console_off_a_terminal_does_not_wrap(monkeypatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buffer)
    out = console()
    assert not out.is_terminal
    out.print("/var/spool/" + "inbox/" * 30 + "file.eml: unusable, nothing stored: " + "reason " * 20)
    assert len(buffer.getvalue().splitlines()) == 1
