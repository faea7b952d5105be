"""``autopilot channels``: adapters, capabilities and configuration health."""

from __future__ import annotations

import typer
from rich.table import Table

from .._render import console, print_json, safe
from ._shared import actor, json_option, runtime

channels_app = typer.Typer(no_args_is_help=False, invoke_without_command=True)


@channels_app.callback(invoke_without_command=True)
def channels(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """List each channel's adapter, capabilities and configuration health; resume a paused one.

    Example: autopilot channels --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from ...ops import channel_overview

    rt = runtime(ctx)
    rows = channel_overview(rt.store(), rt.config(), rt.secrets(), rt.clock)
    if as_json:
        print_json(rows)
        return
    table = Table(show_header=True, header_style="bold")
    for column in ("channel", "adapter", "mode", "limit", "health", "paused"):
        table.add_column(column, overflow="fold")
    for row in rows:
        caps = row["capabilities"] or {}
        health = row["health"]
        creds = health.get("credentials") or {}
        missing = [f"{k}={v.get('name', k)}" for k, v in creds.items()
                   if isinstance(v, dict) and not v.get("present")]
        state = "ok" if health.get("ready", not missing) and not missing else "missing " + ", ".join(missing)
        table.add_row(row["channel"], safe(row["adapter"] or "-"), row["mode"],
                      f"{caps.get('text_limit', '')} {caps.get('text_limit_unit', '')}", safe(state),
                      safe(row["paused"] or ""))
    console().print(table)


@channels_app.command("resume")
def resume(ctx: typer.Context, channel: str = typer.Argument(..., help="The paused channel.")) -> None:
    """Resume a channel paused after a fatal provider error (e.g. an expired token), once fixed.

    Example: autopilot channels resume whatsapp
    """

    from ...channels.policy import CHANNELS
    from ...review import resume_channel

    if channel not in CHANNELS:
        raise typer.BadParameter(f"unknown channel {channel!r}; channels are {', '.join(CHANNELS)}")
    rt = runtime(ctx)
    if resume_channel(rt.store(), rt.clock, actor(), channel):
        console().print(f"{safe(channel)} resumed")
    else:
        console().print(f"{safe(channel)} was not paused")


def register(app: typer.Typer) -> None:
    app.add_typer(channels_app, name="channels")
