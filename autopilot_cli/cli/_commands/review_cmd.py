"""``autopilot review``, ``approve`` and ``reject``: a person decides the drafts in review.

Exit codes: 0 every named draft was decided; 1 none was (each refusal is one
``error:`` line: not in review any more, opted out, window closed…); 6 some
were and some were refused; 2 usage — including ``review`` without a terminal
(use ``--list``), unless ``AUTOPILOT_REVIEW_FORCE_INTERACTIVE=1`` is set, which
reads Enter-terminated keys from stdin (for scripts and tests); 130 Ctrl-C in
the interactive review (one line: what was decided, what is left).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer
from rich import box
from rich.table import Table

from ...errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_PARTIAL, EXIT_USAGE, AutopilotError, NotFound
from .._render import console, print_json, safe, safe_line
from ._shared import actor, json_option, runtime

if TYPE_CHECKING:
    from ...clock import Clock
    from ...config import Config
    from ...db.connection import Store
    from ...review import Batch, ReviewItem

FORCE_INTERACTIVE_ENV = "AUTOPILOT_REVIEW_FORCE_INTERACTIVE"


def _finish(batch: Batch, key: str, as_json: bool) -> None:
    done = getattr(batch, key)
    if as_json:
        print_json({key: [d.model_dump(mode="json") for d in done],
                    "refused": [r.model_dump(mode="json") for r in batch.refused]})
    else:
        out = console()
        for d in done:
            if key == "approved":
                edited = f", edited ({d.edit_distance} changes)" if d.edited else ""
                out.print(f"draft {d.draft_id} approved{edited}: job {d.job_id} sends "
                          f"{d.send_at[:16].replace('T', ' ')} UTC — {safe(d.explanation)}")
            else:
                out.print(f"draft {d.draft_id} rejected" + (f": {safe(d.reason)}" if d.reason else ""))
    for refusal in batch.refused:
        typer.echo("error: " + " ".join(refusal.error.split()), err=True)
    if batch.refused:
        raise typer.Exit(EXIT_PARTIAL if done else EXIT_ERROR)


PREVIEW_CHARS = 70


def empty_queue_text(in_review: int) -> str:
    """Why nothing is listed: an empty queue, or a filter that hides the drafts there are."""
    if in_review:
        return f"no draft matches the filter ({in_review} in review)"
    return "nothing to review: the queue is empty"


def _list(items: list[ReviewItem], as_json: bool, in_review: int) -> None:
    if as_json:
        print_json([item.list_entry() for item in items])
        return
    out = console()
    if not items:
        out.print(empty_queue_text(in_review))
        return
    from ...review import format_duration

    # Sized for 80 columns on a terminal (no box; channel and contact above the message and the
    # draft's start); off a terminal the table takes the room it needs and nothing is folded.
    table = Table(show_header=True, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                  expand=out.is_terminal)
    table.add_column("draft", no_wrap=True, justify="right")
    table.add_column("channel · contact / message / ↳ draft", overflow="fold", ratio=5)
    table.add_column("conf.", no_wrap=True, justify="right")
    table.add_column("window", no_wrap=True)
    table.add_column("reasons", overflow="fold", ratio=4)
    for item in items:
        if item.window_closes_at is None:
            window = "-"
        elif item.window_open:
            window = format_duration(item.window_seconds_left or 0)
        else:
            window = "closed"
        text = (f"{safe_line(item.channel)} · {safe_line(item.contact, PREVIEW_CHARS)}\n"
                f"{safe_line(item.inbound_text, PREVIEW_CHARS)}\n↳ {safe_line(item.draft_text, PREVIEW_CHARS)}")
        table.add_row(str(item.id), text, "" if item.confidence is None else f"{item.confidence:.2f}", window,
                      "\n".join(safe_line(r) for r in item.reasons) + ("\n(ready)" if item.ready else ""))
    out.print(table)
    hidden = in_review - len(items)
    out.print(f"{len(items)} draft(s)" + (f" of {in_review} in review" if hidden else "")
              + "; decide them with: autopilot review (interactive), autopilot approve ID, autopilot reject ID")


def review(
    ctx: typer.Context,
    as_list: bool = typer.Option(False, "--list", help="Print the queue instead of the interactive screen."),
    channel: str | None = typer.Option(None, "--channel", help="Only this channel."),
    reason: str | None = typer.Option(None, "--reason",
                                         help="Only drafts with this reason code, or family "
                                         "(compliance, injection…)."),
    contact: str | None = typer.Option(None, "--contact",
                                          help="Only this contact: an address, channel:address or #ID."),
    ready: bool = typer.Option(False, "--ready", help="Only drafts that passed every gate (one click away)."),
    as_json: bool = json_option(),
) -> None:
    """Go through the drafts waiting for a person: approve, edit, reject, skip, opt out.

    Most urgent first: WhatsApp/Instagram windows closing soonest, then the
    oldest message. Keys: a approve, e edit ($EDITOR), r reject, s skip,
    o opt the contact out, n/p next/previous, ? help, q quit. Needs a
    terminal; --list (with --json for scripts) prints the queue instead.

    Example: autopilot review --channel whatsapp

    Example: autopilot review --list --json
    """
    from ...review import ReviewFilter, drafts_in_review, review_queue

    rt = runtime(ctx)
    config, store = rt.config(), rt.store()
    filters = ReviewFilter(channel=channel, reason=reason, contact=contact, ready=True if ready else None)
    if as_list or as_json:
        _list(review_queue(store, config, rt.clock, filters), as_json, drafts_in_review(store))
        return
    forced = rt.environ.get(FORCE_INTERACTIVE_ENV) == "1"
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    if not terminal and not forced:
        typer.echo("error: review is interactive and needs a terminal; use 'autopilot review --list' "
                   "(add --json for scripts)", err=True)
        raise typer.Exit(EXIT_USAGE)
    from contextlib import nullcontext

    from .._review_screen import ReviewSession, TerminalKeys, click_editor, line_key_reader, line_reader

    items = review_queue(store, config, rt.clock, filters)
    out = console() if terminal else console(width=80)  # forced without a terminal: as on one
    if not items:
        out.print(empty_queue_text(drafts_in_review(store)))
        return
    keys = TerminalKeys() if terminal and not forced else None
    plain_line = line_reader(out)

    def read_line(prompt: str) -> str | None:
        with keys.cooked() if keys else nullcontext():
            return plain_line(prompt)

    def edit_text(text: str) -> str | None:
        with keys.cooked() if keys else nullcontext():
            return click_editor(text)

    session = ReviewSession(
        store=store, config=config, clock=rt.clock, actor=actor(), draft_ids=[i.id for i in items],
        console=out, read_key=keys or line_key_reader(), read_line=read_line, edit_text=edit_text,
        clear_screen=keys is not None,
    )
    with keys or nullcontext():
        summary = session.run()
    if summary.interrupted:  # Ctrl-C: one line, exit 130; the decisions made stay made
        typer.echo(f"error: interrupted: {summary.line()}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)


def approve_cmd(
    ctx: typer.Context,
    drafts: list[int] | None = typer.Argument(None, help="Draft ids (see autopilot review --list)."),
    text: str | None = typer.Option(None, "--text", help="Approve this text instead of the draft (one draft; "
                                       "\\n is a new line)."),
    edit: bool = typer.Option(False, "--edit", help="Edit the draft in $VISUAL/$EDITOR first (one draft)."),
    now: bool = typer.Option(False, "--now", help="Send at the next execute run instead of the planned time "
                             "(still held while the contact's do-not-disturb lasts)."),
    override_dnd: bool = typer.Option(False, "--override-dnd",
                                      help="Send inside the contact's do-not-disturb (recorded in the audit log)."),
    all_ready: bool = typer.Option(False, "--all-ready",
                                   help="Approve every draft that passed all gates "
                                   "(one-click mode; not LinkedIn)."),
    as_json: bool = json_option(),
) -> None:
    """Approve drafts: each gets a job at the scheduler's send time (or --now) with exactly the approved text.

    Refused, with the reason, when the draft is no longer in review (another
    terminal decided it), the contact opted out, or the WhatsApp/Instagram
    window closed (unless the channel has a window_template).

    Example: autopilot approve 12 --text "Yes, we ship to Austria: 2-4 working days." --now
    """
    from ...review import approve, approve_all_ready

    if all_ready and override_dnd:
        raise typer.BadParameter("--override-dnd is for drafts named by id, never for --all-ready")
    if all_ready and drafts:
        raise typer.BadParameter("give draft ids or --all-ready, not both")
    if not all_ready and not drafts:
        raise typer.BadParameter("give draft ids, or --all-ready for every ready draft")
    if text is not None and edit:
        raise typer.BadParameter("--text and --edit exclude each other")
    if (text is not None or edit) and (all_ready or len(drafts or []) != 1):
        raise typer.BadParameter("--text and --edit take exactly one draft id")
    rt = runtime(ctx)
    if edit and not (sys.stdin.isatty() and sys.stdout.isatty()) and rt.environ.get(FORCE_INTERACTIVE_ENV) != "1":
        typer.echo("error: approve --edit opens an editor and needs a terminal; use --text \"…\" instead", err=True)
        raise typer.Exit(EXIT_USAGE)
    if text is not None:
        from ...textnorm import typed_newlines

        text = typed_newlines(text)
    config, store = rt.config(), rt.store()
    if all_ready:
        batch = approve_all_ready(store, config, rt.clock, actor(), now=now)
        if not batch.approved and not batch.refused and not as_json:
            console().print("no ready drafts")
    else:
        assert drafts is not None
        if edit:
            text = _edited(store, config, rt.clock, drafts[0])
        batch = approve(store, config, rt.clock, actor(), drafts, text=text, now=now, override_dnd=override_dnd)
    _finish(batch, "approved", as_json)


def reject_cmd(
    ctx: typer.Context,
    drafts: list[int] = typer.Argument(..., help="Draft ids."),
    reason: str | None = typer.Option(None, "--reason", help="Why (kept with the draft and in the audit log)."),
    as_json: bool = json_option(),
) -> None:
    """Reject drafts: nothing is sent; the reason is recorded with who and when.

    Example: autopilot reject 12 13 --reason "answered by phone"
    """
    from ...review import reject

    rt = runtime(ctx)
    _finish(reject(rt.store(), rt.clock, actor(), drafts, reason), "rejected", as_json)


def register(app: typer.Typer) -> None:
    app.command("review")(review)
    app.command("approve")(approve_cmd)
    app.command("reject")(reject_cmd)


def _edited(store: Store, config: Config, clock: Clock, draft_id: int) -> str:
    from ...review import get_item
    from .._review_screen import click_editor, normalize_edit

    item = get_item(store, config, clock, draft_id)
    if item is None:
        raise NotFound(f"no draft with id {draft_id}")
    edited = click_editor(item.draft_text)
    if edited is None or not normalize_edit(edited).strip():
        raise AutopilotError("editor closed without saving (or the text is empty); nothing approved")
    return normalize_edit(edited)
