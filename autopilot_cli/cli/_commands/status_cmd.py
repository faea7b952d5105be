"""``autopilot status``."""

from __future__ import annotations

import typer
from rich.table import Table

from ...ops import StatusReport, system_status
from .._render import console, print_json, safe
from ._shared import json_option, runtime


def _render(report: StatusReport) -> None:
    out = console()
    # Which shop this is comes first: the counts below mean nothing for the wrong database.
    out.print(f"config   {safe(report.config_path or 'none: the embedded defaults')} ({safe(report.config_found_by)})")
    out.print(f"database {safe(report.database_path)} (schema {safe(report.schema_version)})")
    table = Table(title="autopilot status", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for state, count in report.events.items():
        table.add_row(f"events {state}", str(count))
    for channel, count in sorted(report.events_by_channel.items()):
        table.add_row(f"  from {safe(channel)}", str(count))
    table.add_row("drafts in review", str(report.drafts_in_review))
    table.add_row("  ready for one-click", str(report.drafts_ready))
    for state, count in report.jobs.items():
        table.add_row(f"jobs {state}", str(count))
    table.add_row("contacts", str(report.contacts))
    table.add_row("contacts opted out", str(report.opted_out_contacts))
    table.add_row("rejected records", str(report.rejects))
    table.add_row("delivery statuses", str(report.delivery_statuses))
    out.print(table)


def status(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Counts by state: pending events, drafts in review, jobs, opted-out contacts.

    Example: autopilot status --json
    """
    rt = runtime(ctx)
    found = rt.found_config()
    rt.config()  # a config that does not load is reported before any count
    report = system_status(rt.store(), str(found.path) if found.path else None, found.how)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        _render(report)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
