"""``autopilot contacts list``, ``contacts opt-out`` and ``contacts opt-in``: consent, by an operator.

An operator records what a contact asked for outside a message (on the phone,
by letter): each change is one ``BEGIN IMMEDIATE`` transaction with a
``consent_changes`` row (source ``operator``, rule ``operator:<who>``, the
reason as its detail) and an ``audit_log`` row, like the review screen's ``o``.

Opting out goes through ``consent.opt_out_and_cancel``, the function the
review screen uses: the contact's jobs not yet sent and drafts in review on
that scope are cancelled in the same transaction, and no confirmation message
is sent (the request did not come by message). Without ``--channel`` the scope
is every channel (``all``); with it, that channel only.

Opting in records ``opt_in`` on each scope the contact is opted out of (every
message, category ``all``) — or only on the named channel, in which case an
opt-out on all channels stays and the result says so. A WhatsApp marketing stop
(category ``marketing``) is the platform's setting and is left alone. Nothing
that was cancelled comes back: new messages are answered again.
"""

from __future__ import annotations

import sqlite3

from pydantic import BaseModel

from ..channels.policy import CHANNELS
from ..clock import Clock, to_iso
from ..db import audit, consent as consent_rows, contacts as contact_rows
from ..db.connection import Store
from ..errors import AutopilotError
from ._consent import opt_out_and_cancel, record_change
from ._preferences import ConsentEntry, ContactAddress, consent_entries, find_contact_id, opted_out_since

LIST_KEYS = ("contact_id", "name", "addresses", "opted_out", "opted_out_since", "consent", "blocked",
             "last_message_at")
"""The keys of each entry of ``contacts list --json`` (stable)."""


class ContactSummary(BaseModel):
    contact_id: int
    name: str | None
    addresses: list[ContactAddress]
    opted_out: bool
    opted_out_since: str | None
    consent: list[ConsentEntry]
    blocked: bool
    last_message_at: str | None


class ContactList(BaseModel):
    total: int
    """Contacts matching the filter; ``contacts`` holds the first ``limit`` of them (by id)."""
    contacts: list[ContactSummary]


class ConsentChange(BaseModel):
    contact_id: int
    action: str
    """``opt_out`` or ``opt_in``."""
    scopes: list[str]
    """The scopes changed (empty when nothing needed changing)."""
    recorded: bool
    """False when the contact already was in the asked-for state: nothing new recorded."""
    cancelled_jobs: int = 0
    cancelled_drafts: int = 0
    still_opted_out: list[str] = []
    """After an opt-in on one channel: the scopes still opted out (``all`` wins over a channel)."""
    consent: list[ConsentEntry]


def list_contacts(store: Store, *, opted_out: bool | None = None, limit: int | None = None) -> ContactList:
    """Contacts by id, with consent state; ``opted_out`` keeps only those who did (True) or did not (False)."""
    conn = store.conn
    total, rows = contact_rows.listing(conn, opted_out=opted_out, limit=limit)
    contacts = []
    for row in rows:
        addresses = contact_rows.addresses(conn, row["id"])
        consent = consent_entries(conn, row["id"])
        since = opted_out_since(consent)
        contacts.append(ContactSummary(
            contact_id=row["id"], name=row["name"],
            addresses=[ContactAddress(kind=a["kind"], address=a["address"]) for a in addresses],
            opted_out=since is not None, opted_out_since=since, consent=consent, blocked=bool(row["blocked"]),
            last_message_at=row["last"]))
    return ContactList(total=total, contacts=contacts)


def _check_channel(channel: str | None) -> None:
    if channel is not None and channel not in CHANNELS:
        raise AutopilotError(f"unknown channel {channel!r}; channels are {', '.join(CHANNELS)}")


def _audit(conn: sqlite3.Connection, at: str, actor: str, action: str, contact_id: int, detail: dict) -> None:
    audit.record(conn, at=at, actor=actor, action=action, object_type="contact", object_id=contact_id, detail=detail)


def opt_out(store: Store, clock: Clock, actor: str, contact: str, reason: str,
            channel: str | None = None) -> ConsentChange:
    """Record that the contact opted out (all channels, or ``channel``) and cancel what was pending for them."""
    _check_channel(channel)
    scope = channel or "all"
    stamp = to_iso(clock.now())
    with store.transaction() as conn:
        contact_id = find_contact_id(conn, contact)
        recorded, jobs, drafts = opt_out_and_cancel(
            conn, contact_id=contact_id, scope=scope, source="operator", rule=f"operator:{actor}", at=stamp,
            detail=reason, job_error="contact opted out (operator)")
        _audit(conn, stamp, actor, "opt_out", contact_id, {
            "scope": scope, "recorded": recorded, "cancelled_jobs": jobs, "cancelled_drafts": drafts,
            "reason": reason, "via": "contacts opt-out"})
        return ConsentChange(contact_id=contact_id, action="opt_out", scopes=[scope] if recorded else [],
                             recorded=recorded, cancelled_jobs=jobs, cancelled_drafts=drafts,
                             consent=consent_entries(conn, contact_id))


def opt_in(store: Store, clock: Clock, actor: str, contact: str, reason: str,
           channel: str | None = None) -> ConsentChange:
    """Record that the contact opted back in (every scope they are opted out of, or only ``channel``)."""
    _check_channel(channel)
    stamp = to_iso(clock.now())
    with store.transaction() as conn:
        contact_id = find_contact_id(conn, contact)
        out = consent_rows.opted_out_scopes(conn, contact_id)
        scopes = [s for s in out if channel is None or s == channel]
        for scope in scopes:
            record_change(conn, contact_id=contact_id, action="opt_in", scope=scope, category="all",
                          source="operator", rule=f"operator:{actor}", at=stamp, detail=reason)
        still = [s for s in out if s not in scopes and s in ("all", channel)]
        _audit(conn, stamp, actor, "opt_in", contact_id, {
            "scopes": scopes, "recorded": bool(scopes), "still_opted_out": still, "reason": reason,
            "via": "contacts opt-in"})
        return ConsentChange(contact_id=contact_id, action="opt_in", scopes=scopes, recorded=bool(scopes),
                             still_opted_out=still, consent=consent_entries(conn, contact_id))
