"""``autopilot explain``: how one event was decided, and what the customer got.

Customer text is shown inside panels (every screen line framed, so nothing in
a message can pass for a line of ours) and clipped to its start; one-line
fields go through ``safe_line``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.panel import Panel
from rich.table import Table

from .._render import LINE_LIMIT, TEXT_LIMIT, console, json_errors, print_json, safe, safe_line
from ._shared import json_option, runtime

if TYPE_CHECKING:
    from ...decide import Explanation


def _when(stamp: str | None) -> str:
    return f"{stamp[:19].replace('T', ' ')} UTC" if stamp else "-"


def _panel(text: str, title: str) -> Panel:
    # expand=False: as wide as the text needs (off a terminal nothing is wrapped).
    return Panel(safe(text, TEXT_LIMIT, LINE_LIMIT), title=title, title_align="left", expand=False)


def _render(result: Explanation) -> None:
    out = console()
    out.print(f"event {result.event_id} · {safe_line(result.channel)} · from {safe_line(result.contact, 200)} · "
              f"received {_when(result.received_at)}")
    out.print(_panel(result.text, "message"))
    if result.outcome is None:
        out.print("not processed yet (pending)")
        return
    reasons = safe_line(", ".join(result.reasons)) or "-"
    out.print(f"outcome: [bold]{safe_line(result.outcome)}[/bold]  reasons: {reasons}")
    table = Table(show_header=True, header_style="bold")
    for column in ("#", "check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for i, check in enumerate(result.checks, start=1):
        table.add_row(str(i), safe_line(check.name), safe_line(check.result), safe_line(check.detail, TEXT_LIMIT))
    out.print(table)
    if result.draft_text is not None:
        out.print(_panel(result.draft_text, f"draft ({safe_line(result.draft_state)})"))
    if result.approved_text is not None and result.approved_differs:
        who = safe_line(result.approved_by or "?", 80)
        out.print(_panel(result.approved_text, f"approved text, edited by {who} at {_when(result.approved_at)}"))
    if result.job_state is not None:
        line = f"job {result.job_id}: {safe_line(result.job_state)}"
        if result.sent_at:
            line += f", sent {_when(result.sent_at)}"
        else:
            line += f", send at {_when(result.send_at)}"
        if result.provider_message_id:
            line += f", provider id {safe_line(result.provider_message_id, 200)}"
        if result.delivery_status:
            line += f", {safe_line(result.delivery_status)}"
        out.print(line)
        if result.send_explanation:
            # Why then: the planner's one line (send hours, gaps, holds such as a contact's away date).
            out.print(f"  why then: {safe_line(result.send_explanation, TEXT_LIMIT)}")
    if result.sent_text is not None and result.sent_differs:
        same = " (the approved text)" if result.sent_text == result.approved_text else ""
        out.print(_panel(result.sent_text, f"sent text{same}"))


def explain(ctx: typer.Context, event_id: int = typer.Argument(..., help="The event's id.", metavar="EVENT_ID"),
            as_json: bool = json_option()) -> None:
    """Show how an event was decided: each check, in order, with its result, and what was sent.

    The approved text and the sent text are shown when they differ from the
    draft. With --json, an unknown id prints {"error": {...}} as well.

    Example: autopilot explain 42
    """
    from ...decide import explain_event

    with json_errors(as_json):
        result = explain_event(runtime(ctx).store(), event_id)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        _render(result)


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
