"""``autopilot db copy``: move a shop's database, e.g. from its SQLite file to PostgreSQL."""

from __future__ import annotations

import typer

from ...ops import copy_shop
from .._render import console, print_json, safe_line
from ._shared import json_option, runtime

db_app = typer.Typer(
    help="The database itself: move a shop to another one (db copy).\n\n"
    "Example: autopilot db copy --from sqlite:///shop/autopilot.db --to postgresql://autopilot@db.example.com/shop",
    no_args_is_help=True)


@db_app.command("copy")
def copy(
    ctx: typer.Context,
    source: str = typer.Option(..., "--from", help="The database to copy: a file path, sqlite:///path or "
                                                   "postgresql://…; it must exist."),
    target: str = typer.Option(..., "--to", help="An empty database: postgresql://… (it must exist), or a new "
                                                 "SQLite file."),
    as_json: bool = json_option(),
) -> None:
    """Copy every table, ids included, into an empty database; the counts of every table are compared before
    the copy commits, so it is whole or absent. Refused when the target holds rows.

    Example: autopilot db copy --from sqlite:///shop/autopilot.db --to postgresql://autopilot@db.example.com/shop
    """
    rt = runtime(ctx)
    report = copy_shop(source, target, rt.clock, busy_timeout_ms=rt.config().database.busy_timeout_ms)
    if as_json:
        print_json(report.model_dump())
        return
    out = console()
    for table, rows in report.tables.items():
        if rows:
            out.print(f"{rows:>9,}  {safe_line(table)}")
    out.print(f"copied {report.rows:,} rows from {safe_line(report.source)} to {safe_line(report.target)}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
