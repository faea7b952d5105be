"""SMTP adapter: one reply per connection, stdlib ``smtplib`` in a worker thread.

Built with ``EmailMessage(policy=email.policy.default)`` only (header injection
CVEs came from hand-built header strings). Untrusted values (inbound subject and
Message-IDs, unsubscribe links) are made one line or dropped before they are set:
``"Hi\\r\\nBcc: evil@x"`` stays one Subject, and the envelope has one recipient.

Headers: ``Re:`` subject (not doubled), ``In-Reply-To``/``References``, ``Message-ID`` =
``message.message_id`` (made by the engine before the first attempt, reused on every
retry), ``Auto-Submitted: auto-replied`` (RFC 3834: other robots must not answer us),
and RFC 8058 one-click unsubscribe when ``metadata["unsubscribe_url"]`` is set.

Error mapping, by how far the transaction got:

    connect refused / timeout, TLS or greeting failure     → RETRYABLE (nothing was sent)
    server lacks STARTTLS, TLS certificate rejected        → PAUSED (fix the config; never fall back to plain text)
    SMTPAuthenticationError, password variable unset       → PAUSED
    MAIL FROM refused 5xx (our sender is not allowed)      → PAUSED; 4xx → RETRYABLE
    RCPT refused 5xx (SMTPRecipientsRefused)               → PERMANENT with code and text; 4xx → RETRYABLE
    DATA refused, or the final reply is 4xx / 5xx          → RETRYABLE / PERMANENT (a definite answer)
    disconnect or timeout after the server said 354        → AMBIGUOUS

SMTP's ambiguity: a timeout or hang-up between the final "." and the "250" leaves
delivery unknown. We count from the 354 ("start mail input"): a failure mid-body
cannot deliver, but it is hard to tell from a lost reply, so both are AMBIGUOUS.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING

from ..config import SmtpChannel
from ..secrets import Secrets, redact_secret
from ._base import Capabilities, Outcome, Outgoing, SendResult
from .policy import policy

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12

RULES = policy("email")
TEXT_LIMIT = RULES.text_limit
DEFAULT_TIMEOUT = 30.0
_MSG_ID = re.compile(r"^<[^<>\s]+@[^<>\s]+>$")
_RE = re.compile(r"^\s*re\s*:", re.IGNORECASE)


class _TrackedSMTP(smtplib.SMTP):
    """``smtplib.SMTP`` that notes when the server has accepted DATA (replied 354)."""

    body_started = _in_data = False

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def getreply(self) -> tuple[int, bytes]:
        code, text = super().getreply()
        self.body_started = self.body_started or (self._in_data and code == 354)
        return code, text


class _TrackedSMTPSSL(_TrackedSMTP, smtplib.SMTP_SSL):
    """The same, over implicit TLS (port 465)."""


class SmtpAdapter:
    """Sends one email reply per call over SMTP (STARTTLS or implicit TLS per config)."""

    name = "smtp"

    def __init__(self, channel: str, cfg: SmtpChannel, password: str | None,
                 timeout: float = DEFAULT_TIMEOUT, tls_context: ssl.SSLContext | None = None) -> None:
        self.channel = channel
        self.capabilities = Capabilities.of(RULES, threading=True, idempotency_key=False)
        self._cfg, self._password, self._timeout, self._tls = cfg, password, timeout, tls_context

    @classmethod
    def from_config(cls, name: str, cfg: SmtpChannel, secrets: Secrets,
                    timeout: float = DEFAULT_TIMEOUT) -> SmtpAdapter:
        return cls(name, cfg, secrets.get(cfg.password_env), timeout)

    def build(self, message: Outgoing) -> EmailMessage:
        """The reply as an ``EmailMessage``; ValueError when ``message.message_id`` is missing."""
        message_id = _required_message_id(message)
        msg = EmailMessage(policy=default_policy)
        msg["From"] = _clean(self._cfg.from_address)
        msg["To"] = _clean(message.recipient)
        msg["Subject"] = reply_subject(message.subject)
        msg["Date"] = format_datetime(datetime.now(timezone.utc))
        msg["Message-ID"] = message_id
        if parent := _msg_id(message.reply_to_id):
            msg["In-Reply-To"] = parent
        refs = list(dict.fromkeys(r for r in map(_msg_id, (*message.references, message.reply_to_id)) if r))
        if refs:  # in order, repeats dropped, malformed (untrusted) ids left out
            msg["References"] = " ".join(refs)
        # RFC 3834: automatic replies say so, so that other robots do not answer them.
        # A reply a person approved (and possibly edited) is theirs, not an automatic one.
        if message.metadata.get("origin") != "approved":
            msg["Auto-Submitted"] = "auto-replied"
        unsubscribe = _unsubscribe_links(message.metadata)
        if unsubscribe:
            msg["List-Unsubscribe"] = ", ".join(f"<{link}>" for link in unsubscribe)
            if unsubscribe[0].startswith("https://"):  # RFC 8058 needs an HTTPS URI to POST to
                msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(message.text)
        return msg

    async def send(self, message: Outgoing) -> SendResult:
        _required_message_id(message)  # a programming error, not a provider failure: raise
        if len(message.text) > TEXT_LIMIT:
            return SendResult(Outcome.PERMANENT, error_code="too_long",
                              error=f"text is {len(message.text)} characters, over {TEXT_LIMIT}")
        recipient = _envelope_address(message.recipient)
        if recipient is None:
            return SendResult(Outcome.PERMANENT, error_code="recipient",
                              error=f"recipient {message.recipient!r} is not one email address")
        if self._cfg.username and self._cfg.password_env and self._password is None:
            return SendResult(Outcome.PAUSED, error_code="credentials",
                              error=f"environment variable {self._cfg.password_env} is not set")
        return await asyncio.to_thread(self._transact, self.build(message), recipient)

    def _transact(self, msg: EmailMessage, recipient: str) -> SendResult:
        cfg, smtp = self._cfg, None
        try:
            try:  # host given to the constructor: smtplib takes the TLS server_hostname from there
                smtp = (_TrackedSMTPSSL(cfg.host, cfg.port, timeout=self._timeout, context=self._context())
                        if cfg.ssl else _TrackedSMTP(cfg.host, cfg.port, timeout=self._timeout))
                smtp.ehlo()
                if cfg.starttls and not cfg.ssl:
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                if cfg.username and self._password is not None:
                    smtp.login(cfg.username, self._password)
            except smtplib.SMTPAuthenticationError as exc:
                return SendResult(Outcome.PAUSED, error_code=str(exc.smtp_code),
                                  error=f"SMTP login refused: {self._text(exc.smtp_error)}")
            except smtplib.SMTPNotSupportedError as exc:
                return SendResult(Outcome.PAUSED, error_code="tls", error=f"{exc} (check the channel's TLS settings)")
            except ssl.SSLCertVerificationError as exc:
                return SendResult(Outcome.PAUSED, error_code="tls", error=f"TLS certificate rejected: {exc}")
            except (smtplib.SMTPException, OSError) as exc:
                return SendResult(Outcome.RETRYABLE, error_code=_code(exc), error=self._describe(exc))
            return self._deliver(smtp, msg, recipient)
        finally:
            if smtp is not None:
                smtp.close()

    def _deliver(self, smtp: _TrackedSMTP, msg: EmailMessage, recipient: str) -> SendResult:
        envelope_from = parseaddr(self._cfg.from_address)[1]
        try:
            smtp.send_message(msg, from_addr=envelope_from, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (0, b""))
            outcome = Outcome.RETRYABLE if 400 <= code < 500 else Outcome.PERMANENT
            return SendResult(outcome, error_code=str(code), error=f"recipient refused: {self._text(text)}")
        except smtplib.SMTPSenderRefused as exc:
            outcome = Outcome.RETRYABLE if 400 <= exc.smtp_code < 500 else Outcome.PAUSED
            return SendResult(outcome, error_code=str(exc.smtp_code),
                              error=f"sender {envelope_from} refused: {self._text(exc.smtp_error)}")
        except smtplib.SMTPNotSupportedError as exc:  # e.g. a non-ASCII address and no SMTPUTF8
            return SendResult(Outcome.PERMANENT, error_code="unsupported", error=self._describe(exc))
        except smtplib.SMTPResponseException as exc:  # DATA refused, or the final reply was not 250
            outcome = Outcome.RETRYABLE if 400 <= exc.smtp_code < 500 else Outcome.PERMANENT
            return SendResult(outcome, error_code=str(exc.smtp_code), error=self._text(exc.smtp_error))
        except (smtplib.SMTPException, OSError) as exc:  # disconnect, timeout, reset
            if smtp.body_started:
                return SendResult(Outcome.AMBIGUOUS, error_code="no_reply", error=(
                    f"{self._describe(exc)} after the message body was sent; it may have been delivered"))
            return SendResult(Outcome.RETRYABLE, error_code=_code(exc), error=self._describe(exc))
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the 250 is in: a failed QUIT changes nothing
        return SendResult(Outcome.SENT, provider_message_id=str(msg["Message-ID"]))

    def _context(self) -> ssl.SSLContext:
        return self._tls or ssl.create_default_context()

    def _text(self, value: bytes | str) -> str:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        text = redact_secret(text, self._password)
        return " ".join(text.split())[:500]

    def _describe(self, exc: BaseException) -> str:
        return self._text(f"{type(exc).__name__}: {exc}".rstrip(": "))

    async def aclose(self) -> None:  # one connection per send: nothing stays open
        return None

    def health(self) -> dict[str, object]:
        cfg, present = self._cfg, self._password is not None
        problem = (f"environment variable {cfg.password_env} is not set"
                   if cfg.username and cfg.password_env and not present else None)
        return {"adapter": "smtp", "host": cfg.host, "port": cfg.port,
                "tls": "ssl" if cfg.ssl else "starttls" if cfg.starttls else "none",
                "from_address": cfg.from_address, "problem": problem, "ready": problem is None,
                "credentials": {"username": cfg.username, "password_env": cfg.password_env, "present": present}}


def reply_subject(subject: str | None) -> str:
    """``Re: <subject>`` on one line; an existing ``Re:`` is kept, not doubled."""
    text = _clean(subject or "")
    return text if _RE.match(text) else f"Re: {text}".rstrip()


def _clean(value: str) -> str:
    """One line: CR, LF and other line breaks become spaces, runs of whitespace one space."""
    return " ".join(str(value).split())


def _msg_id(value: str | None) -> str | None:
    """``<id@host>`` from an untrusted Message-ID; None when it is not one (then it is left out)."""
    text = (value or "").strip()
    text = text if text.startswith("<") else f"<{text}>"
    return text if _MSG_ID.match(text) else None


def _required_message_id(message: Outgoing) -> str:
    message_id = _msg_id(message.message_id)
    if message_id is None:
        raise ValueError(f"Outgoing.message_id must be made before the first attempt, not {message.message_id!r}")
    return message_id


def _unsubscribe_links(metadata: dict) -> list[str]:
    """The URL (only if it is one clean http(s) URI) then the optional mailto; links with CR/LF are dropped."""
    url, mailto = metadata.get("unsubscribe_url"), metadata.get("unsubscribe_mailto")
    if not (isinstance(url, str) and url.startswith(("https://", "http://")) and _plain(url)):
        return []
    if isinstance(mailto, str) and _plain(mailto):
        return [url, mailto if mailto.startswith("mailto:") else f"mailto:{mailto}"]
    return [url]


def _plain(value: str) -> bool:  # one token: no whitespace (CR/LF included) and no list syntax
    return bool(value) and not any(ch.isspace() or ch in "<>," for ch in value)


def _envelope_address(recipient: str) -> str | None:
    """The one addr-spec in ``recipient``, or None if it holds none, several, or a line break."""
    address = "" if any(ch in recipient for ch in "\r\n,;") else parseaddr(recipient)[1]
    return address if "@" in address and _plain(address) else None


def _code(exc: BaseException) -> str:  # the SMTP reply code, when the server gave one
    return str(getattr(exc, "smtp_code", None) or "connect")
