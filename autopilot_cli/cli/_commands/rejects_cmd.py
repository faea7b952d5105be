"""``autopilot rejects``: list the records ingest could not take, and clear them once dealt with."""

from __future__ import annotations

import typer

from ...db.rejects import RejectList, bounded, clear_rejects, list_rejects
from ...errors import NotFound
from .._render import console, print_json, safe
from ._shared import actor, json_option, runtime

RAW_PREVIEW_CHARS = 80


def _render(listing: RejectList) -> None:
    out = console()
    if not listing.total:
        out.print("no rejected records")
        return
    # One block per reject, not a table: reasons and file names are long and a table
    # folds them into narrow columns.
    for row in listing.rejects:
        where = ", ".join(part for part in (
            row.source,
            None if row.line is None else f"line {row.line}",
            row.location,
        ) if part) or "standard input"
        out.print(f"#{row.id}  {row.at}  {safe(row.format)}  {safe(where)}", soft_wrap=True)
        out.print(f"    {safe(row.reason)}", soft_wrap=True)
        if row.raw is not None:
            out.print(f"    raw: {safe(bounded(' '.join(row.raw.split()), RAW_PREVIEW_CHARS))}")
    shown = len(listing.rejects)
    if shown < listing.total:
        out.print(f"{shown} of {listing.total} shown (--limit 0 or --json --limit 0 for all)")
    out.print(safe("`autopilot rejects clear [ID...]` deletes them once dealt with"))


rejects_app = typer.Typer(no_args_is_help=False, invoke_without_command=True)


@rejects_app.callback(invoke_without_command=True)
def rejects(
    ctx: typer.Context,
    limit: int = typer.Option(
        100, "--limit", min=0, metavar="N", help="Show at most N, oldest first; 0 shows all."
    ),
    as_json: bool = json_option(),
) -> None:
    """List the records ingest rejected (status counts them): where, why, and the raw text.

    Example: autopilot rejects --json
    """
    if ctx.invoked_subcommand is not None:
        return
    listing = list_rejects(runtime(ctx).store(), None if limit == 0 else limit)
    if as_json:
        print_json(listing.model_dump(mode="json"))
    else:
        _render(listing)


@rejects_app.command("clear")
def clear(
    ctx: typer.Context,
    ids: list[int] | None = typer.Argument(None, metavar="[ID]...", help="Rejects to delete; none: all of them."),
    as_json: bool = json_option(),
) -> None:
    """Delete rejected records once dealt with (all of them, or the ids given); audited.

    Example: autopilot rejects clear 3 4
    """
    rt = runtime(ctx)
    cleared = clear_rejects(rt.store(), rt.clock, actor(), ids or None)
    missing = sorted(set(ids or ()) - set(cleared))
    if as_json:
        print_json({"cleared": cleared, "not_found": missing})
    else:
        console().print(f"cleared {len(cleared)} rejected record{'' if len(cleared) == 1 else 's'}")
    if missing:
        raise NotFound(f"no reject with id {', '.join(map(str, missing))}")


def register(app: typer.Typer) -> None:
    app.add_typer(rejects_app, name="rejects")
