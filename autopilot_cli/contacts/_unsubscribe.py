"""Opaque signed unsubscribe tokens for RFC 8058 one-click ``List-Unsubscribe`` links.

``execute`` puts ``<public_url>/unsubscribe/<token>`` in the ``List-Unsubscribe``
header of outgoing email (with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``);
``autopilot serve`` reads the token back when the mail receiver POSTs to it.

A token is base64url (no padding) of ``payload || tag`` where

- ``payload`` = version (1 byte) · contact id (8 bytes, big-endian) · issued-at
  (Unix seconds, 4 bytes — good until 2106) · channel name (ASCII);
- ``tag`` = the first 16 bytes of HMAC-SHA256(secret, ``DOMAIN`` || payload).

Why this shape: nothing in the database is needed to check a token (a link
works even if the send was never recorded), a link scanner or a recipient
cannot forge one for another contact or change one byte of it, and the token
stays short (about 40 characters) inside a header line. The domain label keeps
these MACs from ever being valid for another use of the same secret. A 128-bit
tag is the truncation NIST SP 800-107 allows for HMAC; forging one needs 2^128
tries. The tag is checked (constant time) before any field is interpreted.

Tokens do not expire by default: an unsubscribe link in an old email must keep
working (CAN-SPAM wants at least 30 days; honouring it later costs nothing).
``read_token`` takes ``max_age`` for callers that want a limit. The issued-at
time is kept in the consent audit trail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timezone

from ..channels.policy import CHANNELS
from ..config import Config
from ..errors import ConfigError, InputError
from ..secrets import Secrets

VERSION = 1
DOMAIN = b"autopilot/unsubscribe/v1\x00"
TAG_BYTES = 16
MIN_SECRET_CHARS = 16
_HEADER = struct.Struct(">BQI")  # version, contact id, issued-at
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")  # base64url only: no +, /, = or whitespace
_MAX_TOKEN_CHARS = 128


class TokenInvalid(InputError):
    """The unsubscribe token is malformed or its signature does not match."""


@dataclass(frozen=True)
class UnsubscribeToken:
    contact_id: int
    channel: str
    issued_at: datetime


def _key(secret: str) -> bytes:
    if len(secret) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"the unsubscribe secret must be at least {MIN_SECRET_CHARS} characters "
            "(e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return secret.encode("utf-8")


def _tag(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, DOMAIN + payload, hashlib.sha256).digest()[:TAG_BYTES]


def make_token(secret: str, contact_id: int, channel: str, issued_at: datetime) -> str:
    """A token for ``contact_id`` on ``channel``, issued at ``issued_at`` (timezone-aware)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    if not 0 < contact_id < 2**63:
        raise ValueError("contact_id out of range")
    payload = _HEADER.pack(VERSION, contact_id, int(issued_at.timestamp())) + channel.encode("ascii")
    raw = payload + _tag(_key(secret), payload)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def read_token(secret: str, token: str, *, now: datetime | None = None,
               max_age_seconds: float | None = None) -> UnsubscribeToken:
    """Verify and decode a token; raises TokenInvalid for anything not made by ``make_token``."""
    key = _key(secret)
    if not (0 < len(token) <= _MAX_TOKEN_CHARS) or not _TOKEN_CHARS.fullmatch(token):
        raise TokenInvalid("unsubscribe token is malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise TokenInvalid("unsubscribe token is malformed") from None
    # Only the canonical spelling: unused low bits in the last character would
    # otherwise let several strings decode to the same bytes.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token or len(raw) <= _HEADER.size + TAG_BYTES:
        raise TokenInvalid("unsubscribe token is malformed")
    payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    # Authenticate first; only a genuine payload is interpreted.
    if not hmac.compare_digest(tag, _tag(key, payload)):
        raise TokenInvalid("unsubscribe token signature does not match")
    version, contact_id, issued = _HEADER.unpack_from(payload)
    channel = payload[_HEADER.size:].decode("ascii", "replace")
    if version != VERSION or channel not in CHANNELS or contact_id <= 0:
        raise TokenInvalid("unsubscribe token is malformed")
    issued_at = datetime.fromtimestamp(issued, timezone.utc)
    if max_age_seconds is not None:
        if now is None:
            raise ValueError("max_age_seconds needs now")
        if (now - issued_at).total_seconds() > max_age_seconds:
            raise TokenInvalid("unsubscribe token has expired")
    return UnsubscribeToken(contact_id=contact_id, channel=channel, issued_at=issued_at)


def unsubscribe_secret(config: Config, secrets: Secrets) -> str | None:
    """The signing secret named by ``[server] unsubscribe_secret_env``; None when not configured."""
    env_name = config.server.unsubscribe_secret_env
    if not env_name:
        return None
    return secrets.get(env_name)


def _link_settings(config: Config, secrets: Secrets) -> tuple[str, str]:
    base = config.server.public_url
    if not base:
        raise ConfigError("[server] public_url is not set; it is needed to build unsubscribe links")
    env_name = config.server.unsubscribe_secret_env
    if not env_name:
        raise ConfigError("[server] unsubscribe_secret_env is not set; it is needed to sign unsubscribe links")
    secret = secrets.require(env_name, "key that signs unsubscribe links ([server] unsubscribe_secret_env)")
    _key(secret)  # too short a secret is a config error, found before anything is sent
    return base.rstrip("/"), secret


def check_unsubscribe_settings(config: Config, secrets: Secrets) -> None:
    """Raise ConfigError now if links cannot be built, so ``execute`` fails before it claims a job."""
    _link_settings(config, secrets)


def unsubscribe_url(config: Config, secrets: Secrets, contact_id: int, channel: str, issued_at: datetime) -> str:
    """``<public_url>/unsubscribe/<token>`` for a ``List-Unsubscribe`` header."""
    base, secret = _link_settings(config, secrets)
    return f"{base}/unsubscribe/{make_token(secret, contact_id, channel, issued_at)}"
