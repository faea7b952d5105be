"""Meta's ``X-Hub-Signature-256``: HMAC-SHA256 of the raw body with the app secret.

Checked over the exact bytes received, before any parsing, with a constant-time
comparison (``hmac.compare_digest``) so the check leaks nothing through timing.
"""

from __future__ import annotations

import hashlib
import hmac

from ..errors import InputError, SignatureMismatch


def sign(body: bytes, secret: str) -> str:
    """The header value Meta would send for this body: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str, secret: str) -> None:
    """Raise SignatureMismatch unless ``header`` signs ``body`` with ``secret``."""
    value = header.strip()
    if not value.startswith("sha256="):
        raise InputError("signature must look like 'sha256=<64 hex digits>'")
    given = value[len("sha256="):].lower()
    if len(given) != 64 or any(c not in "0123456789abcdef" for c in given):
        raise InputError("signature must look like 'sha256=<64 hex digits>'")
    expected = sign(body, secret)[len("sha256="):]
    if not hmac.compare_digest(given.encode("ascii"), expected.encode("ascii")):
        raise SignatureMismatch("signature does not match the payload (X-Hub-Signature-256); nothing was ingested")
