"""``autopilot eval``: how AUTO would judge labelled cases, before it is switched on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ...errors import EXIT_BELOW_TARGET
from .._render import console, print_json, safe, safe_line
from ._shared import json_option, runtime

if TYPE_CHECKING:
    from ...evaluation import EvalReport

SHOWN = 30


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _render(report: EvalReport) -> None:
    from ...evaluation import LABELS

    out = console()
    out.print(f"{report.cases} cases, judged as AUTO at threshold {report.threshold}: {report.correct} as expected")
    out.print(f"auto-send precision {_figure(report.auto_precision)} ({report.auto_correct}/{report.auto_sent} "
              f"sent on their own were right), recall {_figure(report.auto_recall)} "
              f"(of {report.auto_expected} expected auto)")
    out.print(f"opt-out recall {_figure(report.opt_out_recall)} (of {report.opt_out_expected}), false positives "
              f"{report.opt_out_false_positives} ({_figure(report.opt_out_false_positive_rate)})")
    matrix = Table(title="expected (rows) × decided (columns)", show_header=True, header_style="bold")
    predicted = list(next(iter(report.confusion.values())))
    matrix.add_column("")
    for label in predicted:
        matrix.add_column(label, justify="right")
    for label in LABELS:
        matrix.add_row(label, *(str(report.confusion[label][p]) for p in predicted))
    out.print(matrix)
    if report.per_tag:
        tags = Table(title="per tag", show_header=True, header_style="bold")
        for column in ("tag", "cases", "as expected"):
            tags.add_column(column, justify="left" if column == "tag" else "right")
        for tag, figures in report.per_tag.items():
            tags.add_row(safe_line(tag), str(figures.cases), str(figures.correct))
        out.print(tags)
    if report.uncovered_words:
        words = ", ".join(f"{safe_line(w)} ({n})" for w, n in report.uncovered_words.items())
        out.print(f"words the knowledge file does not cover in answerable cases sent to review (add them as tags "
                  f"where they mean the same thing): {words}")
    if report.misjudged:
        wrong = Table(title="misjudged", show_header=True, header_style="bold")
        for column in ("line", "expected", "decided", "conf.", "reasons", "text"):
            wrong.add_column(column, overflow="fold")
        for m in report.misjudged[:SHOWN]:
            decided = m.predicted + (" (wrong answer)" if m.wrong_answer else "")
            wrong.add_row(str(m.line), m.expected, decided, "" if m.confidence is None else f"{m.confidence:.2f}",
                          safe_line(", ".join(m.reasons)), safe(m.text, 200, 3))
        out.print(wrong)
        if len(report.misjudged) > SHOWN:
            out.print(f"showing {SHOWN} of {len(report.misjudged)} misjudged cases; --json lists them all")


def eval_cmd(
    ctx: typer.Context,
    cases: Path = typer.Argument(..., help="A JSONL file of labelled cases (README: \"Measuring judgement\")."),
    min_precision: float = typer.Option(None, "--min-precision", min=0.0, max=1.0,
                                        help="Exit 8 when auto-send precision is below this (0..1)."),
    min_optout_recall: float = typer.Option(None, "--min-optout-recall", min=0.0, max=1.0,
                                            help="Exit 8 when opt-out recall is below this (0..1)."),
    as_json: bool = json_option(),
) -> None:
    """Run the real pipeline on labelled cases as AUTO would, in memory, and report how it judged them.

    Each line: {"text", "channel"?, "expected": auto|review|opt_out|opt_in|help, "tags"?, "entry"?}.
    Uses the current config and knowledge file (and the review history in the database, if there is
    one); writes nothing. Prints a confusion matrix, auto-send precision and recall, opt-out recall
    and false positives, a per-tag breakdown and the misjudged cases.

    Example: autopilot eval cases.jsonl --min-precision 1.0 --min-optout-recall 1.0
    """
    from ...drafting import build_services
    from ...evaluation import evaluate_cases, load_cases

    rt = runtime(ctx)
    config = rt.config()
    labelled = load_cases(cases)
    services, protected = build_services(config, rt.secrets())
    target = rt.resolved_db_path()
    # The review history calibrates confidence: the shop's database when there is one (read, never written).
    store = rt.store() if isinstance(target, str) or target.exists() else None
    report = evaluate_cases(store, config, rt.clock, services, labelled, protected_fragments=protected)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        _render(report)
    below = []
    if min_precision is not None and report.auto_precision is not None and report.auto_precision < min_precision:
        below.append(f"auto-send precision {report.auto_precision:.1%} < {min_precision:.1%}")
    if (min_optout_recall is not None and report.opt_out_recall is not None
            and report.opt_out_recall < min_optout_recall):
        below.append(f"opt-out recall {report.opt_out_recall:.1%} < {min_optout_recall:.1%}")
    if below:
        typer.echo("error: below target: " + "; ".join(below), err=True)
        raise typer.Exit(EXIT_BELOW_TARGET)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
