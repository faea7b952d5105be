"""Terminal output: rich for people, plain JSON for programs.

Untrusted text (messages, drafts, names, provider errors, file names) goes
through ``safe()`` — or ``safe_line()`` where it must stay on one line (table
cells, ``field: value`` lines) — before rich sees it:

- rich markup such as ``[bold]APPROVED[/]`` or ``[link=…]`` is escaped;
- every character a terminal would act on or not show is made visible as its
  code point, ``⟨U+202E⟩``: C0/C1 controls (ANSI escapes start with one),
  bidi controls (U+202A–202E, U+2066–2069, U+200E/F, U+061C), zero-width
  characters (U+200B–200D, U+2060, U+FEFF), the line and paragraph separators
  U+2028/2029, lone surrogates, and every other format character (Unicode
  category Cf), plus the Hangul fillers that render as blanks. A customer can
  therefore neither restyle the screen nor reorder or hide what it shows;
- ``safe_line`` also shows newlines as ``⏎``, so a message cannot print a line
  of its own (a fake ``outcome: auto_scheduled`` inside ``explain``);
- a ``limit`` shows the start of very long text and ``… N more characters``
  (a 900 KB message must not fill 2,000 lines of the screen).

Output that is not a terminal (cron, pipes, files) is not wrapped: rich would
otherwise break lines at 80 columns, splitting file names and error lines.
``print_json`` writes the same invisible characters as ``\\uXXXX`` escapes —
the data is unchanged for a JSON reader, and a person paging through the JSON
sees no reordered text.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape

from ..errors import AutopilotError

# Cc, Cf, Cs, Zl and Zp as of Unicode 15 (tests/test_render.py checks this against
# unicodedata), and the Hangul fillers (Lo, but drawn as nothing). Tab and newline
# are handled by the callers: kept by ``safe``, made visible by ``safe_line``.
_INVISIBLE_RANGES = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160"
    "\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3164\ud800-\udfff\ufeff\uffa0\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
_INVISIBLE = re.compile(f"[{_INVISIBLE_RANGES}]")
_INVISIBLE_OR_BREAK = re.compile(f"[{_INVISIBLE_RANGES}\t\n]")
NEWLINE_MARK = "⏎"

TEXT_LIMIT = 2000
"""Characters of a message or draft shown on the review screen and by ``explain``."""
LINE_LIMIT = 40
"""Lines of a message or draft shown there (a message of 5,000 empty lines is short in characters)."""
_NO_WRAP_WIDTH = 100_000


def _code_point(match: re.Match[str]) -> str:
    return f"⟨U+{ord(match.group()):04X}⟩"


def _one_line(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\n":
        return NEWLINE_MARK
    if char == "\t":
        return " "
    return _code_point(match)


def clip(text: str, limit: int | None = None, max_lines: int | None = None) -> tuple[str, int]:
    """The start of ``text`` (at most ``limit`` characters and ``max_lines`` lines) and how many characters
    were left out. Slices before anything else, so a 50 MB text costs no more than a short one."""
    shown = text if limit is None else text[:limit]
    if max_lines is not None:
        cut = -1
        for _ in range(max_lines):
            cut = shown.find("\n", cut + 1)
            if cut < 0:
                break
        if cut >= 0:
            shown = shown[:cut]
    left = len(text) - len(shown)
    if 0 < left <= 4096 and not text[len(shown):].strip():
        return shown, 0  # only trailing blank lines or spaces were left out: nothing to announce
    return shown, left


def more(left: int) -> str:
    """The marker after clipped text."""
    return f"… {left:,} more character{'' if left == 1 else 's'}"


def _clipped(text: object, limit: int | None, max_lines: int | None) -> tuple[str, int]:
    shown, left = clip(str(text), limit, max_lines)
    if left and shown.endswith("\r"):  # cut between CR and LF
        shown = shown[:-1]
    return shown.replace("\r\n", "\n"), left


def safe(text: object, limit: int | None = None, max_lines: int | None = None) -> str:
    """Untrusted text made inert for rich (module docstring); line breaks kept, clipped when asked to be."""
    shown, left = _clipped(text, limit, max_lines)
    out = escape(_INVISIBLE.sub(_code_point, shown))
    if not left:
        return out
    return out + ("\n" if "\n" in shown else " ") + more(left)


def safe_line(text: object, limit: int | None = None) -> str:
    """``safe`` for one-line places: newlines shown as ⏎, tabs as spaces; clipped to ``limit`` characters."""
    shown, left = _clipped(text, limit, None)
    return escape(_INVISIBLE_OR_BREAK.sub(_one_line, shown)) + (" " + more(left) if left else "")


def console(stderr: bool = False, width: int | None = None) -> Console:
    """A console for people: on a terminal, rich's usual width; off a terminal, no wrapping at all.

    ``width`` fixes the width wherever the output goes (the interactive review
    screen, which draws rules and panels across the screen). highlight=False:
    rich's auto-highlighting would colour numbers inside customer text, which
    reads as emphasis the customer did not write; emoji=False: ``:warning:`` in
    a message is shown as typed, not as an emoji.
    """
    out = Console(stderr=stderr, highlight=False, emoji=False, soft_wrap=False, width=width)
    if width is None and not out.is_terminal:
        # soft_wrap: printed lines are never broken; the width lets a table take the room its
        # cells need instead of folding them (no table here expands to the full width).
        out = Console(stderr=stderr, highlight=False, emoji=False, soft_wrap=True, width=_NO_WRAP_WIDTH)
    return out


def _json_escape(match: re.Match[str]) -> str:
    return json.dumps(match.group())[1:-1]  # ensure_ascii: \u202e, or a surrogate pair beyond the BMP


def print_json(data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(_INVISIBLE.sub(_json_escape, text) + "\n")


def error_object(exc: AutopilotError) -> dict[str, Any]:
    """``{"code", "message", "exit_code"}``: the JSON form of a refusal (``code`` from the error class)."""
    code = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()
    return {"code": code, "message": " ".join(str(exc).split()), "exit_code": exc.exit_code}


@contextmanager
def json_errors(enabled: bool) -> Iterator[None]:
    """With ``--json``, a refusal also prints ``{"error": {...}}`` on stdout, so a script reading stdout
    learns why; the ``error:`` line on stderr and the exit code stay those of the CLI edge (cli.py)."""
    try:
        yield
    except AutopilotError as exc:
        if enabled:
            print_json({"error": error_object(exc)})
        raise


def is_interactive() -> bool:
    return sys.stdout.isatty()
