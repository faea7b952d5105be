"""``autopilot demo``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..demo import DemoReport, run_demo
from ..render import console, print_json, safe
from ._shared import json_option, runtime


def _render(report: DemoReport) -> None:
    out = console()
    out.rule("autopilot demo")
    out.print(f"folder   {safe(report.directory)}")
    out.print(f"config   {safe(report.config)}  (offline drafter, every channel an outbox)")
    out.print(f"database {safe(report.database)}")
    out.rule("1. ingest: provider payloads → events")
    table = Table(show_header=True, header_style="bold")
    for column in ("sample", "format", "ingested", "dupl.", "statuses", "ignored", "rejected"):
        table.add_column(column, justify="left" if column in ("sample", "format") else "right")
    for item in report.ingests:
        r = item.report
        table.add_row(safe(item.sample), safe(r.format), str(r.ingested), str(r.duplicates),
                      str(r.statuses), str(r.ignored), str(r.rejected))
    out.print(table)
    for item in report.ingests:
        for err in item.report.errors:
            where = f"line {err.line}" if err.line is not None else safe(err.index or "")
            out.print(f"  {safe(item.sample)} {where}: rejected — {safe(err.reason)}")
    events = Table(title="events waiting for `process`", show_header=True, header_style="bold")
    for column in ("id", "channel", "from", "text", "automated"):
        events.add_column(column, overflow="fold")
    for ev in report.events:
        text = ev.text if len(ev.text) <= 60 else ev.text[:57] + "…"
        events.add_row(str(ev.id), safe(ev.channel), safe(ev.sender), safe(text), "yes" if ev.automated else "")
    out.print(events)
    s = report.status
    out.rule("status")
    out.print(
        f"events pending {s.events.get('pending', 0)}, contacts {s.contacts}, "
        f"delivery statuses {s.delivery_statuses}, rejected records {s.rejects}"
    )
    out.print(f"try: autopilot --config {safe(report.config)} status")


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        ctx: typer.Context,
        directory: Optional[Path] = typer.Option(None, "--dir", help="Folder for the demo's files. Default: a new temporary folder."),
        as_json: bool = json_option(),
    ) -> None:
        """Run the pipeline end to end on shipped sample payloads, offline.

        Creates a config, knowledge file and database in a scratch folder,
        ingests WhatsApp, Instagram, email, LinkedIn and JSONL samples, and
        shows what happened. Nothing is sent anywhere.

        Example: autopilot demo --dir /tmp/autopilot-demo
        """
        rt = runtime(ctx)
        target = directory or Path(tempfile.mkdtemp(prefix="autopilot-demo-"))
        report = run_demo(target, rt.clock)
        if as_json:
            print_json(report.model_dump(mode="json"))
        else:
            _render(report)
