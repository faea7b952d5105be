"""``autopilot init``."""

from __future__ import annotations

from pathlib import Path

import typer

from ...ops import init_directory
from .._render import console, print_json, safe_line
from ._shared import json_option, runtime


def init(
    ctx: typer.Context,
    directory: Path | None = typer.Argument(
        None, help="Folder to set up. Default: $AUTOPILOT_HOME (~/.autopilot)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite an existing config and knowledge file (an edited one is kept as .bak)."
    ),
    as_json: bool = json_option(),
) -> None:
    """Write a starter config and knowledge file and create the database.

    Existing files are kept unless --force, which overwrites them and keeps
    a copy of any you edited as NAME.bak. Every channel starts as an outbox
    (replies are recorded, not sent) and the mode is one_click.

    Example: autopilot init ./shop && autopilot --config ./shop/autopilot.toml status
    """
    rt = runtime(ctx)
    # --db or AUTOPILOT_DATABASE_URL win over the config; without them, the config written (or kept) names it.
    chosen = rt.db_path is not None or bool(rt.environ.get("AUTOPILOT_DATABASE_URL"))
    report = init_directory(directory or rt.home, rt.clock, force=force,
                            database=rt.resolved_db_path() if chosen else None)
    if as_json:
        print_json(report.model_dump())
        return
    out = console()
    for path in report.created:
        out.print(f"created    {safe_line(path)}")
    for path in report.overwritten:
        out.print(f"overwrote  {safe_line(path)}")
    for path in report.backups:
        out.print(f"backed up  your edited version to {safe_line(path)}")
    for path in report.kept:
        out.print(f"kept       {safe_line(path)}")
    out.print(f"next: autopilot --config {safe_line(report.config)} status")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
