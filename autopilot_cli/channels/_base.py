"""The adapter protocol every channel implements, and the outcome of a send.

The execute engine (``sending/_engine.py``) owns the job state machine; an adapter
only turns one ``Outgoing`` message into one provider request and classifies
what happened. The classification is what keeps a reply from being sent
twice: ``AMBIGUOUS`` means the request may have reached the provider (read
timeout, connection closed after the body was written, SMTP timeout after the
final dot) and the engine will never blindly re-send it.

    SENT          provider accepted it; ``provider_message_id`` set
    RETRYABLE     it certainly did not go (connect error, 429, 5xx before acceptance)
    PERMANENT     it will never go as is (400, bad recipient); fail with the provider's code
    AMBIGUOUS     it may have gone: needs_reconcile
    WINDOW_CLOSED the 24-hour window is closed (WhatsApp 131047): template or review
    PAUSED        the channel cannot send at all until fixed (token expired, 190)
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .policy import ChannelPolicy

MAX_ERROR_CHARS = 500
"""How much of a provider's error text is kept (after redaction)."""

REQUEST_WRITTEN: ContextVar[Callable[[], None] | None] = ContextVar("REQUEST_WRITTEN", default=None)
"""Set by the engine around one ``send``: an adapter that can tell calls it once the request has been
written to the connection (the rate limiter counts from then); the engine calls it when ``send`` returns."""


@dataclass(frozen=True)
class HttpOptions:
    """How an HTTP adapter's client connects (``[execute]`` settings and the channel's rate)."""

    connections: int = 10
    """As many as the engine sends at once on the channel (its wave size); more would sit idle."""
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    """Also the write and pool timeout: how long one request may take at any stage."""


class Outcome(str, enum.Enum):
    SENT = "sent"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    AMBIGUOUS = "ambiguous"
    WINDOW_CLOSED = "window_closed"
    PAUSED = "paused"


@dataclass(frozen=True)
class Capabilities:
    text_limit: int
    text_limit_unit: str = "chars"          # chars | bytes
    templates: bool = False
    threading: bool = False
    read_receipts: bool = False
    idempotency_key: bool = False
    """True when a retry with the same send key can never deliver twice."""
    default_rate_per_second: float = 10.0
    human_approved_only: bool = False
    window_hours: int | None = None

    @classmethod
    def of(cls, rules: ChannelPolicy, *, threading: bool, idempotency_key: bool, **overrides: Any) -> Capabilities:
        """The channel's facts from the policy table (one source for limits, window, rate, approval), plus
        what this adapter's transport adds; ``overrides`` for an adapter that differs (the outbox)."""
        facts = cls(
            text_limit=rules.text_limit, text_limit_unit=rules.text_limit_unit,
            templates=rules.templates_outside_window, threading=threading, read_receipts=rules.read_receipts,
            idempotency_key=idempotency_key, default_rate_per_second=rules.default_rate_per_second,
            human_approved_only=rules.human_approved_only,
            window_hours=int(rules.window.total_seconds() // 3600) if rules.window is not None else None,
        )
        return replace(facts, **overrides)


@dataclass(frozen=True)
class Outgoing:
    """One reply to send, exactly as approved."""

    job_id: int
    send_key: str
    channel: str
    recipient: str
    text: str
    reply_to_id: str | None = None
    """The provider id of the inbound message we answer (WhatsApp context, email In-Reply-To)."""
    thread_id: str | None = None
    subject: str | None = None
    references: tuple[str, ...] = ()
    message_id: str | None = None
    """For email: the Message-ID generated before the first attempt, reused on every retry."""
    template: str | None = None
    """WhatsApp template name to use instead of free text (outside the 24-hour window)."""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_message_id: str | None = None
    error_code: str | None = None
    error: str | None = None
    """The provider's message, never a credential."""
    retry_after: float | None = None
    """Seconds the provider asked us to wait (Retry-After), when it said."""


class Adapter(Protocol):
    name: str
    capabilities: Capabilities

    async def send(self, message: Outgoing) -> SendResult:
        """Send one message; never raises for provider or network trouble."""
        ...

    async def aclose(self) -> None:
        ...

    def health(self) -> dict[str, object]:
        """Configuration health for ``autopilot channels``: credentials present, base URL, …"""
        ...
