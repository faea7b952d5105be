"""Sender addresses normalized per channel, so one person is one contact.

Phone numbers become E.164 (``+4915123456789``) with phonenumbers; WhatsApp's
``wa_id`` is the number without the ``+``. Email addresses are lower-cased
addr-specs. Instagram and LinkedIn ids are opaque and kept as given.
"""

from __future__ import annotations

from email.utils import parseaddr

import phonenumbers

from ..channels.policy import EMAIL_ADDRESS, PHONE, POLICIES


class AddressError(ValueError):
    """The address cannot be normalized for its channel."""


def normalize_phone(value: str, default_region: str | None = None) -> str:
    text = str(value).strip()
    if not text:
        raise AddressError("empty phone number")
    if not text.startswith("+") and default_region is None:
        # wa_id and most webhook senders are international digits without '+'.
        text = "+" + text.lstrip("0") if text.startswith("00") else "+" + text
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise AddressError(f"{value!r} is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise AddressError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    _, addr = parseaddr(str(value))
    addr = addr.strip()
    if "@" not in addr or addr.startswith("@") or addr.endswith("@") or any(c.isspace() for c in addr):
        raise AddressError(f"{value!r} is not an email address")
    local, _, domain = addr.rpartition("@")
    # Domains are case-insensitive; local parts are in practice treated so too.
    return f"{local.lower()}@{domain.lower()}"


def normalize_platform_id(value: str) -> str:
    text = str(value).strip()
    if not text or len(text) > 256 or any(c.isspace() for c in text):
        raise AddressError(f"{value!r} is not a platform user id")
    return text


def normalize_address(channel: str, value: object) -> str:
    if value is None:
        raise AddressError("missing sender")
    kind = POLICIES[channel].address_kind if channel in POLICIES else None
    if kind == PHONE:
        return normalize_phone(str(value))
    if kind == EMAIL_ADDRESS:
        return normalize_email(str(value))
    return normalize_platform_id(str(value))
