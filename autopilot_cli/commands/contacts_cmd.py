"""``autopilot contacts set`` and ``autopilot contacts show``: a contact's sending preferences."""

from __future__ import annotations

import getpass
from typing import Callable, List, Optional

import typer
from rich.table import Table

from ..contact_prefs import FIELDS, ContactPrefs, PrefsUpdate, get_prefs, update_prefs
from ..events import CHANNELS
from ..render import console, print_json, safe
from ..schedule_rules import parse_days, parse_dnd_until, parse_hours
from ..timezones import load_zone
from ._shared import json_option, runtime

CONTACT_HELP = "An address (+4915123456789, ana@example.org, an Instagram id), channel:address, or #ID."


def _checked(parse: Callable[[str], object]) -> Callable[[Optional[str]], Optional[str]]:
    """A typer callback: a bad value is a usage error (exit 2) with the parser's one-line message."""

    def callback(value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        try:
            parse(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        return value

    return callback


def _channel(value: str) -> None:
    if value not in CHANNELS:
        raise ValueError(f"unknown channel {value!r}; channels are {', '.join(CHANNELS)}")


def _clear(values: List[str]) -> List[str]:
    names = [v.replace("-", "_") for v in values]
    for name in names:
        if name not in FIELDS:
            raise typer.BadParameter(f"{name!r} is not a preference; one of {', '.join(f.replace('_', '-') for f in FIELDS)}")
    return names


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _render(prefs: ContactPrefs) -> None:
    table = Table(title=f"contact #{prefs.contact_id}", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row("name", safe(prefs.name or ""))
    for a in prefs.addresses:
        table.add_row(f"address ({safe(a.kind)})", safe(a.address))
    table.add_row("time zone", f"{safe(prefs.effective_timezone)} ({safe(prefs.timezone_source)})")
    for key in FIELDS:
        if key != "timezone":
            table.add_row(key.replace("_", " "), safe(getattr(prefs, key) or "-"))
    table.add_row("blocked", "yes" if prefs.blocked else "no")
    console().print(table)


contacts_app = typer.Typer(
    name="contacts",
    help="A contact's time zone, allowed and quiet hours, do-not-disturb, preferred channel, block.\n\n"
    "Example: autopilot contacts set +4915123456789 --timezone Europe/Berlin --quiet-hours 22-08",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@contacts_app.command("set")
def set_prefs(
    ctx: typer.Context,
    contact: str = typer.Argument(..., help=CONTACT_HELP),
    timezone: Optional[str] = typer.Option(None, "--timezone", callback=_checked(load_zone),
                                           help="IANA zone, e.g. Europe/Berlin."),
    quiet_hours: Optional[str] = typer.Option(None, "--quiet-hours", callback=_checked(parse_hours),
                                              help="Never send in these local hours, e.g. 22-08 (crosses midnight)."),
    allowed_hours: Optional[str] = typer.Option(None, "--allowed-hours", callback=_checked(parse_hours),
                                                help="Send only in these local hours, e.g. 09-18 (replaces the channel's)."),
    allowed_days: Optional[str] = typer.Option(None, "--allowed-days", callback=_checked(parse_days),
                                               help="Send only on these local days, e.g. mon-fri or mon,wed,fri."),
    dnd_until: Optional[str] = typer.Option(None, "--dnd-until", callback=_checked(parse_dnd_until),
                                            help="Send nothing before this date (UTC midnight) or ISO time."),
    preferred_channel: Optional[str] = typer.Option(None, "--preferred-channel", callback=_checked(_channel),
                                                    help=f"One of {', '.join(CHANNELS)}."),
    blocked: Optional[bool] = typer.Option(None, "--block/--unblock", help="Never answer this contact / answer again."),
    clear: List[str] = typer.Option([], "--clear", callback=_clear,
                                     help="Remove a preference (repeatable): timezone, quiet-hours, allowed-hours, "
                                          "allowed-days, dnd-until, preferred-channel."),
    as_json: bool = json_option(),
) -> None:
    """Set a contact's sending preferences; the scheduler uses them for every later reply.

    Hours and days are in the contact's time zone. Values are stored in
    canonical form (9-18 becomes 09-18) and the change is written to the
    audit log.

    Example: autopilot contacts set +4915123456789 --timezone Europe/Berlin --quiet-hours 22-08

    Example: autopilot contacts set ana@example.org --allowed-days mon-fri --clear dnd-until
    """
    update = PrefsUpdate(timezone=timezone, quiet_hours=quiet_hours, allowed_hours=allowed_hours,
                         allowed_days=allowed_days, dnd_until=dnd_until, preferred_channel=preferred_channel,
                         blocked=blocked, clear=clear)
    try:
        update.values()
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--clear'") from None
    if not update.values() and blocked is None:
        raise typer.BadParameter("nothing to change: give at least one option")
    rt = runtime(ctx)
    prefs = update_prefs(rt.store(), rt.clock, contact, update, actor=_actor(),
                         default_timezone=rt.config().autopilot.timezone)
    if as_json:
        print_json(prefs.model_dump(mode="json"))
    else:
        _render(prefs)


@contacts_app.command("show")
def show(ctx: typer.Context, contact: str = typer.Argument(..., help=CONTACT_HELP), as_json: bool = json_option()) -> None:
    """Show a contact's addresses, preferences, and the time zone the scheduler uses (and why).

    Example: autopilot contacts show +4915123456789 --json
    """
    rt = runtime(ctx)
    prefs = get_prefs(rt.store(), contact, default_timezone=rt.config().autopilot.timezone)
    if as_json:
        print_json(prefs.model_dump(mode="json"))
    else:
        _render(prefs)


def register(app: typer.Typer) -> None:
    app.add_typer(contacts_app, name="contacts")
