"""Each channel's rules as data: the one table the engine asks instead of comparing channel names.

A new channel is a row here (and an adapter and a parser), not a search for
``if channel == ...`` through the engine. The figures come from the providers'
published limits and policies:

- WhatsApp Cloud API: 4,096 characters of text; free-form replies only within
  24 hours of the customer's last message, templates outside it; about one
  message per 6 s to one user (pair rate limit); 80 messages/s per number.
- Instagram Messaging: 1,000 bytes of UTF-8 text; the same 24-hour window
  (no templates outside it); 300 calls/s is far above what a shop needs.
- E-mail: no window; RFC 8058 one-click unsubscribe; a polite 1 message/s.
- LinkedIn: messaging through the API only for messages a person approved
  (the platform's terms forbid automated messaging); 8,000 characters.

Transport facts that depend on the adapter rather than the channel (whether a
retry can duplicate, say) stay in each adapter's ``Capabilities``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

AddressKind = Literal["phone", "email", "instagram", "linkedin"]
PHONE: AddressKind = "phone"
EMAIL_ADDRESS: AddressKind = "email"


@dataclass(frozen=True)
class ChannelPolicy:
    name: str
    label: str
    """How people write the channel's name in sentences."""
    address_kind: AddressKind
    """Two channels of one kind (a phone number on WhatsApp and, later, SMS) share a contact."""
    text_limit: int
    text_limit_unit: Literal["chars", "bytes"]
    window: timedelta | None
    """Free-form replies only this long after the customer's last message; None: no window."""
    templates_outside_window: bool
    human_approved_only: bool
    """Only a person's approval may send (never an automatic reply)."""
    default_rate_per_second: float
    min_gap: timedelta
    """Least time between two messages to the same recipient."""
    read_receipts: bool
    """The provider reports reads, so open rates can be measured."""
    signed_webhook: bool
    """Inbound payloads carry Meta's X-Hub-Signature-256."""
    list_unsubscribe: bool
    """Outgoing messages carry an RFC 8058 one-click unsubscribe link."""
    mints_message_id: bool
    """We choose each outgoing message's id (e-mail's Message-ID), kept across retries for threading."""
    send_days: str
    send_hours: str
    jitter_seconds: int
    payload_description: str
    """What an ingest file of this channel looks like, for error messages."""
    sample_sender: str
    """A valid sender address with ``{n}`` for a number: ``autopilot eval`` gives each case its own contact."""


POLICIES: dict[str, ChannelPolicy] = {
    "whatsapp": ChannelPolicy(
        name="whatsapp", label="WhatsApp", address_kind="phone", text_limit=4096, text_limit_unit="chars",
        window=timedelta(hours=24), templates_outside_window=True, human_approved_only=False,
        default_rate_per_second=80.0, min_gap=timedelta(seconds=6), read_receipts=True, signed_webhook=True,
        list_unsubscribe=False, mints_message_id=False, send_days="mon-sun", send_hours="08-21", jitter_seconds=45,
        payload_description="a WhatsApp webhook payload", sample_sender="+49151{n:08d}"),
    "instagram": ChannelPolicy(
        name="instagram", label="Instagram", address_kind="instagram", text_limit=1000, text_limit_unit="bytes",
        window=timedelta(hours=24), templates_outside_window=False, human_approved_only=False,
        default_rate_per_second=300.0, min_gap=timedelta(0), read_receipts=True, signed_webhook=True,
        list_unsubscribe=False, mints_message_id=False, send_days="mon-sun", send_hours="08-21", jitter_seconds=45,
        payload_description="an Instagram webhook payload", sample_sender="9{n:09d}"),
    "email": ChannelPolicy(
        name="email", label="email", address_kind="email", text_limit=100_000, text_limit_unit="chars",
        window=None, templates_outside_window=False, human_approved_only=False,
        default_rate_per_second=1.0, min_gap=timedelta(0), read_receipts=False, signed_webhook=False,
        list_unsubscribe=True, mints_message_id=True, send_days="mon-fri", send_hours="08-18", jitter_seconds=180,
        payload_description="an e-mail message (.eml)", sample_sender="case{n}@example.org"),
    "linkedin": ChannelPolicy(
        name="linkedin", label="LinkedIn", address_kind="linkedin", text_limit=8000, text_limit_unit="chars",
        window=None, templates_outside_window=False, human_approved_only=True,
        default_rate_per_second=1.0, min_gap=timedelta(0), read_receipts=False, signed_webhook=False,
        list_unsubscribe=False, mints_message_id=False, send_days="mon-fri", send_hours="09-18", jitter_seconds=120,
        payload_description="LinkedIn Compliance Events", sample_sender="urn:li:person:case{n}"),
}

CHANNELS: tuple[str, ...] = tuple(POLICIES)
DEFAULT_CHANNEL = "whatsapp"
"""The channel of a labelled case that names none (``autopilot eval``): where most questions arrive."""


def policy(channel: str) -> ChannelPolicy:
    """The policy of a known channel; KeyError names the channel otherwise."""
    try:
        return POLICIES[channel]
    except KeyError:
        raise KeyError(f"unknown channel {channel!r}") from None


def channels_where(**flags: bool) -> tuple[str, ...]:
    """Channels whose policy has every given flag, e.g. ``channels_where(signed_webhook=True)``."""
    return tuple(name for name, p in POLICIES.items() if all(getattr(p, k) == v for k, v in flags.items()))
