"""``autopilot calibration``: confidence learned from review, per intent and drafter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from .._render import console, print_json, safe_line
from ._shared import json_option, runtime

if TYPE_CHECKING:
    from ...calibration import CalibrationReport


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _render(report: CalibrationReport) -> None:
    out = console()
    state = "on" if report.learn_from_review else "off ([autopilot] learn_from_review = false)"
    out.print(f"learning from review: {state}; the drafter's score weighs {report.strength:g} reviews")
    table = Table(title="per intent", show_header=True, header_style="bold")
    for column in ("drafter", "intent", "drafts", "unchanged", "edited", "rejected", "raw", "calibrated"):
        table.add_column(column, justify="left" if column in ("drafter", "intent") else "right")
    for i in report.intents:
        table.add_row(safe_line(i.drafter), safe_line(i.intent), str(i.drafts), str(i.approved_unchanged),
                      str(i.edited), str(i.rejected), _number(i.raw_confidence), _number(i.calibrated_confidence))
    out.print(table)
    bins = Table(title="reliability (drafts a person decided)", show_header=True, header_style="bold")
    for column in ("confidence", "decided", "mean confidence", "approved unchanged"):
        bins.add_column(column, justify="right")
    for b in report.reliability:
        bins.add_row(f"{b.low:.2f}–{b.high:.2f}", str(b.decided), _number(b.mean_confidence),
                     "-" if b.approved_unchanged_share is None else f"{b.approved_unchanged_share:.0%}")
    out.print(bins)
    error = report.expected_calibration_error
    out.print("expected calibration error: " + ("- (no decided drafts yet)" if error is None else f"{error:.3f}"))


def calibration(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Show what reviewers did with each intent's drafts and the confidence it earns or loses.

    Per drafter and intent: drafts, approved unchanged, edited, rejected, the drafter's mean raw
    confidence and what calibration makes of it; then a reliability table (confidence bins against
    the share of decided drafts approved unchanged) with the expected calibration error.

    Example: autopilot calibration --json
    """
    from ...calibration import calibration_report

    rt = runtime(ctx)
    report = calibration_report(rt.store(), rt.config())
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        _render(report)


def register(app: typer.Typer) -> None:
    app.command("calibration")(calibration)
