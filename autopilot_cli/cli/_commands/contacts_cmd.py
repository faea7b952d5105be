"""``autopilot contacts``: a contact's sending preferences (``set``, ``show``), consent state (``show``,
``list``) and an operator's opt-out / opt-in (``opt-out``, ``opt-in``)."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.table import Table

from ...channels.policy import CHANNELS
from ...contacts import FIELDS, ConsentEntry, ContactPrefs, PrefsUpdate, get_prefs, update_prefs
from ...scheduling.rules import parse_days, parse_dnd_until, parse_hours
from ...scheduling.timezones import load_zone
from .._render import console, json_errors, print_json, safe_line
from ._shared import actor, json_option, runtime

CONTACT_HELP = "An address (+4915123456789, ana@example.org, an Instagram id), channel:address, or #ID."


def _checked(parse: Callable[[str], object]) -> Callable[[str | None], str | None]:
    """A typer callback: a bad value is a usage error (exit 2) with the parser's one-line message."""

    def callback(value: str | None) -> str | None:
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


def _clear(values: list[str]) -> list[str]:
    names = [v.replace("-", "_") for v in values]
    for name in names:
        if name not in FIELDS:
            known = ", ".join(f.replace("_", "-") for f in FIELDS)
            raise typer.BadParameter(f"{name!r} is not a preference; one of {known}")
    return names



def _when(stamp: str) -> str:
    return stamp[:16].replace("T", " ") + " UTC"


def consent_text(entry: ConsentEntry) -> str:
    """One consent entry in words, for people: the state, since when, and why (escaped)."""
    state = "opted out" if entry.state == "opted_out" else "opted in"
    detail = entry.reason and (f"reason: {safe_line(entry.reason, 300)}" if entry.source == "operator"
                               else safe_line(entry.reason, 300))
    why = ", ".join(part for part in (
        safe_line(entry.rule or entry.source or "", 200),
        detail,
        entry.event_id is not None and f"message event {entry.event_id}",
    ) if part)
    return f"{state} since {_when(entry.since)}" + (f" — {why}" if why else "")


def _consent_rows(entries: list[ConsentEntry]) -> list[tuple[str, str]]:
    if not entries:
        return [("consent", "not opted out (no choice recorded)")]
    rows = []
    for entry in entries:
        scope = "all channels" if entry.scope == "all" else safe_line(entry.scope)
        category = "" if entry.category == "all" else f", {safe_line(entry.category)} only"
        rows.append((f"consent ({scope}{category})", consent_text(entry)))
    return rows


def _rows(prefs: ContactPrefs) -> list[tuple[str, str]]:
    """The rows of ``contacts show``, in order: (label, escaped value). Add a field here to show it."""
    rows = [("name", safe_line(prefs.name or "", 200))]
    rows += [(f"address ({safe_line(a.kind)})", safe_line(a.address, 200)) for a in prefs.addresses]
    rows.append(("time zone", f"{safe_line(prefs.effective_timezone)} ({safe_line(prefs.timezone_source)})"))
    rows += [(key.replace("_", " "), safe_line(getattr(prefs, key) or "-")) for key in FIELDS if key != "timezone"]
    if prefs.away_until:
        rows.append(("away until", f"{safe_line(prefs.away_until[:10])} (their out-of-office reply; replies wait)"))
    rows.append(("blocked", "yes" if prefs.blocked else "no"))
    rows.append(("opted out", f"yes, since {_when(prefs.opted_out_since)}" if prefs.opted_out_since else "no"))
    rows += _consent_rows(prefs.consent)
    return rows


def _render(prefs: ContactPrefs) -> None:
    table = Table(title=f"contact #{prefs.contact_id}", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for label, value in _rows(prefs):
        table.add_row(label, value)
    console().print(table)


contacts_app = typer.Typer(
    name="contacts",
    help="A contact's time zone, allowed and quiet hours, do-not-disturb, preferred channel, block; "
    "consent: list, opt-out, opt-in.\n\n"
    "Example: autopilot contacts set +4915123456789 --timezone Europe/Berlin --quiet-hours 22-08",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@contacts_app.command("set")
def set_prefs(
    ctx: typer.Context,
    contact: str = typer.Argument(..., help=CONTACT_HELP),
    timezone: str | None = typer.Option(None, "--timezone", callback=_checked(load_zone),
                                           help="IANA zone, e.g. Europe/Berlin."),
    quiet_hours: str | None = typer.Option(None, "--quiet-hours", callback=_checked(parse_hours),
                                              help="Never send in these local hours, e.g. 22-08 (crosses midnight)."),
    allowed_hours: str | None = typer.Option(None, "--allowed-hours", callback=_checked(parse_hours),
                                                help="Send only in these local hours, e.g. 09-18 "
                                                "(replaces the channel's)."),
    allowed_days: str | None = typer.Option(None, "--allowed-days", callback=_checked(parse_days),
                                               help="Send only on these local days, e.g. mon-fri or mon,wed,fri."),
    dnd_until: str | None = typer.Option(None, "--dnd-until", callback=_checked(parse_dnd_until),
                                            help="Send nothing before this date (UTC midnight) or ISO time."),
    preferred_channel: str | None = typer.Option(None, "--preferred-channel", callback=_checked(_channel),
                                                    help=f"One of {', '.join(CHANNELS)}."),
    blocked: bool | None = typer.Option(None, "--block/--unblock", help="Never answer this contact / answer again."),
    clear: list[str] = typer.Option([], "--clear", callback=_clear,
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
    with json_errors(as_json):
        prefs = update_prefs(rt.store(), rt.clock, contact, update, actor=actor(),
                             default_timezone=rt.config().autopilot.timezone)
    if as_json:
        print_json(prefs.model_dump(mode="json"))
    else:
        _render(prefs)


@contacts_app.command("show")
def show(ctx: typer.Context, contact: str = typer.Argument(..., help=CONTACT_HELP),
         as_json: bool = json_option()) -> None:
    """Show a contact's addresses, preferences, consent (opted out or not, since when, why), and the time zone
    the scheduler uses (and why).

    Example: autopilot contacts show +4915123456789 --json
    """
    rt = runtime(ctx)
    with json_errors(as_json):
        prefs = get_prefs(rt.store(), contact, default_timezone=rt.config().autopilot.timezone)
    if as_json:
        print_json(prefs.model_dump(mode="json"))
    else:
        _render(prefs)


@contacts_app.command("list")
def list_cmd(
    ctx: typer.Context,
    opted_out: bool | None = typer.Option(None, "--opted-out/--not-opted-out",
                                             help="Only contacts who opted out / who did not."),
    limit: int = typer.Option(200, "--limit", min=0, metavar="N", help="Show at most N contacts (0: all)."),
    as_json: bool = json_option(),
) -> None:
    """List contacts by id, with their addresses and consent state.

    Example: autopilot contacts list --opted-out --json
    """
    from ...contacts import list_contacts

    with json_errors(as_json):
        listing = list_contacts(runtime(ctx).store(), opted_out=opted_out, limit=limit or None)
    if as_json:
        print_json(listing.model_dump(mode="json"))
        return
    out = console()
    if not listing.contacts:
        out.print("no contacts" + ("" if opted_out is None else " match"))
        return
    table = Table(show_header=True, header_style="bold")
    table.add_column("id", no_wrap=True, justify="right")
    table.add_column("name / addresses", overflow="fold")
    table.add_column("consent", overflow="fold")
    table.add_column("last message", no_wrap=True)
    for c in listing.contacts:
        who = "\n".join([safe_line(c.name or "-", 80), *(safe_line(a.address, 120) for a in c.addresses)])
        state = "opted out since " + _when(c.opted_out_since) if c.opted_out_since else "not opted out"
        if c.blocked:
            state += ", blocked"
        table.add_row(f"#{c.contact_id}", who, state, _when(c.last_message_at) if c.last_message_at else "-")
    out.print(table)
    if listing.total > len(listing.contacts):
        out.print(f"showing {len(listing.contacts)} of {listing.total} contacts; --limit 0 shows all")


def _consent_change(ctx: typer.Context, action: str, contact: str, reason: str, channel: str | None,
                    as_json: bool) -> None:
    from ...contacts import opt_in, opt_out

    if not reason.strip():
        raise typer.BadParameter("give a reason: it is kept in the consent trail and the audit log",
                                 param_hint="'--reason'")
    rt = runtime(ctx)
    with json_errors(as_json):
        change = (opt_out if action == "opt_out" else opt_in)(rt.store(), rt.clock, actor(), contact,
                                                              reason.strip(), channel)
    if as_json:
        print_json(change.model_dump(mode="json"))
        return
    out = console()
    where = "on " + safe_line(channel) if channel else "on all channels"
    if action == "opt_out":
        if change.recorded:
            out.print(f"contact #{change.contact_id} opted out {where}: cancelled {change.cancelled_drafts} "
                      f"draft(s) and {change.cancelled_jobs} job(s)")
        else:
            out.print(f"contact #{change.contact_id} was already opted out {where}; nothing new recorded")
    elif change.recorded:
        scopes = ", ".join("all channels" if s == "all" else safe_line(s) for s in change.scopes)
        out.print(f"contact #{change.contact_id} opted in again ({scopes})")
    else:
        out.print(f"contact #{change.contact_id} was not opted out {where}; nothing changed")
    if change.still_opted_out:
        typer.echo(f"warning: contact #{change.contact_id} is still opted out on all channels; "
                   "run contacts opt-in without --channel to end that", err=True)


_REASON = typer.Option(..., "--reason", help="Why (required): kept in the consent trail and the audit log.")
_CHANNEL = typer.Option(None, "--channel", help=f"Only this channel ({', '.join(CHANNELS)}). Default: all channels.",
                        callback=_checked(_channel))


@contacts_app.command("opt-out")
def opt_out_cmd(ctx: typer.Context, contact: str = typer.Argument(..., help=CONTACT_HELP), reason: str = _REASON,
                channel: str | None = _CHANNEL, as_json: bool = json_option()) -> None:
    """Opt a contact out (they asked on the phone, by letter…): nothing more is sent to them.

    Their replies not yet sent and drafts in review are cancelled in the same
    transaction, as for a STOP message; no confirmation is sent. Recorded with
    who, when and the reason, in the consent trail and the audit log.

    Example: autopilot contacts opt-out +4915123456789 --reason "asked on the phone"
    """
    _consent_change(ctx, "opt_out", contact, reason, channel, as_json)


@contacts_app.command("opt-in")
def opt_in_cmd(ctx: typer.Context, contact: str = typer.Argument(..., help=CONTACT_HELP), reason: str = _REASON,
               channel: str | None = _CHANNEL, as_json: bool = json_option()) -> None:
    """Opt a contact back in: their next messages are answered again (nothing cancelled comes back).

    Example: autopilot contacts opt-in ana@example.org --reason "asked to hear from us again, e-mail of 3 Dec"
    """
    _consent_change(ctx, "opt_in", contact, reason, channel, as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(contacts_app, name="contacts")
