"""The normalized event format: one JSON object per line.

Required: ``channel`` (whatsapp | email | instagram | linkedin), ``id`` (the
provider's message id), ``from`` (E.164 phone, email address or platform user
id), ``text``, ``received_at`` (ISO-8601; a time without offset is UTC).
Optional: ``name``, ``thread_id``, ``subject``, ``timezone`` (IANA),
``metadata`` (object). Any other key is an error, so a typo is not lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...contacts import AddressError, normalize_address
from .._records import Channel, InboundMessage, ParsedItem, Rejected
from ._common import BadJson, Limits, loads, timestamp, too_big

_MAX_ZONE_NAME = 64  # the longest IANA name is about 30 characters


class JsonlEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    channel: Channel
    id: str = Field(min_length=1, max_length=1024)
    from_: str = Field(alias="from", min_length=1)
    text: str
    received_at: datetime
    name: str | None = None
    thread_id: str | None = None
    subject: str | None = None
    timezone: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("received_at", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> datetime:
        return timestamp(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            if len(value) > _MAX_ZONE_NAME or "\x00" in value:
                raise ValueError(value)
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
            raise ValueError(f"{value[:_MAX_ZONE_NAME]!r} is not an IANA time zone name") from None
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty")
        return value


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "record"
    if err["type"] == "missing":
        return f"missing required field '{key}'"
    if err["type"] == "extra_forbidden":
        return f"unknown field '{key}'"
    return f"'{key}': {str(err['msg']).removeprefix('Value error, ')}"


def parse_record(value: Any, line: int) -> ParsedItem:
    if not isinstance(value, dict):
        return Rejected(line=line, reason=f"expected a JSON object, got {type(value).__name__}", raw=value)
    try:
        record = JsonlEvent.model_validate(value)
    except ValidationError as exc:
        return Rejected(line=line, reason=_first_error(exc), raw=value)
    try:
        sender = normalize_address(record.channel, record.from_)
    except AddressError as exc:
        return Rejected(line=line, reason=f"'from': {exc}", raw=value)
    return InboundMessage(
        line=line,
        channel=record.channel,
        external_id=record.id,
        sender=sender,
        text=record.text,
        received_at=record.received_at,
        name=record.name,
        thread_id=record.thread_id,
        subject=record.subject,
        timezone=record.timezone,
        metadata=record.metadata,
        raw=value,
    )


def iter_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(data.splitlines(), start=1):
        if raw.strip():
            yield number, raw


def parse(data: bytes, limits: Limits) -> Iterator[ParsedItem]:
    for number, raw in iter_lines(data):
        reason = too_big(len(raw), limits)
        if reason:
            yield Rejected(line=number, reason=reason, raw=raw[:200].decode("utf-8", "replace"))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Rejected(line=number, reason=f"not UTF-8 text (invalid byte at column {exc.start + 1})")
            continue
        try:
            value = loads(text)
        except BadJson as exc:
            yield Rejected(line=number, reason=f"invalid JSON: {exc}", raw=text)
            continue
        yield parse_record(value, number)
