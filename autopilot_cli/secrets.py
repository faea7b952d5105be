"""Secret lookup, built once at the CLI edge and handed to the core.

The config names environment variables (``token_env = "WHATSAPP_TOKEN"``);
the values come from the process environment or, failing that, from a keys
file (``KEY=value`` lines) that must be private (mode 0600) — the same rule ssh
applies to private keys. Core code never reads ``os.environ``: it receives a
``Secrets`` object, which never shows values in its repr.
"""

from __future__ import annotations

import base64
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, quote_plus

from .errors import ConfigError, SecretMissing


class Secrets:
    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = dict(values or {})

    def __repr__(self) -> str:  # never print values, even in a traceback
        return f"Secrets(<{len(self._values)} names>)"

    def get(self, env_name: str | None) -> str | None:
        if not env_name:
            return None
        value = self._values.get(env_name)
        return value if value else None

    def require(self, env_name: str, purpose: str) -> str:
        value = self.get(env_name)
        if value is None:
            raise SecretMissing(f"environment variable {env_name} is not set ({purpose})")
        return value

    def has(self, env_name: str | None) -> bool:
        return self.get(env_name) is not None


def read_keys_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines; refuses a file other users can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"keys file {path} is readable by other users (mode {stat.S_IMODE(mode):04o}); "
            f"run: chmod 600 {path}"
        )
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"keys file {path}, line {number}: expected NAME=value")
        values[name.strip()] = value.strip()
    return values


def secrets_from_environment(environ: Mapping[str, str], keys_file: Path | None) -> Secrets:
    """Environment variables win over the keys file."""
    values = read_keys_file(keys_file) if keys_file is not None else {}
    values.update({k: v for k, v in environ.items()})
    return Secrets(values)


REDACTED = "[redacted]"
_MIN_SECRET_CHARS = 4  # shorter values would redact ordinary words


def secret_spellings(secret: str) -> list[str]:
    """Every way a provider is known to echo a secret back: as is, URL-encoded (path and form
    style), base64 (standard and URL-safe, padded or not, and URL-encoded) and hex; longest first."""
    raw = secret.encode("utf-8")
    spellings = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), raw.hex()}
    for encoded in (base64.b64encode(raw).decode("ascii"), base64.urlsafe_b64encode(raw).decode("ascii")):
        spellings |= {encoded, encoded.rstrip("="), quote(encoded, safe="")}
    return sorted(spellings, key=len, reverse=True)


def redact_secret(text: str, secret: str | None) -> str:
    """``text`` with every spelling of ``secret`` replaced by ``[redacted]``.

    The one place provider text (error bodies, SMTP replies) is cleaned before it
    is stored, logged or printed. Percent-escapes and hex match in either case.
    """
    if not secret or len(secret) < _MIN_SECRET_CHARS:
        return text
    for spelling in secret_spellings(secret):
        text = re.sub(re.escape(spelling), REDACTED, text, flags=re.IGNORECASE if "%" in spelling or
                      spelling == secret.encode("utf-8").hex() else 0)
    return text
