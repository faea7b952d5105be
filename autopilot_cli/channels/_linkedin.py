"""LinkedIn adapter: the partner Messages API, ``POST {base_url}/messages``.

LinkedIn's Messages API terms ("Messages API", Microsoft Learn) require each
message to come from a specific member action on an editable draft — never an
automated or scheduled send. So ``capabilities.human_approved_only`` is True,
config forbids ``mode = "auto"``, and this adapter refuses (PERMANENT, no
request) any message whose ``metadata["origin"]`` is not ``"approved"``: a
second lock, in case a bug ever routes an unapproved draft here.

Request (schema from the same page: ``recipients`` is required unless
``thread`` is given and must be omitted when it is)::

    POST /rest/messages
    LinkedIn-Version: 202411          X-Restli-Protocol-Version: 2.0.0
    {"recipients": ["urn:li:person:..."], "subject": "...", "body": "..."}
    {"thread": "<conversation urn>", "body": "..."}                    (a reply in a thread)

A created message answers 201 with its id in the ``x-restli-id`` header
(Rest.li's create convention; ``x-linkedin-id`` or a body ``id`` are accepted too).

Error mapping (LinkedIn "Error handling": ``{"message", "serviceErrorCode", "status"}``;
transport errors in ``_http``):

    HTTP 401 token expired or revoked                → PAUSED
    HTTP 403 permission (w_member_messages) missing  → PAUSED (every send would fail; the operator must look)
    HTTP 429 throttled                               → RETRYABLE with Retry-After
    HTTP 503 service unavailable                     → RETRYABLE
    other 5xx                                        → AMBIGUOUS: LinkedIn documents no guarantee that a
                                                       500 means "not created", and sends here are few
                                                       and human-approved, so a reconcile is cheap
    other 4xx                                        → PERMANENT with LinkedIn's code and message
    2xx without an id                                → AMBIGUOUS
"""

from __future__ import annotations

import httpx

from ..config import LinkedInChannel
from ._base import Capabilities, HttpOptions, Outcome, Outgoing, SendResult
from ._http import TokenHttpAdapter, json_body, parse_retry_after, redact, short_text
from .policy import policy

API_VERSION = "202411"  # LinkedIn-Version (YYYYMM); versions are supported for at least a year
RULES = policy("linkedin")
TEXT_LIMIT = RULES.text_limit  # characters; not documented on the Messages API page
ID_HEADERS = ("x-restli-id", "x-linkedin-id")


class LinkedInAdapter(TokenHttpAdapter):
    """Sends one human-approved message per call through LinkedIn's Messages API."""

    name = "linkedin"

    capabilities = Capabilities.of(RULES, threading=True, idempotency_key=False)
    _cfg: LinkedInChannel

    def __init__(self, channel: str, cfg: LinkedInChannel, token: str | None,
                 http: httpx.AsyncClient | None = None, api_version: str = API_VERSION, *,
                 options: HttpOptions | None = None) -> None:
        super().__init__(channel, cfg, token, http, options=options)
        self._api_version = api_version

    @property
    def url(self) -> str:
        return f"{self._cfg.base_url.rstrip('/')}/messages"

    def build_body(self, message: Outgoing) -> dict[str, object]:
        if message.thread_id:
            return {"thread": message.thread_id, "body": message.text}
        recipient = message.recipient.strip()
        if not recipient or any(ch.isspace() for ch in recipient):
            raise ValueError(f"recipient {message.recipient!r} is not a LinkedIn member id or URN")
        urn = recipient if recipient.startswith("urn:li:") else f"urn:li:person:{recipient}"
        body: dict[str, object] = {"recipients": [urn], "body": message.text}
        if message.subject:
            body["subject"] = " ".join(message.subject.split())
        return body

    async def send(self, message: Outgoing) -> SendResult:
        if message.metadata.get("origin") != "approved":
            return SendResult(Outcome.PERMANENT, error_code="policy", error="LinkedIn sends need a human approval")
        if missing := self._missing_token():
            return missing
        if len(message.text) > TEXT_LIMIT:
            return SendResult(Outcome.PERMANENT, error_code="too_long",
                              error=f"text is {len(message.text)} characters, over {TEXT_LIMIT}")
        try:
            body = self.build_body(message)
        except ValueError as exc:
            return SendResult(Outcome.PERMANENT, error_code="recipient", error=str(exc))
        headers = {**self._headers(), "LinkedIn-Version": self._api_version, "X-Restli-Protocol-Version": "2.0.0"}
        return await self._post(self.url, body, message_id=_created_id, id_name="x-restli-id", headers=headers)

    def _classify(self, response: httpx.Response) -> SendResult:
        status = response.status_code
        data = json_body(response)
        if isinstance(data, dict) and data.get("message"):
            service_code = data.get("serviceErrorCode") or data.get("code")
            code = str(service_code) if service_code is not None else f"http_{status}"
            text = str(data["message"])
        else:
            code, text = f"http_{status}", short_text(response)
        error = redact(f"HTTP {status}: {text}", self._token)
        if status == 401:
            return SendResult(Outcome.PAUSED, error_code=code, error=f"access token expired or invalid ({error})")
        if status == 403:
            return SendResult(Outcome.PAUSED, error_code=code, error=f"not permitted to send messages ({error})")
        if status in (429, 503):
            return SendResult(Outcome.RETRYABLE, error_code=code, error=error,
                              retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            return SendResult(Outcome.AMBIGUOUS, error_code=code,
                              error=f"{error} (LinkedIn may have created the message)")
        return SendResult(Outcome.PERMANENT, error_code=code, error=error)

    def _health_details(self) -> dict[str, object]:
        return {"api_version": self._api_version, "human_approved_only": True}


def _created_id(response: httpx.Response) -> str | None:
    for header in ID_HEADERS:
        value = response.headers.get(header)
        if value and value.strip():
            return value.strip()
    data = json_body(response)
    if isinstance(data, dict) and data.get("id"):
        return str(data["id"])
    return None
