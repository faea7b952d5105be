"""``autopilot ab …`` (experiments), ``autopilot ab-report`` and ``autopilot convert``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ...channels.policy import CHANNELS
from ...clock import parse_timestamp
from .._render import console, print_json, safe
from ._shared import actor, json_option, runtime

if TYPE_CHECKING:  # the experiments code is imported when a command runs, not for every command's start
    from ...experiments import ABReport, ConversionResult, ExperimentInfo

CHART_WIDTH = 40



def _channels(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [c.strip() for c in value.split(",") if c.strip()]
    unknown = [c for c in names if c not in CHANNELS]
    if unknown or not names:
        bad = unknown[0] if unknown else value
        raise typer.BadParameter(f"unknown channel {bad!r}; channels are {', '.join(CHANNELS)}")
    return names


def _fmt_pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _fmt_p(x: float | None) -> str:
    if x is None:
        return "-"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def _fmt_prob(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _fmt_lift(x: float | None) -> str:
    return "-" if x is None else f"{x:+.0%}"


def _bar(rate: float | None, low: float | None, high: float | None, top: float, width: int = CHART_WIDTH) -> str:
    """``████├███──┤`` : the bar is the rate, ├…┤ its 95% interval, on a 0..top axis."""
    if rate is None or low is None or high is None or top <= 0:
        return " " * width

    def at(x: float) -> int:
        return min(width - 1, max(0, round(x / top * (width - 1))))

    cells = [" "] * width
    for i in range(at(rate) + 1):
        cells[i] = "█"
    for i in range(at(low), at(high) + 1):
        if cells[i] == " ":
            cells[i] = "─"
    cells[at(low)] = "├"
    cells[at(high)] = "┤"
    return "".join(cells)


def _axis_top(report: ABReport) -> float:
    highs = [v.ci_high for v in report.variants if v.ci_high is not None]
    if not highs:
        return 1.0
    top = max(highs)
    for step in (0.05, 0.1, 0.2, 0.25, 0.5, 1.0):
        if top <= step:
            return step
    return 1.0


def render_report(report: ABReport, out: Console) -> None:
    """The report for people: counts, statistics, a chart of rates and intervals (fits 80 columns)."""
    title = f"experiment {safe(report.experiment)} ({report.state}) · metric: {report.metric}"
    counts = Table(title=title, show_header=True, header_style="bold")
    counts.add_column("variant")
    for name in ("sent", "opened", "replied", "converted", "opted out", "in window"):
        counts.add_column(name, justify="right")
    for v in report.variants:
        opened = "n/a" if v.opened is None else str(v.opened)
        counts.add_row(safe(v.name), str(v.sent), opened, str(v.replied), str(v.converted), str(v.opted_out),
                       str(v.in_window))
    out.print(counts)
    stats = Table(show_header=True, header_style="bold")
    stats.add_column("variant")
    stats.add_column("rate", justify="right")
    stats.add_column("95% CI", justify="right")
    stats.add_column("p vs ctrl", justify="right")
    stats.add_column("lift", justify="right")
    stats.add_column("P(beat)", justify="right")
    stats.add_column("P(best)", justify="right")
    for v in report.variants:
        ci = "n/a" if v.ci_low is None else f"{v.ci_low:.1%}–{v.ci_high:.1%}"
        stats.add_row(safe(v.name), _fmt_pct(v.rate), ci, _fmt_p(v.p_value_vs_control), _fmt_lift(v.lift_vs_control),
                      _fmt_prob(v.prob_beat_control), _fmt_prob(v.prob_best))
    out.print(stats)
    top = _axis_top(report)
    width = max(len(v.name) for v in report.variants)
    width = min(max(width, 7), 16)
    for v in report.variants:
        line = Text(f"{v.name[:width]:<{width}} ")  # Text: a variant name is never read as markup
        line.append(_bar(v.rate, v.ci_low, v.ci_high, top))
        line.append(f" {_fmt_pct(v.rate):>6}")
        out.print(line)
    axis = f"{'':<{width}} 0%{'':{CHART_WIDTH - 2 - len(f'{top:.0%}')}}{top:.0%}"
    out.print(Text(axis))
    out.print(Text(f"█ {report.metric} rate   ├─┤ 95% Wilson interval"))
    colour = "green" if report.status == "winner" else "yellow"
    out.print(Text(report.verdict, style=colour))
    for warning in report.guardrail_warnings:
        out.print(Text("guardrail: " + warning, style="bold red"))
    if report.promoted_variant:
        out.print(Text(f"promoted: new contacts get {report.promoted_variant} (undo: autopilot ab resume "
                       f"{report.experiment})"))


def _show(info: ExperimentInfo, as_json: bool) -> None:
    if as_json:
        print_json(info.model_dump(mode="json"))
    else:
        _render_info([info])


def _render_info(items: list[ExperimentInfo]) -> None:
    out = console()
    if not items:
        out.print("no experiments (add [[experiments]] to the config, or 'autopilot ab create')")
        return
    table = Table(title="experiments", show_header=True, header_style="bold")
    for name in ("name", "state", "metric", "channels", "variants (weight, contacts)"):
        table.add_column(name, overflow="fold")
    for e in items:
        variants = ", ".join(f"{safe(v.name)} ({v.weight:g}, {v.assigned})" for v in e.variants)
        state = e.state + (f" → {safe(e.winner)}" if e.winner else "") + (" · auto-promote" if e.auto_promote else "")
        metric = e.metric + (" · bandit" if e.allocation == "bandit" else "")
        table.add_row(safe(e.name), state, metric, ", ".join(e.channels), variants)
    out.print(table)


ab_app = typer.Typer(
    name="ab",
    help="A/B experiments of reply templates: create, list, stop, resume. See also 'autopilot ab-report'.\n\n"
    'Example: autopilot ab create greeting --variant control:50:"Hi {greeting_name},\\n\\n{answer}\\n\\n{signature}" '
    '--variant warm:50:"Hello {greeting_name}! {answer}\\n\\nHave a lovely day,\\n{signature}"',
    no_args_is_help=True,
    rich_markup_mode=None,
)


@ab_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Experiment name (letters, digits, _ - .)."),
    variant: list[str] = typer.Option(..., "--variant",
                                      help="NAME:WEIGHT:TEMPLATE, repeated; the first is the control. "
                                      "Placeholders {greeting_name}, {answer}, {signature}; \\n is a new line."),
    channels: str | None = typer.Option(None, "--channels", help="Comma-separated channels (default: all)."),
    metric: str = typer.Option("replied", "--metric", help="replied, opened (WhatsApp/Instagram reads) or converted."),
    allocation: str = typer.Option("fixed", "--allocation", help="fixed (weights) or bandit (Thompson sampling)."),
    auto_promote: bool = typer.Option(False, "--auto-promote",
                                      help="Give new contacts the winner once one is declared."),
    as_json: bool = json_option(),
) -> None:
    """Start an experiment: contacts are split by weight and keep their variant.

    Example: autopilot ab create greeting --variant control:50:"Hi {greeting_name}, {answer} {signature}"
    --variant warm:50:"Hello {greeting_name}! {answer} Have a lovely day, {signature}" --channels whatsapp,email
    """
    from ...experiments import ALLOCATIONS, METRICS, create_experiment, parse_variant_spec

    try:
        specs = [parse_variant_spec(v) for v in variant]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--variant'") from None
    if metric not in METRICS:
        raise typer.BadParameter(f"{metric!r} is not one of {', '.join(METRICS)}", param_hint="'--metric'")
    if allocation not in ALLOCATIONS:
        raise typer.BadParameter(f"{allocation!r} is not one of {', '.join(ALLOCATIONS)}", param_hint="'--allocation'")
    rt = runtime(ctx)
    info = create_experiment(rt.store(), rt.clock, name, specs, channels=_channels(channels), metric=metric,
                             allocation=allocation, auto_promote=auto_promote, actor=actor())
    _show(info, as_json)


@ab_app.command("list")
def list_cmd(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Experiments with their state, variants, weights and how many contacts each variant holds.

    Example: autopilot ab list --json
    """
    from ...experiments import list_experiments

    items = list_experiments(runtime(ctx).store())
    if as_json:
        print_json({"experiments": [i.model_dump(mode="json") for i in items]})
    else:
        _render_info(items)


@ab_app.command("stop")
def stop(ctx: typer.Context, name: str = typer.Argument(..., help="Experiment name."),
         as_json: bool = json_option()) -> None:
    """Stop assigning variants: new replies use the default template. Data and reports stay.

    Example: autopilot ab stop greeting
    """
    from ...experiments import stop_experiment

    rt = runtime(ctx)
    info = stop_experiment(rt.store(), rt.clock, name, actor=actor())
    _show(info, as_json)


@ab_app.command("resume")
def resume(ctx: typer.Context, name: str = typer.Argument(..., help="Experiment name."),
           as_json: bool = json_option()) -> None:
    """Resume a stopped experiment, or undo an auto-promotion (and hold further auto-promotion).

    Example: autopilot ab resume greeting
    """
    from ...experiments import resume_experiment

    rt = runtime(ctx)
    info = resume_experiment(rt.store(), rt.clock, name, actor=actor())
    _show(info, as_json)


def ab_report(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Experiment name (default: every experiment)."),
    as_json: bool = json_option(),
) -> None:
    """Per variant: counts, rate with 95% interval, p-value, lift, P(beat control), P(best), verdict.

    A winner is declared only when every variant has [ab] min_sample_per_variant
    sends and the difference is significant; otherwise "not enough data" with
    about how many more sends each variant needs. With NAME, --json prints one
    report object; without, {"experiments": [...]}.

    Example: autopilot ab-report greeting --json
    """
    from ...experiments import all_reports, experiment_report

    rt = runtime(ctx)
    store, config = rt.store(), rt.config()
    reports = [experiment_report(store, config, rt.clock, name)] if name else all_reports(store, config, rt.clock)
    if as_json:
        print_json(reports[0].model_dump(mode="json") if name else
                   {"experiments": [r.model_dump(mode="json") for r in reports]})
        return
    out = console()
    if not reports:
        out.print("no experiments (add [[experiments]] to the config, or 'autopilot ab create')")
    for i, report in enumerate(reports):
        if i:
            out.print()
        render_report(report, out)


def convert(
    ctx: typer.Context,
    contact: str = typer.Argument(...,
                                  help="An address (+4915123456789, ana@example.org), channel:address, or #ID."),
    value: float | None = typer.Option(None, "--value",
                                       help="What the conversion was worth (summed in ab-report)."),
    at: str | None = typer.Option(None, "--at", help="When it happened (ISO-8601 or Unix seconds; default now)."),
    external_id: str | None = typer.Option(None, "--id", help="Your id for it (order number): recorded once."),
    as_json: bool = json_option(),
) -> None:
    """Record a conversion; A/B reports credit it to the contact's last send within the attribution window.

    Example: autopilot convert +4915123456789 --value 49.90 --id order-1182
    """
    from ...experiments import record_conversion

    when: datetime | None = None
    if at is not None:
        try:
            when = parse_timestamp(at)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--at'") from None
    rt = runtime(ctx)
    result: ConversionResult = record_conversion(rt.store(), rt.clock, contact, value=value, at=when,
                                                 external_id=external_id, actor=actor())
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        what = "already recorded" if result.duplicate else "recorded"
        worth = f", value {result.value:g}" if result.value is not None else ""
        console().print(Text(f"conversion #{result.id} {what}: contact #{result.contact_id} at {result.at}{worth}"))


def register(app: typer.Typer) -> None:
    app.add_typer(ab_app, name="ab")
    app.command("ab-report")(ab_report)
    app.command("convert")(convert)
