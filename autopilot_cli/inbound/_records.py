"""What the payload parsers produce: one item per record, nothing stored yet.

Every parser (``parsers/*.py``) turns provider bytes into a stream of these
items, each carrying where it came from (``line`` and/or ``index``) so that a
bad record can be reported precisely while the good ones are kept:

- ``InboundMessage``  a message from a contact; becomes an ``events`` row.
- ``StatusUpdate``    a delivery status for one of our sends (sent → delivered → read, or failed).
- ``PreferenceUpdate`` a provider-reported consent change (WhatsApp ``user_preferences``).
- ``Ignored``         a record that is valid but not for us (our own echoes, deletions).
- ``Rejected``        a record that is malformed; reported with the reason, never silently dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..channels.policy import (
    CHANNELS as CHANNELS,  # re-exported: parsers and callers read it here
    POLICIES,
)

Channel = Literal["whatsapp", "email", "instagram", "linkedin"]  # checked against POLICIES by a test

# The identity kind a channel's sender address belongs to. Two channels that
# share a kind (a phone number on WhatsApp and, later, SMS) share a contact.
ADDRESS_KIND: dict[str, str] = {name: p.address_kind for name, p in POLICIES.items()}

DeliveryState = Literal["sent", "delivered", "read", "failed"]

# Statuses only move forward; failed is final. Meta delivers out of order.
STATUS_RANK: dict[str, int] = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: int | None = None
    """1-based line of the input the record came from (line-oriented inputs)."""
    index: str | None = None
    """Path inside a JSON document, e.g. ``entry[0].changes[0].value.messages[1]``."""


class InboundMessage(_Item):
    channel: Channel
    external_id: str
    """The provider's message id (wamid, mid, Message-ID): the idempotency key."""
    sender: str
    """Normalized address: E.164 phone, lower-cased email address, or platform user id."""
    text: str
    """What the drafter sees: cleaned text (quotes and signatures stripped for email)."""
    body: str | None = None
    """The full text as received, when it differs from ``text``."""
    received_at: datetime
    message_type: str = "text"
    name: str | None = None
    thread_id: str | None = None
    subject: str | None = None
    timezone: str | None = None
    reply_to_id: str | None = None
    """Provider id of the message this one answers (WhatsApp context, In-Reply-To)."""
    automated: bool = False
    automated_reason: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    raw: Any = None
    """The record as received (JSON value or text), kept for audits and replays."""


class StatusUpdate(_Item):
    channel: Channel
    provider_message_id: str
    status: DeliveryState
    at: datetime
    recipient: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    callback_data: str | None = None
    raw: Any = None


class PreferenceUpdate(_Item):
    channel: Channel
    sender: str
    action: Literal["opt_out", "opt_in"]
    category: str = "marketing"
    at: datetime
    raw: Any = None


class Ignored(_Item):
    reason: str


class Rejected(_Item):
    reason: str
    raw: Any = None


ParsedItem = InboundMessage | StatusUpdate | PreferenceUpdate | Ignored | Rejected
