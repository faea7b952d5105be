"""Conversions: a contact did what we hoped (bought, booked, signed up).

``autopilot convert CONTACT [--value X] [--at TIME] [--id ID]`` records one;
A/B reports credit it to the contact's last send within ``[ab]
attribution_hours`` before it (``ab_metrics``). With ``--id`` (an order
number, a webhook's event id) recording the same conversion twice — a
retried shop webhook, a cron job run twice — stores it once.
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel

from ..clock import Clock, to_iso
from ..contacts import find_contact_id
from ..db import audit, conversions as conversion_rows
from ..db.connection import Store
from ..errors import AutopilotError


class ConversionResult(BaseModel):
    id: int
    contact_id: int
    value: float | None
    at: str
    external_id: str | None
    duplicate: bool
    """True when a conversion with this --id was already recorded (nothing new stored)."""


def record_conversion(
    store: Store, clock: Clock, contact: str, *, value: float | None = None, at: datetime | None = None,
    external_id: str | None = None, source: str = "cli", actor: str = "cli",
) -> ConversionResult:
    if value is not None and (math.isnan(value) or math.isinf(value)):
        raise AutopilotError("--value must be a finite number")
    now = clock.now()
    when = at or now
    if when.tzinfo is None:
        raise AutopilotError("the conversion time needs a time zone (e.g. 2026-11-25T14:00:00Z)")
    if external_id is not None and not external_id.strip():
        raise AutopilotError("--id must not be empty")
    with store.transaction() as conn:
        contact_id = find_contact_id(conn, contact)
        if external_id is not None:
            row = conversion_rows.by_external_id(conn, external_id)
            if row is not None:
                if row["contact_id"] != contact_id:
                    raise AutopilotError(
                        f"conversion {external_id!r} was already recorded for contact #{row['contact_id']}"
                    )
                return ConversionResult(id=row["id"], contact_id=contact_id, value=row["value"], at=row["at"],
                                        external_id=external_id, duplicate=True)
        at_iso = to_iso(when)
        conversion_id = conversion_rows.insert(conn, contact_id=contact_id, value=value, at=at_iso, source=source,
                                               external_id=external_id, created_at=to_iso(now))
        audit.record(conn, at=to_iso(now), actor=actor, action="convert", object_type="contact", object_id=contact_id,
                     detail={"conversion_id": conversion_id, "value": value, "at": at_iso, "external_id": external_id})
    return ConversionResult(id=conversion_id, contact_id=contact_id, value=value, at=at_iso,
                            external_id=external_id, duplicate=False)
