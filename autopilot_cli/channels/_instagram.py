"""Instagram messaging adapter: ``POST {base_url}/{ig_id}/messages`` (Instagram API with Instagram Login).

    {"recipient": {"id": "<IGSID>"}, "message": {"text": "..."}}
    → {"recipient_id": "<IGSID>", "message_id": "<mid>"}             (SENT)

Meta's "Send a Message" guide: text must be UTF-8 and 1000 bytes or less. We
check the byte length before any request, so an over-long reply fails at once
with a reason a reviewer can act on instead of a Graph code 100.

Conversations are user-initiated and replies must come within 24 hours. The
``HUMAN_AGENT`` tag (7 days) is only for messages a person wrote, so this
adapter never sets it: an automated reply outside the window is WINDOW_CLOSED.

Error mapping (Messenger Platform / Instagram error codes; transport errors in ``_http``):

    10 / 2534022 or 2018278 "sent outside of allowed window"   → WINDOW_CLOSED (arrives as HTTP 403)
    190, 102, HTTP 401 token expired or invalid                → PAUSED
    10 (other subcodes), 200-299 permission; 368 policy block  → PAUSED
    4, 17, 32, 613 rate limit; HTTP 429                         → RETRYABLE with Retry-After
    1, 2, 1200 "temporary send message failure"; 5xx with a
    Graph error object (Graph refused it)                      → RETRYABLE
    5xx without a Graph error (a proxy answered)               → AMBIGUOUS
    551 person unavailable, 100 invalid parameter, other 4xx   → PERMANENT with the provider's code and text
    2xx without message_id                                      → AMBIGUOUS
"""

from __future__ import annotations

import httpx

from ..config import InstagramChannel
from ._base import Capabilities, Outcome, Outgoing, SendResult
from ._http import TokenHttpAdapter, classify_graph_error, json_body
from .policy import policy

RULES = policy("instagram")
TEXT_LIMIT_BYTES = RULES.text_limit

WINDOW_CLOSED = frozenset({(10, 2534022), (10, 2018278)})
PAUSED_CODES = frozenset({368})
TRANSIENT_CODES = frozenset({1200})


class InstagramAdapter(TokenHttpAdapter):
    """Sends one text reply per call through the Instagram Send API."""

    name = "instagram"

    capabilities = Capabilities.of(RULES, threading=False, idempotency_key=False)
    _cfg: InstagramChannel

    @property
    def url(self) -> str:
        return f"{self._cfg.base_url.rstrip('/')}/{self._cfg.ig_id}/messages"

    async def send(self, message: Outgoing) -> SendResult:
        if missing := self._missing_token():
            return missing
        size = len(message.text.encode("utf-8"))
        if size > TEXT_LIMIT_BYTES:
            return SendResult(Outcome.PERMANENT, error_code="too_long",
                              error=f"text is {size} bytes, over Instagram's {TEXT_LIMIT_BYTES}-byte limit")
        recipient = message.recipient.strip()
        if not recipient or any(ch.isspace() for ch in recipient):
            return SendResult(Outcome.PERMANENT, error_code="recipient",
                              error=f"recipient {message.recipient!r} is not an Instagram-scoped id")
        body = {"recipient": {"id": recipient}, "message": {"text": message.text}}
        return await self._post(self.url, body, message_id=_message_id, id_name="message_id")

    def _classify(self, response: httpx.Response) -> SendResult:
        return classify_graph_error(response, secret=self._token, window_closed=WINDOW_CLOSED,
                                    paused=PAUSED_CODES, transient=TRANSIENT_CODES)

    def _health_details(self) -> dict[str, object]:
        return {"ig_id": self._cfg.ig_id}


def _message_id(response: httpx.Response) -> str | None:
    data = json_body(response)
    mid = data.get("message_id") if isinstance(data, dict) else None
    return str(mid) if mid else None
