"""Channel adapters against real sockets: the fake Graph/LinkedIn server and a real aiosmtpd server.

Each failure class the execute engine relies on is provoked for real where a
socket can do it (refused port, held answer, connection closed after the
body, SMTP 550/451, dropped or silent server after DATA) and through
``httpx.MockTransport`` where it cannot (connect and pool timeouts).
"""

from __future__ import annotations

import asyncio
import base64
import email
import re
import socket
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from autopilot_cli.channels import Outcome, Outgoing, SendResult
from autopilot_cli.channels._http import parse_retry_after
from autopilot_cli.channels._instagram import InstagramAdapter
from autopilot_cli.channels._linkedin import LinkedInAdapter
from autopilot_cli.channels._smtp import SmtpAdapter, reply_subject
from autopilot_cli.channels._whatsapp import WhatsAppAdapter
from autopilot_cli.config import InstagramChannel, LinkedInChannel, SmtpChannel, WhatsAppChannel
from autopilot_cli.secrets import Secrets, secret_spellings

from .fake_graph import (
    TOKEN,
    FakeGraph,
    FakeReply,
    close_after_body,
    fake_graph,
    graph_error,
    graph_ok,
    linkedin_error,
    rate_limited,
)

PASSWORD = "smtp-pass-93b1f0c7e2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def out(**kw: Any) -> Outgoing:
    base: dict[str, Any] = dict(job_id=1, send_key="job-1-key", channel="whatsapp", recipient="+4915123456789",
                                text="Hi Ana, we open at 10:00.")
    base.update(kw)
    return Outgoing(**base)


def send_all(make: Callable[[httpx.AsyncClient | None], Any], *messages: Outgoing,
             timeout: float | None = None, transport: httpx.AsyncBaseTransport | None = None) -> list[SendResult]:
    async def go() -> list[SendResult]:
        http = None
        if timeout is not None or transport is not None:
            http = httpx.AsyncClient(timeout=timeout or 5.0, transport=transport)
        adapter = make(http)
        try:
            return [await adapter.send(m) for m in messages]
        finally:
            await adapter.aclose()
            if http is not None:
                await http.aclose()
    return asyncio.run(go())


def whatsapp(base_url: str, token: str | None = TOKEN) -> Callable[[httpx.AsyncClient | None], WhatsAppAdapter]:
    cfg = WhatsAppChannel(adapter="whatsapp", base_url=base_url, phone_number_id="1065")
    secrets = Secrets({"WHATSAPP_TOKEN": token} if token else {})
    return lambda http: WhatsAppAdapter.from_config("whatsapp", cfg, secrets, http)


def instagram(base_url: str, token: str | None = TOKEN) -> Callable[[httpx.AsyncClient | None], InstagramAdapter]:
    cfg = InstagramChannel(adapter="instagram", base_url=base_url)
    secrets = Secrets({"INSTAGRAM_TOKEN": token} if token else {})
    return lambda http: InstagramAdapter.from_config("instagram", cfg, secrets, http)


def linkedin(base_url: str, token: str | None = TOKEN) -> Callable[[httpx.AsyncClient | None], LinkedInAdapter]:
    cfg = LinkedInChannel(adapter="linkedin", base_url=base_url, mode="one_click")
    secrets = Secrets({"LINKEDIN_TOKEN": token} if token else {})
    return lambda http: LinkedInAdapter.from_config("linkedin", cfg, secrets, http)


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v21.0"


def assert_no_secret(*results: SendResult) -> None:
    for result in results:
        assert TOKEN not in repr(result) and PASSWORD not in repr(result)


# ---------------------------------------------------------------- Retry-After

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("value, expected", [
    ("120", 120.0), ("1.5", 1.5), (" 7 ", 7.0), ("-3", 0.0), ("", None), (None, None), ("soon", None),
    ("inf", None), ("nan", None),
    (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
    (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),
    ("Wed, 25 Nov 2026 12:00:30 GMT", 30.0),
])
def test_retry_after_seconds_and_http_date(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


# ---------------------------------------------------------------- WhatsApp

def test_whatsapp_text_reply_shape_and_sent(fake_graph: FakeGraph) -> None:
    [result] = send_all(whatsapp(fake_graph.url), out(reply_to_id="wamid.IN1"))
    assert result == SendResult(Outcome.SENT, provider_message_id="wamid.fake1")
    [req] = fake_graph.requests
    assert req.path == "/v21.0/1065/messages" and req.authorized
    assert req.headers["content-type"] == "application/json"
    assert req.body == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "4915123456789",
        "type": "text", "text": {"preview_url": False, "body": "Hi Ana, we open at 10:00."},
        "context": {"message_id": "wamid.IN1"}, "biz_opaque_callback_data": "job-1-key",
    }


def test_whatsapp_template_with_language(fake_graph: FakeGraph) -> None:
    results = send_all(whatsapp(fake_graph.url), out(template="reopen_chat", reply_to_id="wamid.IN1",
                                                     metadata={"template_language": "de_DE"}),
                       out(template="reopen_chat"))
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    first, second = (r.body for r in fake_graph.requests)
    assert first["type"] == "template" and "text" not in first and "context" not in first
    assert first["template"] == {"name": "reopen_chat", "language": {"code": "de_DE"}}
    assert second["template"]["language"] == {"code": "en_US"}


@pytest.mark.parametrize("reply, outcome, code", [
    (graph_error(131047, "(#131047) Re-engagement message", details="More than 24 hours have passed"),
     Outcome.WINDOW_CLOSED, "131047"),
    (graph_error(131026, "(#131026) Message undeliverable", details="Receiver is incapable of receiving"),
     Outcome.PERMANENT, "131026"),
    (graph_error(100, "(#100) Invalid parameter"), Outcome.PERMANENT, "100"),
    (graph_error(190, "Error validating access token: Session has expired", status=401), Outcome.PAUSED, "190"),
    (graph_error(190, "Invalid OAuth access token"), Outcome.PAUSED, "190"),
    (FakeReply(status=401, body=b"Unauthorized"), Outcome.PAUSED, "http_401"),
    (graph_error(10, "(#10) Application does not have permission", status=403), Outcome.PAUSED, "10"),
    (graph_error(130429, "(#130429) Rate limit hit"), Outcome.RETRYABLE, "130429"),
    (graph_error(80007, "(#80007) Rate limit issues"), Outcome.RETRYABLE, "80007"),
    (graph_error(131000, "Something went wrong", status=500), Outcome.RETRYABLE, "131000"),
    (graph_error(2, "Service temporarily unavailable", status=500), Outcome.RETRYABLE, "2"),
    (FakeReply(status=503, body=b"<html>unavailable</html>"), Outcome.RETRYABLE, "http_503"),
    (FakeReply(status=502, body=b"<html>bad gateway</html>"), Outcome.AMBIGUOUS, "http_502"),
    (FakeReply(status=504, body=b""), Outcome.AMBIGUOUS, "http_504"),
    (FakeReply(status=200, json={"messaging_product": "whatsapp"}), Outcome.AMBIGUOUS, "no_message_id"),
])
def test_whatsapp_error_mapping(fake_graph: FakeGraph, reply: FakeReply, outcome: Outcome, code: str) -> None:
    fake_graph.script.append(reply)
    [result] = send_all(whatsapp(fake_graph.url), out())
    assert (result.outcome, result.error_code) == (outcome, code)
    assert_no_secret(result)


def test_whatsapp_error_text_carries_provider_details(fake_graph: FakeGraph) -> None:
    fake_graph.script.append(graph_error(131026, "(#131026) Message undeliverable", details="Receiver blocked you"))
    fake_graph.script.append(graph_error(190, "Error validating access token"))
    undeliverable, expired = send_all(whatsapp(fake_graph.url), out(), out())
    assert "Message undeliverable" in undeliverable.error and "Receiver blocked you" in undeliverable.error
    assert expired.error.startswith("access token expired or invalid")


def test_whatsapp_rate_limits_carry_retry_after(fake_graph: FakeGraph) -> None:
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=60), usegmt=True)
    fake_graph.script.extend([rate_limited("2"), rate_limited(later), rate_limited(None, code=131056),
                              rate_limited(None)])
    seconds, date, pair, bare = send_all(whatsapp(fake_graph.url), *[out()] * 4)
    assert all(r.outcome is Outcome.RETRYABLE for r in (seconds, date, pair, bare))
    assert seconds.retry_after == 2.0
    assert 55 <= date.retry_after <= 60
    assert pair.retry_after == 6.0  # pair rate: about one message per 6 s to one user
    assert bare.retry_after is None


def test_whatsapp_rate_limited_then_sent(fake_graph: FakeGraph) -> None:
    fake_graph.script.extend([rate_limited("1"), graph_ok("wamid.second")])
    first, second = send_all(whatsapp(fake_graph.url), out(), out())
    assert (first.outcome, first.retry_after) == (Outcome.RETRYABLE, 1.0)
    assert second == SendResult(Outcome.SENT, provider_message_id="wamid.second")
    assert [r.body for r in fake_graph.requests] == [fake_graph.requests[0].body] * 2  # the same request again


def test_whatsapp_connection_closed_after_body_is_ambiguous(fake_graph: FakeGraph) -> None:
    fake_graph.script.append(close_after_body())
    [result] = send_all(whatsapp(fake_graph.url), out())
    assert result.outcome is Outcome.AMBIGUOUS
    assert len(fake_graph.requests) == 1  # the provider did read the whole request


def test_whatsapp_read_timeout_is_ambiguous(fake_graph: FakeGraph) -> None:
    fake_graph.script.append(FakeReply(delay=3))
    [result] = send_all(whatsapp(fake_graph.url), out(), timeout=0.3)
    assert result.outcome is Outcome.AMBIGUOUS and "ReadTimeout" in result.error


def test_whatsapp_connect_refused_is_retryable() -> None:
    [result] = send_all(whatsapp(closed_port_url()), out())
    assert (result.outcome, result.error_code) == (Outcome.RETRYABLE, "connect")


@pytest.mark.parametrize("exc, outcome", [
    (httpx.ConnectTimeout("timed out"), Outcome.RETRYABLE),
    (httpx.PoolTimeout("no connection free"), Outcome.RETRYABLE),
    (httpx.ConnectError("refused"), Outcome.RETRYABLE),
    (httpx.WriteTimeout("write timed out"), Outcome.AMBIGUOUS),
    (httpx.ReadError("reset"), Outcome.AMBIGUOUS),
    (httpx.RemoteProtocolError("Server disconnected without sending a response."), Outcome.AMBIGUOUS),
    (httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."), Outcome.PAUSED),
])
def test_transport_failures(exc: Exception, outcome: Outcome) -> None:
    def raise_it(request: httpx.Request) -> httpx.Response:
        raise exc
    transport = httpx.MockTransport(raise_it)
    for make in (whatsapp("https://graph.example/v21.0"), instagram("https://graph.example/v21.0"),
                 linkedin("https://api.example/rest")):
        [result] = send_all(make, out(metadata={"origin": "approved"}), transport=transport)
        assert result.outcome is outcome, (make, result)


def test_whatsapp_missing_token_pauses_without_request(fake_graph: FakeGraph) -> None:
    make = whatsapp(fake_graph.url, token=None)
    [result] = send_all(make, out())
    assert result == SendResult(Outcome.PAUSED, error_code="credentials",
                                error="access token missing: environment variable WHATSAPP_TOKEN is not set")
    assert fake_graph.requests == []
    health = make(None).health()
    assert health["credentials"] == {"token_env": "WHATSAPP_TOKEN", "present": False}
    assert health["ready"] is False and "WHATSAPP_TOKEN is not set" in health["problem"]


def test_whatsapp_health_never_shows_the_token(fake_graph: FakeGraph) -> None:
    adapter = whatsapp(fake_graph.url)(None)
    health = adapter.health()
    assert health["adapter"] == "whatsapp" and health["base_url"] == fake_graph.url
    assert health["credentials"] == {"token_env": "WHATSAPP_TOKEN", "present": True}
    assert TOKEN not in repr(health) and TOKEN not in repr(adapter)
    caps = adapter.capabilities
    assert (caps.text_limit, caps.templates, caps.threading, caps.idempotency_key, caps.window_hours,
            caps.default_rate_per_second) == (4096, True, True, False, 24, 80.0)


def test_whatsapp_refuses_bad_recipient_and_long_text_without_request(fake_graph: FakeGraph) -> None:
    bad, long = send_all(whatsapp(fake_graph.url), out(recipient="ana@example.com"), out(text="x" * 4097))
    assert (bad.outcome, bad.error_code) == (Outcome.PERMANENT, "recipient")
    assert (long.outcome, long.error_code) == (Outcome.PERMANENT, "too_long")
    assert fake_graph.requests == []


def test_provider_echoing_the_token_is_redacted(fake_graph: FakeGraph) -> None:
    fake_graph.script.append(graph_error(100, f"Invalid parameter near access_token={TOKEN}"))
    [result] = send_all(whatsapp(fake_graph.url), out())
    assert result.outcome is Outcome.PERMANENT and "[redacted]" in result.error
    assert_no_secret(result)


# ---------------------------------------------------------------- Instagram

def test_instagram_send_shape_and_sent(fake_graph: FakeGraph) -> None:
    [result] = send_all(instagram(fake_graph.url), out(channel="instagram", recipient="17841400000001"))
    assert result == SendResult(Outcome.SENT, provider_message_id="mid.fake1")
    [req] = fake_graph.requests
    assert req.path == "/v21.0/me/messages" and req.authorized
    assert req.body == {"recipient": {"id": "17841400000001"}, "message": {"text": "Hi Ana, we open at 10:00."}}


def test_instagram_text_limit_is_1000_utf8_bytes(fake_graph: FakeGraph) -> None:
    euro = "€" * 334  # 334 characters, 1002 bytes
    fits = "é" * 500  # 500 characters, exactly 1000 bytes
    over, ok = send_all(instagram(fake_graph.url), out(text=euro, recipient="1784"), out(text=fits, recipient="1784"))
    assert over == SendResult(Outcome.PERMANENT, error_code="too_long",
                              error="text is 1002 bytes, over Instagram's 1000-byte limit")
    assert ok.outcome is Outcome.SENT
    assert len(fake_graph.requests) == 1
    assert InstagramAdapter.from_config("instagram", InstagramChannel(adapter="instagram"), Secrets()).capabilities \
        .text_limit_unit == "bytes"


@pytest.mark.parametrize("reply, outcome", [
    (graph_error(10, "This message is sent outside of allowed window.", status=403, subcode=2534022),
     Outcome.WINDOW_CLOSED),
    (graph_error(10, "This message is sent outside of allowed window.", status=400, subcode=2018278),
     Outcome.WINDOW_CLOSED),
    (graph_error(10, "Permission denied", status=403), Outcome.PAUSED),
    (graph_error(190, "Invalid OAuth access token.", status=401), Outcome.PAUSED),
    (graph_error(613, "Calls to this API have exceeded the rate limit."), Outcome.RETRYABLE),
    (graph_error(4, "Application request limit reached", status=429), Outcome.RETRYABLE),
    (graph_error(1200, "Temporary send message failure. Please try again later.", status=500), Outcome.RETRYABLE),
    (graph_error(551, "This person isn't available right now."), Outcome.PERMANENT),
    (close_after_body(), Outcome.AMBIGUOUS),
    (FakeReply(status=200, json={"recipient_id": "1784"}), Outcome.AMBIGUOUS),
])
def test_instagram_error_mapping(fake_graph: FakeGraph, reply: FakeReply, outcome: Outcome) -> None:
    fake_graph.script.append(reply)
    [result] = send_all(instagram(fake_graph.url), out(channel="instagram", recipient="1784"))
    assert result.outcome is outcome, result
    assert_no_secret(result)


def test_instagram_connect_refused_and_read_timeout(fake_graph: FakeGraph) -> None:
    [refused] = send_all(instagram(closed_port_url()), out(recipient="1784"))
    fake_graph.script.append(FakeReply(delay=3))
    [slow] = send_all(instagram(fake_graph.url), out(recipient="1784"), timeout=0.3)
    assert (refused.outcome, slow.outcome) == (Outcome.RETRYABLE, Outcome.AMBIGUOUS)


def test_instagram_missing_token(fake_graph: FakeGraph) -> None:
    make = instagram(fake_graph.url, token=None)
    [result] = send_all(make, out(recipient="1784"))
    assert result.outcome is Outcome.PAUSED and "INSTAGRAM_TOKEN is not set" in result.error
    assert make(None).health()["credentials"] == {"token_env": "INSTAGRAM_TOKEN", "present": False}


# ---------------------------------------------------------------- LinkedIn

APPROVED = {"origin": "approved"}


def test_linkedin_refuses_unapproved_messages(fake_graph: FakeGraph) -> None:
    results = send_all(linkedin(fake_graph.url), out(recipient="abc123"),
                       out(recipient="abc123", metadata={"origin": "auto"}))
    for result in results:
        assert result == SendResult(Outcome.PERMANENT, error_code="policy",
                                    error="LinkedIn sends need a human approval")
    assert fake_graph.requests == []
    assert linkedin(fake_graph.url)(None).capabilities.human_approved_only is True


def test_linkedin_request_shape_and_id_from_header(fake_graph: FakeGraph) -> None:
    new, reply = send_all(linkedin(fake_graph.url),
                          out(recipient="abc123", subject="Your\r\nquestion", metadata=APPROVED),
                          out(recipient="abc123", thread_id="urn:li:messagingThread:9", metadata=APPROVED))
    assert new == SendResult(Outcome.SENT, provider_message_id="urn:li:message:fake1")
    assert reply.outcome is Outcome.SENT
    first, second = fake_graph.requests
    assert first.path == "/v21.0/messages" and first.authorized
    assert first.headers["linkedin-version"] and first.headers["x-restli-protocol-version"] == "2.0.0"
    assert first.body == {"recipients": ["urn:li:person:abc123"], "subject": "Your question",
                          "body": "Hi Ana, we open at 10:00."}
    assert second.body == {"thread": "urn:li:messagingThread:9", "body": "Hi Ana, we open at 10:00."}


@pytest.mark.parametrize("reply, outcome, code", [
    (linkedin_error(401, "The token used in the request has expired", 65601), Outcome.PAUSED, "65601"),
    (linkedin_error(403, "Not enough permissions to access: messages.CREATE", 100), Outcome.PAUSED, "100"),
    (linkedin_error(429, "Resource level throttle limit reached", headers={"Retry-After": "30"}),
     Outcome.RETRYABLE, "429"),
    (linkedin_error(503, "Service unavailable"), Outcome.RETRYABLE, "503"),
    (linkedin_error(500, "Internal Server Error"), Outcome.AMBIGUOUS, "500"),
    (linkedin_error(422, "Recipient is not a first-degree connection", 1001), Outcome.PERMANENT, "1001"),
    (FakeReply(status=201, body=b""), Outcome.AMBIGUOUS, "no_message_id"),
    (FakeReply(status=201, json={"id": "urn:li:message:77"}), Outcome.SENT, None),
])
def test_linkedin_error_mapping(fake_graph: FakeGraph, reply: FakeReply, outcome: Outcome, code: str | None) -> None:
    fake_graph.script.append(reply)
    [result] = send_all(linkedin(fake_graph.url), out(recipient="abc123", metadata=APPROVED))
    assert (result.outcome, result.error_code) == (outcome, code), result
    if code == "429":
        assert result.retry_after == 30.0
    assert_no_secret(result)


def test_linkedin_transport_failures(fake_graph: FakeGraph) -> None:
    fake_graph.script.extend([close_after_body()])
    [closed] = send_all(linkedin(fake_graph.url), out(recipient="abc", metadata=APPROVED))
    fake_graph.script.append(FakeReply(delay=3))
    [slow] = send_all(linkedin(fake_graph.url), out(recipient="abc", metadata=APPROVED), timeout=0.3)
    [refused] = send_all(linkedin(closed_port_url()), out(recipient="abc", metadata=APPROVED))
    assert (closed.outcome, slow.outcome, refused.outcome) == (Outcome.AMBIGUOUS, Outcome.AMBIGUOUS,
                                                               Outcome.RETRYABLE)


# ---------------------------------------------------------------- SMTP (real aiosmtpd on loopback)

class Recorder:
    """Accepts everything and keeps (mail_from, rcpt_tos, parsed message) per delivery."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.raw: list[bytes] = []

    def record(self, envelope: Any) -> None:
        self.raw.append(envelope.content)
        self.deliveries.append((envelope.mail_from, list(envelope.rcpt_tos),
                                email.message_from_bytes(envelope.content, policy=default_policy)))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.record(envelope)
        return "250 2.0.0 OK queued"


class RejectBad(Recorder):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any,
                          address: str, options: list) -> str:
        if address.startswith("bad@"):
            return "550 5.1.1 <bad@example.com>: Recipient address rejected: User unknown"
        if address.startswith("later@"):
            return "450 4.2.1 Mailbox busy"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class TempFailOnce(Recorder):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.record(envelope)
        return "451 4.3.0 Try again later" if len(self.deliveries) == 1 else "250 2.0.0 OK"


class Reject554(Recorder):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.record(envelope)
        return "554 5.7.1 Message rejected as spam"


class DropAfterData(Recorder):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.record(envelope)
        server.transport.abort()  # the whole body and the final "." arrived; no reply is ever sent
        return "250 OK"


class SilentAfterData(Recorder):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.record(envelope)
        await asyncio.sleep(5)  # the client times out waiting for the 250
        return "250 OK"


@pytest.fixture
def smtp_server():
    started: list[Controller] = []

    def start(handler: Recorder, **smtp_params: Any) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_params)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def smtp_adapter(port: int, *, starttls: bool = False, username: str | None = None,
                 password: str | None = None, timeout: float = 2.0) -> SmtpAdapter:
    cfg = SmtpChannel(adapter="smtp", host="127.0.0.1", port=port, starttls=starttls,
                      from_address="Shop <shop@example.com>",
                      username=username, password_env="SMTP_PASSWORD" if username else None)
    secrets = Secrets({"SMTP_PASSWORD": password} if password else {})
    return SmtpAdapter.from_config("email", cfg, secrets, timeout=timeout)


def mail(**kw: Any) -> Outgoing:
    base: dict[str, Any] = dict(job_id=7, send_key="job-7", channel="email", recipient="ana@example.com",
                                text="Hi Ana,\n\nWe open at 10:00.\n\nThe team", subject="Opening hours",
                                reply_to_id="<in-1@mail.example>", references=("<root@mail.example>",),
                                message_id=make_msgid(domain="shop.example"))
    base.update(kw)
    return Outgoing(**base)


def smtp_send(adapter: SmtpAdapter, *messages: Outgoing) -> list[SendResult]:
    async def go() -> list[SendResult]:
        return [await adapter.send(m) for m in messages]
    return asyncio.run(go())


def test_smtp_reply_headers(smtp_server: Callable[..., int]) -> None:
    handler = Recorder()
    message = mail(metadata={"unsubscribe_url": "https://shop.example/unsubscribe/tok",
                             "unsubscribe_mailto": "unsubscribe@shop.example"})
    [result] = smtp_send(smtp_adapter(smtp_server(handler)), message)
    assert result == SendResult(Outcome.SENT, provider_message_id=message.message_id)
    [(mail_from, rcpts, msg)] = handler.deliveries
    assert (mail_from, rcpts) == ("shop@example.com", ["ana@example.com"])
    assert msg["Subject"] == "Re: Opening hours"
    assert msg["Message-ID"] == message.message_id
    assert msg["In-Reply-To"] == "<in-1@mail.example>"
    assert msg["References"] == "<root@mail.example> <in-1@mail.example>"
    assert msg["Auto-Submitted"] == "auto-replied"
    # policy.default folds this long header right after the colon; unfolded it keeps one leading space
    assert msg["List-Unsubscribe"].strip() == \
        "<https://shop.example/unsubscribe/tok>, <mailto:unsubscribe@shop.example>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content().replace("\r\n", "\n").strip() == "Hi Ana,\n\nWe open at 10:00.\n\nThe team"


def test_smtp_without_unsubscribe_has_no_list_headers(smtp_server: Callable[..., int]) -> None:
    handler = Recorder()
    smtp_send(smtp_adapter(smtp_server(handler)), mail(reply_to_id=None, references=()))
    [(_, _, msg)] = handler.deliveries
    assert "List-Unsubscribe" not in msg and "In-Reply-To" not in msg and "References" not in msg


@pytest.mark.parametrize("subject, expected", [
    ("Opening hours", "Re: Opening hours"), ("Re: Opening hours", "Re: Opening hours"),
    ("RE:Opening hours", "RE:Opening hours"), ("re : x", "re : x"), (None, "Re:"), ("", "Re:"),
    ("Hi\r\nBcc: evil@x", "Re: Hi Bcc: evil@x"), ("Hi\nBcc: evil@x", "Re: Hi Bcc: evil@x"),
])
def test_reply_subject(subject: str | None, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_smtp_header_injection_adds_no_header_and_no_recipient(smtp_server: Callable[..., int]) -> None:
    handler = Recorder()
    message = mail(subject="Hi\r\nBcc: evil@x", reply_to_id="<in-1@mail.example>\r\nBcc: evil@x",
                   references=("<ok@mail.example>", "<x@y>\nCc: evil@x"),
                   metadata={"unsubscribe_url": "https://shop.example/u\r\nBcc: evil@x"})
    [result] = smtp_send(smtp_adapter(smtp_server(handler)), message)
    assert result.outcome is Outcome.SENT
    [(_, rcpts, msg)] = handler.deliveries
    assert rcpts == ["ana@example.com"]
    assert "Bcc" not in msg and "Cc" not in msg and "List-Unsubscribe" not in msg
    assert msg["Subject"] == "Re: Hi Bcc: evil@x"
    assert msg["References"] == "<ok@mail.example>"
    header_block = handler.raw[0].split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith((b"bcc:", b"cc:")) for line in header_block.split(b"\r\n"))


def test_smtp_refuses_several_recipients_in_one(smtp_server: Callable[..., int]) -> None:
    handler = Recorder()
    adapter = smtp_adapter(smtp_server(handler))
    results = smtp_send(adapter, mail(recipient="ana@example.com, evil@x"), mail(recipient="ana@example.com\r\nx"))
    assert all((r.outcome, r.error_code) == (Outcome.PERMANENT, "recipient") for r in results)
    assert handler.deliveries == []


def test_smtp_recipient_refused_550_and_450(smtp_server: Callable[..., int]) -> None:
    handler = RejectBad()
    adapter = smtp_adapter(smtp_server(handler))
    bad, busy = smtp_send(adapter, mail(recipient="bad@example.com"), mail(recipient="later@example.com"))
    assert (bad.outcome, bad.error_code) == (Outcome.PERMANENT, "550") and "User unknown" in bad.error
    assert (busy.outcome, busy.error_code) == (Outcome.RETRYABLE, "450")
    assert handler.deliveries == []


def test_smtp_451_then_retry_reuses_the_message_id(smtp_server: Callable[..., int]) -> None:
    handler = TempFailOnce()
    message = mail()
    first, second = smtp_send(smtp_adapter(smtp_server(handler)), message, message)
    assert (first.outcome, first.error_code) == (Outcome.RETRYABLE, "451")
    assert second == SendResult(Outcome.SENT, provider_message_id=message.message_id)
    assert [m["Message-ID"] for _, _, m in handler.deliveries] == [message.message_id] * 2


def test_smtp_554_after_data_is_permanent(smtp_server: Callable[..., int]) -> None:
    [result] = smtp_send(smtp_adapter(smtp_server(Reject554())), mail())
    assert (result.outcome, result.error_code) == (Outcome.PERMANENT, "554") and "spam" in result.error


def test_smtp_drop_after_data_is_ambiguous(smtp_server: Callable[..., int]) -> None:
    handler = DropAfterData()
    [result] = smtp_send(smtp_adapter(smtp_server(handler)), mail())
    assert result.outcome is Outcome.AMBIGUOUS and len(handler.deliveries) == 1


def test_smtp_timeout_after_data_is_ambiguous(smtp_server: Callable[..., int]) -> None:
    handler = SilentAfterData()
    [result] = smtp_send(smtp_adapter(smtp_server(handler), timeout=0.5), mail())
    assert result.outcome is Outcome.AMBIGUOUS and "may have been delivered" in result.error


def test_smtp_connect_refused_is_retryable() -> None:
    [result] = smtp_send(smtp_adapter(free_port()), mail())
    assert result.outcome is Outcome.RETRYABLE


def test_smtp_starttls_missing_pauses(smtp_server: Callable[..., int]) -> None:
    handler = Recorder()
    [result] = smtp_send(smtp_adapter(smtp_server(handler), starttls=True), mail())
    assert (result.outcome, result.error_code) == (Outcome.PAUSED, "tls")
    assert handler.deliveries == []


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"shop", PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def test_smtp_login(smtp_server: Callable[..., int]) -> None:
    handler = Recorder()
    port = smtp_server(handler, authenticator=_authenticator, auth_require_tls=False)
    [good] = smtp_send(smtp_adapter(port, username="shop", password=PASSWORD), mail())
    [bad] = smtp_send(smtp_adapter(port, username="shop", password="wrong-password"), mail())
    missing_adapter = smtp_adapter(port, username="shop", password=None)
    [missing] = smtp_send(missing_adapter, mail())
    assert good.outcome is Outcome.SENT
    assert (bad.outcome, bad.error_code) == (Outcome.PAUSED, "535")
    assert missing == SendResult(Outcome.PAUSED, error_code="credentials",
                                 error="environment variable SMTP_PASSWORD is not set")
    assert len(handler.deliveries) == 1
    health = smtp_adapter(port, username="shop", password=PASSWORD).health()
    assert health["credentials"] == {"username": "shop", "password_env": "SMTP_PASSWORD", "present": True}
    assert missing_adapter.health()["ready"] is False
    assert PASSWORD not in repr(health)
    assert_no_secret(good, bad, missing)


def test_smtp_message_id_is_required() -> None:
    with pytest.raises(ValueError, match="message_id"):
        smtp_send(smtp_adapter(free_port()), mail(message_id=None))
    caps = smtp_adapter(25).capabilities
    assert (caps.text_limit, caps.threading, caps.idempotency_key, caps.default_rate_per_second) == \
        (100_000, True, False, 1.0)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A throwaway self-signed certificate for 127.0.0.1 (skips if the openssl tool is missing)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def test_smtp_tls_paths(smtp_server: Callable[..., int], tls_files: tuple[str, str]) -> None:
    import ssl

    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=cert)
    handler = Recorder()
    implicit = smtp_server(handler, ssl_context=server_ctx)
    starttls = smtp_server(handler, tls_context=server_ctx)

    def adapter(port: int, *, ssl_mode: bool, context: ssl.SSLContext | None) -> SmtpAdapter:
        cfg = SmtpChannel(adapter="smtp", host="127.0.0.1", port=port, ssl=ssl_mode, starttls=not ssl_mode,
                          from_address="shop@example.com")
        return SmtpAdapter("email", cfg, None, timeout=2.0, tls_context=context)

    ok_ssl, ok_starttls, untrusted = smtp_send(adapter(implicit, ssl_mode=True, context=trusting), mail()) + \
        smtp_send(adapter(starttls, ssl_mode=False, context=trusting), mail()) + \
        smtp_send(adapter(implicit, ssl_mode=True, context=None), mail())
    assert (ok_ssl.outcome, ok_starttls.outcome) == (Outcome.SENT, Outcome.SENT)
    assert (untrusted.outcome, untrusted.error_code) == (Outcome.PAUSED, "tls")
    assert len(handler.deliveries) == 2


def test_registry_builds_each_adapter(tmp_path: Any) -> None:
    from autopilot_cli.channels._registry import build_adapter
    from autopilot_cli.clock import FixedClock
    from autopilot_cli.config import config_from_dict

    config = config_from_dict({"channels": {
        "whatsapp": {"adapter": "whatsapp", "phone_number_id": "1065"},
        "instagram": {"adapter": "instagram"},
        "linkedin": {"adapter": "linkedin", "mode": "one_click"},
        "email": {"adapter": "smtp", "from_address": "shop@example.com"},
    }})
    secrets = Secrets({"WHATSAPP_TOKEN": TOKEN})
    built = {name: build_adapter(name, config, secrets, str(tmp_path / "db"), FixedClock(NOW))
             for name in ("whatsapp", "instagram", "linkedin", "email")}
    assert [type(a).__name__ for a in built.values()] == ["WhatsAppAdapter", "InstagramAdapter", "LinkedInAdapter",
                                                         "SmtpAdapter"]
    assert [a.health()["ready"] for a in built.values()] == [True, False, False, True]
    assert all(TOKEN not in repr(a.health()) for a in built.values())


def test_smtp_marks_only_automatic_replies_auto_submitted(smtp_server: Callable[..., int]) -> None:
    handler = Recorder()
    adapter = smtp_adapter(smtp_server(handler))
    smtp_send(adapter, mail(metadata={"origin": "auto"}), mail(metadata={"origin": "approved"}))
    automatic, approved = (msg for _, _, msg in handler.deliveries)
    assert automatic["Auto-Submitted"] == "auto-replied"
    assert approved["Auto-Submitted"] is None  # a person approved it: it is their reply


def _echoes(secret: str) -> str:
    from urllib.parse import quote, quote_plus

    raw = secret.encode()
    b64, url64 = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    return " | ".join(
        [
            secret,
            quote(secret, safe=""),
            quote_plus(secret),
            re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
            b64,
            b64.rstrip("="),
            url64.rstrip("="),
            quote(b64, safe=""),
            raw.hex(),
            raw.hex().upper(),
        ]
    )


@pytest.mark.parametrize("token", [TOKEN, "tok+en/with=odd&chars?~x"])
def test_provider_echoing_the_token_in_any_encoding_is_redacted(fake_graph: FakeGraph, token: str) -> None:
    """Issue 12 H4: base64-, URL- or hex-encoded echoes of the token are never stored or printed."""
    fake_graph.token = token
    fake_graph.script.append(graph_error(100, f"Invalid parameter near: {_echoes(token)}"))
    [result] = send_all(whatsapp(fake_graph.url, token=token), out())
    assert result.outcome is Outcome.PERMANENT and result.error.count("[redacted]") == 10, result.error
    for spelling in secret_spellings(token):
        assert spelling.lower() not in result.error.lower()
