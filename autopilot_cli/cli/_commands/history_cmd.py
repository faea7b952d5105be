"""``autopilot history``: the conversation as the customer saw it (conversation.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import typer

from ...contacts import DEFAULT_LIMIT, Conversation, HistoryEntry, conversation, parse_since
from .._render import console, json_errors, print_json, safe_line
from ._shared import json_option, runtime

TEXT_SHOWN = 500
"""Characters of each message shown; --json has them whole."""
_ANY_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
_ARROWS = {"inbound": "←", "outbound": "→", "opt_out": "✖", "opt_in": "✔"}


def _since(value: str | None) -> str | None:
    if value is not None:
        try:
            parse_since(value, _ANY_TIME)  # the format only: the core measures ages from the injected clock
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


def _header(entry: HistoryEntry) -> str:
    when = entry.at[:16].replace("T", " ")
    who = safe_line(entry.address, 200) if entry.address else f"contact #{entry.contact_id}"
    arrow = _ARROWS[entry.kind]
    if entry.kind == "inbound":
        ids = ", ".join(x for x in (f"event {entry.event_id}", safe_line(entry.provider_message_id or "", 200),
                                   safe_line(entry.state or "")) if x)
        return f"{when}  {arrow} {safe_line(entry.channel)} from {who} ({ids})"
    if entry.kind == "outbound":
        parts = [f"[bold]{safe_line(entry.state or '')}[/bold]"]
        if entry.provider_message_id:
            parts.append(f"provider id {safe_line(entry.provider_message_id, 200)}")
        if entry.delivery_status:
            parts.append(safe_line(entry.delivery_status))
        return f"{when}  {arrow} {safe_line(entry.channel)} to {who} · {' · '.join(parts)} (job {entry.job_id})"
    scope = "all channels" if entry.channel == "all" else safe_line(entry.channel)
    what = "opted out" if entry.kind == "opt_out" else "opted in"
    category = "" if entry.state == "all" else f", {safe_line(entry.state or '')} only"
    return f"{when}  {arrow} {who} {what} ({scope}{category}): {safe_line(entry.reason or '', TEXT_SHOWN)}"


def _render(result: Conversation) -> None:
    out = console()
    if not result.entries:
        out.print("no messages" + (" since " + result.since[:16].replace("T", " ") if result.since else ""))
        return
    for entry in result.entries:
        out.print(_header(entry))
        if entry.kind == "outbound" and entry.reason:
            out.print(f"    error: {safe_line(entry.reason, TEXT_SHOWN)}")
        if entry.text is not None:
            out.print(f"    {safe_line(entry.text, TEXT_SHOWN)}")
    if result.total > len(result.entries):
        out.print(f"showing the newest {len(result.entries)} of {result.total:,} entries; "
                  "use --limit or --since for others")


def history(
    ctx: typer.Context,
    contact: str | None = typer.Argument(
        None, metavar="CONTACT",
        help="An address (+4915123456789, ana@example.org), channel:address, or #ID. Default: everyone."),
    since: str | None = typer.Option(None, "--since", callback=_since, metavar="WHEN",
                                        help="Only from then on: 7d, 12h, 30m ago, or a date / ISO time (UTC)."),
    limit: int = typer.Option(DEFAULT_LIMIT, "--limit", min=1, metavar="N", help="Show the newest N entries."),
    as_json: bool = json_option(),
) -> None:
    """Show the conversation as the customer saw it: their messages, our replies (state, provider id), opt-outs.

    Newest last. A reply still waiting is placed at its planned send time.

    Example: autopilot history +4915123456789 --since 7d

    Example: autopilot history '#12' --json
    """
    rt = runtime(ctx)
    with json_errors(as_json):
        result = conversation(rt.store(), rt.clock, contact, since, limit)
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        _render(result)


def register(app: typer.Typer) -> None:
    app.command("history")(history)
