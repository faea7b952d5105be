"""WhatsApp Cloud API adapter: ``POST {base_url}/{phone_number_id}/messages``.

One approved reply becomes one request (Meta "Send messages" and "Contextual
replies" references):

    {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "<E.164 digits, no +>",
     "type": "text", "text": {"preview_url": false, "body": "..."},
     "context": {"message_id": "<wamid we answer>"},          # when reply_to_id is set
     "biz_opaque_callback_data": "<send key>"}                # echoed in status webhooks

or, when ``message.template`` is set (outside the 24-hour window),
``"type": "template", "template": {"name": ..., "language": {"code": "en_US"}}``.
A 2xx answer carries ``messages[0].id`` (the wamid) → SENT.

The endpoint takes no idempotency key, so ``biz_opaque_callback_data`` carries
our send key: a status webhook can settle an AMBIGUOUS send even when the
response (and with it the wamid) was lost.

Error mapping (Cloud API "Error codes" page; transport errors in ``_http``):

    131047 re-engagement: the 24-hour window is closed        → WINDOW_CLOSED
    190, 102, HTTP 401 token expired or invalid                → PAUSED (every send would fail)
    10, 200-299, 131005 permission; 131031 account locked;
    131042 payment problem; 368 policy block                   → PAUSED
    130429 throughput, 131056 pair rate, 131048 spam rate,
    80007 WABA rate limit, 4/17/32/613, HTTP 429               → RETRYABLE with Retry-After
    1, 2, 131000, 131016, 133004 "temporary", 5xx with a Graph
    error object (Graph answered: the message was not taken)   → RETRYABLE
    5xx without a Graph error (a proxy answered, 502/504)      → AMBIGUOUS
    131026 undeliverable, 100 invalid parameter, other 4xx     → PERMANENT with the provider's code and text
    2xx without a message id                                   → AMBIGUOUS (accepted or not, we cannot tell)

131048 (spam rate limit) may last long; it is RETRYABLE so the engine's
bounded backoff applies rather than failing the reply at once. Meta also reports
errors such as 131047 and 131026 asynchronously: the send answers 200 with a wamid
and a later ``failed`` status webhook carries the code, so SENT here is "accepted".
"""

from __future__ import annotations

import httpx

from ..config import WhatsAppChannel
from ._base import Capabilities, Outcome, Outgoing, SendResult
from ._http import TokenHttpAdapter, classify_graph_error, json_body
from .policy import policy

RULES = policy("whatsapp")
TEXT_LIMIT = RULES.text_limit  # characters, Cloud API text message body
CALLBACK_DATA_LIMIT = 512  # bytes, biz_opaque_callback_data
DEFAULT_LANGUAGE = "en_US"

WINDOW_CLOSED = frozenset({(131047, None)})
RATE_CODES = frozenset({130429, 131056, 131048, 80007})
PAUSED_CODES = frozenset({131005, 131031, 131042, 368})
TRANSIENT_CODES = frozenset({131000, 131016, 133004})
# Pair rate: about one message per 6 s to the same user (domain.md, secondary source).
DEFAULT_RETRY_AFTER = {131056: 6.0}


class WhatsAppAdapter(TokenHttpAdapter):
    """Sends one reply per call through the WhatsApp Cloud API."""

    name = "whatsapp"

    capabilities = Capabilities.of(RULES, threading=True, idempotency_key=False)
    _cfg: WhatsAppChannel

    @property
    def url(self) -> str:
        return f"{self._cfg.base_url.rstrip('/')}/{self._cfg.phone_number_id}/messages"

    def build_body(self, message: Outgoing) -> dict[str, object]:
        """The request body for ``message`` (no I/O; raises ValueError for a bad recipient)."""
        body: dict[str, object] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient_digits(message.recipient),
        }
        if message.template:
            language = str(message.metadata.get("template_language") or message.metadata.get("language")
                           or DEFAULT_LANGUAGE)
            template: dict[str, object] = {"name": message.template, "language": {"code": language}}
            components = message.metadata.get("template_components")
            if isinstance(components, list) and components:
                template["components"] = components
            body.update(type="template", template=template)
        else:
            body.update(type="text", text={"preview_url": False, "body": message.text})
            if message.reply_to_id:
                # Meta shows no quote bubble for template replies, so context goes on text only.
                body["context"] = {"message_id": message.reply_to_id}
        if len(message.send_key.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            body["biz_opaque_callback_data"] = message.send_key
        return body

    async def send(self, message: Outgoing) -> SendResult:
        if missing := self._missing_token():
            return missing
        if not message.template and len(message.text) > TEXT_LIMIT:
            return SendResult(Outcome.PERMANENT, error_code="too_long",
                              error=f"text is {len(message.text)} characters, over WhatsApp's {TEXT_LIMIT}")
        try:
            body = self.build_body(message)
        except ValueError as exc:
            return SendResult(Outcome.PERMANENT, error_code="recipient", error=str(exc))
        return await self._post(self.url, body, message_id=_message_id,
                                id_name="messages[0].id; settle by status webhook")

    def _classify(self, response: httpx.Response) -> SendResult:
        return classify_graph_error(response, secret=self._token, window_closed=WINDOW_CLOSED, rate=RATE_CODES,
                                    paused=PAUSED_CODES, transient=TRANSIENT_CODES,
                                    default_retry_after=DEFAULT_RETRY_AFTER)

    def _health_details(self) -> dict[str, object]:
        return {"phone_number_id": self._cfg.phone_number_id}


def recipient_digits(recipient: str) -> str:
    """``+49 151 2345-6789`` → ``4915123456789``: the Cloud API wants E.164 digits without '+'."""
    text = recipient.strip()
    digits = "".join(ch for ch in text.removeprefix("+") if ch not in " -().")
    if not digits.isascii() or not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise ValueError(f"recipient {recipient!r} is not an E.164 phone number")
    return digits


def _message_id(response: httpx.Response) -> str | None:
    body = json_body(response)
    if not isinstance(body, dict):
        return None
    messages = body.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        wamid = messages[0].get("id")
        return str(wamid) if wamid else None
    return None
