"""``autopilot demo``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from .._render import console, print_json, safe
from ._shared import json_option
from .ab_cmd import render_report

if TYPE_CHECKING:
    from ...ops import DemoReport


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _render(report: DemoReport) -> None:
    out = console()
    out.rule("autopilot demo")
    out.print(f"folder   {safe(report.directory)}")
    out.print(f"config   {safe(report.config)}  (offline drafter, every channel an outbox)")
    out.print(f"database {safe(report.database)}")
    out.rule("1. ingest: provider payloads → events")
    table = Table(show_header=True, header_style="bold")
    table.add_column("sample", no_wrap=True)
    for column in ("format", "new", "dup", "status", "ign.", "rej."):
        table.add_column(column, justify="left" if column == "format" else "right", no_wrap=True,
                         min_width=len(column))
    for item in report.ingests:
        r = item.report
        table.add_row(safe(item.sample), safe(r.format), str(r.ingested), str(r.duplicates),
                      str(r.statuses), str(r.ignored), str(r.rejected))
    out.print(table)
    for item in report.ingests:
        for err in item.report.errors:
            where = f"line {err.line}" if err.line is not None else safe(err.index or "")
            out.print(f"  {safe(item.sample)} {where}: rejected — {safe(err.reason)}")
    out.rule(f"2. process: one outcome per event (demo clock {report.clock})")
    p = report.process
    out.print(f"processed {p.processed}: auto-scheduled {p.auto_scheduled}, review {p.review_queue}, "
              f"opted out {p.opted_out},")
    out.print(f"rate-limited {p.rate_limited}, skipped {p.skipped}, errors {p.errors}")
    table = Table(show_header=True, header_style="bold")
    table.add_column("event", no_wrap=True)
    table.add_column("channel", no_wrap=True)
    table.add_column("message", overflow="fold", ratio=1)
    table.add_column("outcome", no_wrap=True)
    table.add_column("reasons", overflow="fold", ratio=1)
    for decided in report.decisions:
        d = decided.decision
        table.add_row(str(d.event_id), safe(d.channel), safe(_short(decided.text, 40)), d.outcome,
                      safe("\n".join(d.reasons)))
    out.print(table)
    out.rule("3. review: drafts waiting for a person (autopilot review)")
    table = Table(show_header=True, header_style="bold")
    table.add_column("draft", no_wrap=True, justify="right")
    table.add_column("channel", no_wrap=True)
    table.add_column("message", overflow="fold", ratio=1)
    table.add_column("conf.", no_wrap=True, justify="right")
    table.add_column("reasons", overflow="fold", ratio=1)
    for waiting in report.review:
        table.add_row(str(waiting.id), safe(waiting.channel), safe(_short(waiting.inbound_text, 40)),
                      "" if waiting.confidence is None else f"{waiting.confidence:.2f}",
                      safe("\n".join(waiting.reasons)))
    out.print(table)
    a = report.approved
    if a is not None:
        edited = " (edited)" if a.edited else ""
        out.print(f"operator {safe(a.approved_by)} approved draft {a.draft_id}{edited} → job {a.job_id}, "
                  f"sent at the next execute run")
    e = report.execute
    out.rule("4. execute: due replies through the outbox (nothing leaves this machine)")
    out.print(f"demo clock now {report.execute_clock}, when the last scheduled reply is due")
    out.print(f"sent {e.sent}, retried {e.retried}, failed {e.failed}, needs reconcile {e.needs_reconcile}, "
              f"skipped {e.skipped}")
    for sent in report.outbox:
        variant = f" (A/B variant {safe(sent.variant)})" if sent.variant else ""
        out.print(f"[bold]job {sent.job_id} → {safe(sent.channel)} {safe(sent.recipient)}[/bold]{variant}")
        if sent.explanation:
            out.print(f"[dim]when: {safe(sent.explanation)}[/dim]")
        out.print(safe(sent.text))
    out.rule("5. ab-report: the greeting experiment")
    for ab_report in report.ab_reports:
        render_report(ab_report, out)
    v = report.evaluation
    out.rule("6. eval: how AUTO judges the example cases (autopilot eval cases.jsonl)")

    def share(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0%}"

    out.print(f"{v.cases} labelled messages: auto-send precision {share(v.auto_precision)} "
              f"({v.auto_correct}/{v.auto_sent}), recall {share(v.auto_recall)} of {v.auto_expected} answerable; "
              f"opt-out recall {share(v.opt_out_recall)}, false opt-outs {v.opt_out_false_positives}")
    s = report.status
    out.rule("status")
    out.print(
        f"events pending {s.events.get('pending', 0)}, drafts in review {s.drafts_in_review} "
        f"({s.drafts_ready} ready), jobs scheduled {s.jobs.get('scheduled', 0)}, "
        f"opted-out contacts {s.opted_out_contacts}, rejected records {s.rejects}"
    )
    out.print(f"try: autopilot --config {safe(report.config)} explain {report.decisions[0].decision.event_id}"
              if report.decisions else "")
    out.print(f"try: autopilot --config {safe(report.config)} status")
    out.print(f"try: autopilot --config {safe(report.config)} review")


def demo(
    directory: Path | None = typer.Option(
        None, "--dir", help="Folder for the demo's files. Default: a new temporary folder."
    ),
    as_json: bool = json_option(),
) -> None:
    """Run the pipeline end to end on shipped sample payloads, offline.

    Creates a config, knowledge file and database in a scratch folder,
    ingests WhatsApp, Instagram, email, LinkedIn and JSONL samples, and
    shows what happened. Nothing is sent anywhere.

    Example: autopilot demo --dir /tmp/autopilot-demo
    """
    from ...ops import run_demo

    target = directory or Path(tempfile.mkdtemp(prefix="autopilot-demo-"))
    report = run_demo(target)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        _render(report)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
