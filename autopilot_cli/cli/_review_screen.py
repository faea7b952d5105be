"""The interactive ``autopilot review`` screen: one draft at a time, one key per decision.

This is terminal UI, not core: it prints. The decisions themselves are the
core's (``approvals``), each one transaction; the queue and its details are
``review``'s. Everything the loop needs from the outside is injected, so
tests drive it without a terminal:

- ``read_key()`` returns one key (``"a"``, ``"q"``…; ``""`` for nothing);
  ``TerminalKeys`` reads single keystrokes in cbreak mode, ``line_key_reader``
  reads Enter-terminated keys (a non-TTY, or ``AUTOPILOT_REVIEW_FORCE_INTERACTIVE=1``);
- ``read_line(prompt)`` returns a line, or None at end of input;
- ``edit_text(text)`` returns the edited text, or None when the editor was
  closed without saving (``click_editor`` opens ``$VISUAL``/``$EDITOR``).

Untrusted text — messages, drafts, names, addresses — goes through
``render.safe`` / ``safe_line`` (rich markup escaped; control, bidi and
zero-width characters shown as ``⟨U+202E⟩``; newlines as ``⏎`` on one-line
fields), so a customer cannot restyle or spoof the screen; a long message shows
its start and "… N more characters". The layout fits 80 columns; colours
follow rich, which honours ``NO_COLOR``. Ctrl-C ends the session: the command
prints one line and exits 130.

Edit does not send: ``e`` opens the editor, the screen then shows the edited
text, and ``a`` approves exactly what is shown.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from ..clock import Clock
from ..config import Config
from ..db.connection import Store
from ..errors import AutopilotError
from ..review import (
    ApprovalRefused,
    ReviewItem,
    approve_one,
    drafts_in_review,
    get_item,
    load_details,
    opt_out_contact,
    reject_one,
    window_text,
)
from ._render import LINE_LIMIT, TEXT_LIMIT, safe, safe_line

KEYS: tuple[tuple[str, str], ...] = (
    ("a", "approve the text shown; sent at the planned send time"),
    ("e", "edit the draft in $VISUAL / $EDITOR, then a approves the edit"),
    ("r", "reject the draft (asks for a reason, Enter for none)"),
    ("s", "skip: leave it in the queue for later, go to the next"),
    ("o", "opt the contact out (y confirms); cancels their pending replies"),
    ("n", "next draft (also → or ↓)"),
    ("p", "previous draft (also ← or ↑)"),
    ("?", "this help"),
    ("q", "quit (also Ctrl-D); decisions made stay made"),
)
KEY_BAR = "a approve  e edit  r reject  s skip  o opt out  n/p next/prev  ? help  q quit"
# When the message may be an opt-out, opting out is the first action offered.
KEY_BAR_OPT_OUT_FIRST = "o opt out (the message may ask to stop)  a approve  e edit  r reject  s skip  n/p  ? help  q"
_ARROWS = {"\x1b[C": "n", "\x1b[B": "n", "\x1b[D": "p", "\x1b[A": "p"}


# --- input --------------------------------------------------------------------------------------


class TerminalKeys:
    """Single keystrokes from a terminal, as a context manager: cbreak mode for the whole session.

    cbreak (not raw) keeps Ctrl-C working as an interrupt; keys typed ahead are
    read in order and never echoed. ``cooked()`` gives the terminal back for
    line input (a reject reason) and for the editor. Arrow keys map to n/p;
    Ctrl-D is q. The terminal's settings are restored on exit, whatever happens.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.fd = (stream or sys.stdin).fileno()
        self._saved: list | None = None

    def __enter__(self) -> TerminalKeys:
        import termios
        import tty

        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        import termios

        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    @contextmanager
    def cooked(self) -> Iterator[None]:
        import termios
        import tty

        if self._saved is None:
            yield
            return
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        try:
            yield
        finally:
            tty.setcbreak(self.fd)

    def __call__(self) -> str:
        import select

        data = os.read(self.fd, 1)
        if data == b"\x1b":  # an escape sequence arrives in one burst
            while select.select([self.fd], [], [], 0.05)[0]:
                chunk = os.read(self.fd, 8)
                if not chunk:
                    break
                data += chunk
        if not data or data == b"\x04":
            return "q"
        key = data.decode("utf-8", "replace")
        return _ARROWS.get(key, key if len(key) == 1 else "")


def line_key_reader(stream: IO[str] | None = None) -> Callable[[], str]:
    """Enter-terminated keys: the first character of each line; end of input is q."""

    def read() -> str:
        line = (stream or sys.stdin).readline()
        if not line:
            return "q"
        return line.strip()[:1]

    return read


def line_reader(console: Console, stream: IO[str] | None = None) -> Callable[[str], str | None]:
    def read(prompt: str) -> str | None:
        console.print(prompt, end="", markup=False)
        line = (stream or sys.stdin).readline()
        if not line:
            console.print()
            return None
        return line.rstrip("\r\n")

    return read


def click_editor(text: str) -> str | None:
    """``$VISUAL`` / ``$EDITOR`` (else vi or nano) on a temporary .txt file; None if not saved.

    ``click.edit`` (click comes with typer) writes the file, runs the editor on
    the terminal and reads the file back; an editor that cannot be started or
    exits non-zero is an ``AutopilotError`` naming it.
    """
    import click

    try:
        return click.edit(text, extension=".txt", require_save=True)
    except click.ClickException as exc:
        raise AutopilotError(f"{exc.format_message()} (set $EDITOR to your editor)") from None


def normalize_edit(text: str) -> str:
    """What an editor hands back, made comparable: CRLF → LF, trailing whitespace and newlines dropped."""
    return text.replace("\r\n", "\n").rstrip()


# --- the session ----------------------------------------------------------------------------------


@dataclass
class Summary:
    approved: int = 0
    rejected: int = 0
    opted_out: int = 0
    skipped: int = 0
    seen: int = 0
    left: int = 0  # drafts still in review at the end
    interrupted: bool = False

    def line(self) -> str:
        return (f"approved {self.approved}, rejected {self.rejected}, opted out {self.opted_out}, "
                f"skipped {self.skipped}; {self.left} draft(s) left in review")


@dataclass
class ReviewSession:
    store: Store
    config: Config
    clock: Clock
    actor: str
    draft_ids: list[int]
    console: Console
    read_key: Callable[[], str]
    read_line: Callable[[str], str | None]
    edit_text: Callable[[str], str | None]
    clear_screen: bool = False
    position: int = 0
    pending: dict[int, str] = field(default_factory=dict)
    """Edited texts waiting for ``a``."""
    flash: list[str] = field(default_factory=list)
    """Markup lines shown above the next screen (results of the last action)."""
    summary: Summary = field(default_factory=Summary)
    profiles: dict[str, list[float]] = field(default_factory=dict)
    _seen: set[int] = field(default_factory=set)

    # -- drawing --------------------------------------------------------------------------------
    def _current(self) -> ReviewItem | None:
        item = get_item(self.store, self.config, self.clock, self.draft_ids[self.position])
        if item is not None and item.state == "review":
            load_details(self.store, self.config, self.clock, item, self.profiles)
        return item

    def draw(self, item: ReviewItem | None) -> None:
        out = self.console
        if self.clear_screen:
            out.clear()
        for line in self.flash:
            out.print(line)
        self.flash = []
        total = len(self.draft_ids)
        draft_id = self.draft_ids[self.position]
        out.rule(f"review · {self.position + 1} of {total} · draft {draft_id}")
        if item is None:
            out.print(f"draft {draft_id} no longer exists")
            out.print(Text(KEY_BAR, style="dim"))
            return
        name = f" ({safe_line(item.contact_name, 80)})" if item.contact_name else ""
        out.print(f"[bold]{safe_line(item.channel)}[/bold] · {safe_line(item.contact, 120)}{name} · "
                  f"event {item.event_id} · received {item.received_at[:16].replace('T', ' ')} UTC")
        out.print(f"window: {safe_line(window_text(item))}")
        if item.state != "review":
            out.print(f"[bold]already decided:[/bold] this draft is {safe_line(item.state)} — nothing to do here")
        if item.subject:
            out.print(f"subject: {safe_line(item.subject, 300)}")
        if item.history:
            out.print(f"[bold]conversation[/bold] (last {len(item.history)})")
            for h in item.history:
                who = "them" if h.role == "contact" else "us  "
                out.print(f"  {h.at[5:16].replace('T', ' ')} {who} {safe_line(h.text, 160)}")
        out.print(Panel(safe(item.inbound_text, TEXT_LIMIT, LINE_LIMIT), title="message", title_align="left"))
        edited = self.pending.get(item.id)
        conf = "?" if item.confidence is None else f"{item.confidence:.2f}"
        details = f"confidence {conf}" + (f" · variant {safe_line(item.variant, 40)}" if item.variant else "")
        if edited is not None:
            out.print(Panel(safe(edited, TEXT_LIMIT, LINE_LIMIT), border_style="yellow", title_align="left",
                            title=f"EDITED draft · press a to approve this text · {details}"))
        else:
            out.print(Panel(safe(item.draft_text, TEXT_LIMIT, LINE_LIMIT), title=f"draft · {details}",
                            title_align="left"))
        if item.reasons_text:
            out.print("[bold]why it needs you[/bold]")
            for reason in item.reasons_text:
                out.print(f"  • {safe_line(reason)}")
        if item.state == "review":
            when = (item.planned_send_at[:16].replace("T", " ") + " UTC") if item.planned_send_at else "no time"
            out.print(f"[bold]send time if approved:[/bold] {when} — {safe_line(item.send_explanation or '')}")
        if "possible_opt_out" in item.reasons and item.state == "review":
            out.print(Text(KEY_BAR_OPT_OUT_FIRST, style="bold"))
        else:
            out.print(Text(KEY_BAR, style="dim"))

    def help(self) -> None:
        for key, text in KEYS:
            self.console.print(f"  {safe(key)}  {safe(text)}")

    # -- actions --------------------------------------------------------------------------------
    def _advance(self) -> bool:
        """Move to the next draft; False at the end of the queue."""
        if self.position + 1 >= len(self.draft_ids):
            return False
        self.position += 1
        return True

    def _approve(self, item: ReviewItem) -> bool:
        text = self.pending.get(item.id)
        try:
            result = approve_one(self.store, self.config, self.clock, self.actor, item.id, text=text)
        except ApprovalRefused as exc:
            self.flash.append(f"[red]not approved:[/red] {safe_line(exc)}")
            return False
        self.pending.pop(item.id, None)
        self.summary.approved += 1
        edited = f", edited ({result.edit_distance} changes)" if result.edited else ""
        self.flash.append(f"[green]approved[/green] draft {item.id}{edited}: job {result.job_id}, sends "
                          f"{result.send_at[:16].replace('T', ' ')} UTC")
        if result.template:
            self.flash.append(f"  the window has closed or will have: the template {safe(result.template)} is sent")
        return True

    def _edit(self, item: ReviewItem) -> None:
        current = self.pending.get(item.id, item.draft_text)
        try:
            edited = self.edit_text(current)
        except AutopilotError as exc:
            self.flash.append(f"[red]editor failed:[/red] {safe(exc)}")
            return
        if edited is None:
            self.flash.append("editor closed without saving: nothing changed")
            return
        edited = normalize_edit(edited)
        if not edited.strip():
            self.flash.append("[red]the edited text is empty: nothing changed[/red]")
            return
        if edited == item.draft_text:
            self.pending.pop(item.id, None)
            self.flash.append("the text is the original draft again")
            return
        self.pending[item.id] = edited
        self.flash.append("edited: press [bold]a[/bold] to approve the edited text, [bold]e[/bold] to edit again")

    def _reject(self, item: ReviewItem) -> bool:
        reason = self.read_line("reason for rejecting (Enter for none): ")
        if reason is None:
            self.flash.append("not rejected (no input)")
            return False
        try:
            reject_one(self.store, self.clock, self.actor, item.id, reason)
        except ApprovalRefused as exc:
            self.flash.append(f"[red]not rejected:[/red] {safe_line(exc)}")
            return False
        self.pending.pop(item.id, None)
        self.summary.rejected += 1
        self.flash.append(f"rejected draft {item.id}" + (f": {safe_line(reason.strip())}" if reason.strip() else ""))
        return True

    def _opt_out(self, item: ReviewItem) -> bool:
        scope = "every channel" if self.config.consent.scope == "contact" else f"{item.channel}"
        self.console.print(f"opt out {safe_line(item.contact, 120)} on {scope}? Their pending replies are cancelled. "
                           "Press y to confirm, any other key to keep them.")
        if self.read_key().lower() != "y":
            self.flash.append("opt-out cancelled: nothing changed")
            return False
        result = opt_out_contact(self.store, self.config, self.clock, self.actor, item.id)
        self.summary.opted_out += 1
        self.flash.append(f"{safe_line(result.contact, 120)} opted out ({safe(result.scope)}): cancelled "
                          f"{result.cancelled_drafts} draft(s) and {result.cancelled_jobs} job(s)")
        return True

    def run(self) -> Summary:
        """The loop: draw, read a key, act; until q, end of input, past the last draft, or Ctrl-C
        (``interrupted``: the caller prints the summary as its one error line)."""
        if not self.draft_ids:
            self.console.print("nothing to review: the queue is empty")
            return self.summary
        s = self.summary
        try:
            self._loop()
        except KeyboardInterrupt:
            s.interrupted = True
        s.left = drafts_in_review(self.store)
        s.seen = len(self._seen)
        if not s.interrupted:
            self.console.print(s.line())
        return s

    def _loop(self) -> None:
        redraw = True
        item: ReviewItem | None = None
        while True:
            if redraw:
                item = self._current()
                self._seen.add(self.draft_ids[self.position])
                self.draw(item)
            redraw = True
            key = self.read_key()
            if key == "q":
                for line in self.flash:
                    self.console.print(line)
                return
            if key == "?":
                self.help()
                redraw = False
                continue
            if key in ("n", "s"):
                if key == "s":
                    self.summary.skipped += 1
                if not self._advance():
                    self.flash.append("end of the queue")
                    self._print_flash()
                    return
                continue
            if key == "p":
                if self.position == 0:
                    self.flash.append("this is the first draft")
                else:
                    self.position -= 1
                continue
            if key in ("a", "e", "r", "o"):
                if item is None or item.state != "review":
                    self.flash.append("[red]this draft is no longer in review[/red]")
                    continue
                done = {"a": self._approve, "r": self._reject, "o": self._opt_out}.get(key)
                if done is None:
                    self._edit(item)
                    continue
                if done(item) and not self._advance():
                    self.flash.append("end of the queue")
                    self._print_flash()
                    return
                continue
            if key:
                self.console.print(f"unknown key {safe(key)} — press ? for help")
            redraw = False

    def _print_flash(self) -> None:
        for line in self.flash:
            self.console.print(line)
        self.flash = []
