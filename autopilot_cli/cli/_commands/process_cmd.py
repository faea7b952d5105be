"""``autopilot process`` (``explain`` is in explain_cmd.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from .._render import console, print_json, safe
from ._shared import json_option, runtime

if TYPE_CHECKING:
    from ...decide import ProcessReport

SHOWN = 50
SUMMARY_KEYS = (
    "processed", "auto_scheduled", "review_queue", "opted_out", "opted_in", "rate_limited", "skipped", "errors",
)


def _render(report: ProcessReport) -> None:
    out = console()
    if report.dry_run:
        out.print("dry run — nothing written")
    counts = [f"{k.replace('_', ' ')} {getattr(report, k)}" for k in SUMMARY_KEYS]
    out.print(", ".join(counts[:4]))
    out.print(", ".join(counts[4:]))
    if not report.decisions:
        return
    # Sized for an 80-column terminal: one reason per line, short columns never
    # wrapped; the contact and send time are in --json and `explain`.
    table = Table(show_header=True, header_style="bold")
    table.add_column("event", no_wrap=True)
    table.add_column("channel", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("conf.", no_wrap=True, justify="right")
    table.add_column("reasons / send time", overflow="fold")
    shown = report.decisions[-SHOWN:]
    for d in shown:
        detail = "\n".join(d.reasons) or (f"send {d.send_at}" if d.send_at else "")
        table.add_row(str(d.event_id), safe(d.channel), d.outcome,
                      "" if d.confidence is None else f"{d.confidence:.2f}", safe(detail))
    out.print(table)
    if len(report.decisions) > len(shown):
        out.print(f"showing the last {len(shown)} of {len(report.decisions)} decisions; --json lists them all")


def process(
    ctx: typer.Context,
    limit: int = typer.Option(None, "--limit", min=1, help="Process at most N pending events."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show every decision; write nothing."),
    as_json: bool = json_option(),
) -> None:
    """Decide every pending event, oldest first: skip, opt out, draft and schedule, or queue for review.

    Checks run in a fixed order (README: "The checks"): loop guard, consent,
    contact checks, drafting, gates, mode and channel window, rate limits,
    send time, A/B variant. Each event gets exactly one outcome, with reasons.

    Example: autopilot process --dry-run --json
    """
    # Imported here: the drafting stack is not needed by other commands.
    from ...decide import process_events
    from ...drafting import build_services
    from ._progress import TerminalProgress

    rt = runtime(ctx)
    config = rt.config()
    services, protected = build_services(config, rt.secrets())
    with TerminalProgress("deciding events", enabled=not as_json) as progress:
        report = process_events(rt.store(), config, rt.clock, services, limit=limit, dry_run=dry_run,
                                protected_fragments=protected, progress=progress)
    for warning in report.warnings:  # one line each, on stderr: seen under cron too
        typer.echo("warning: " + " ".join(warning.split()), err=True)
    if as_json:
        data = report.model_dump(mode="json")
        print_json(data)
    else:
        _render(report)


def register(app: typer.Typer) -> None:
    app.command("process")(process)
