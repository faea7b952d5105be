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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
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

    def redactor(self, env_names: Iterable[str]) -> Redactor:
        """A ``Redactor`` of the values these variables hold (unset ones are skipped)."""
        return Redactor(self.get(name) for name in env_names)


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
_MIN_CORE_CHARS = 8  # a base64 core shorter than this could match by chance


def secret_env_names(settings: Any) -> set[str]:
    """Every variable a config names for a secret: the value of each ``*_env`` key, at any depth of
    ``settings`` (a pydantic model or its ``model_dump()``) — so a secret added to the config later
    is redacted without anyone remembering to list it here."""
    if hasattr(settings, "model_dump"):
        settings = settings.model_dump()
    names: set[str] = set()
    if isinstance(settings, Mapping):
        for key, value in settings.items():
            if isinstance(key, str) and key.endswith("_env") and isinstance(value, str) and value:
                names.add(value)
            else:
                names |= secret_env_names(value)
    elif isinstance(settings, (list, tuple)):
        for value in settings:
            names |= secret_env_names(value)
    return names


def _base64_cores(raw: bytes) -> set[str]:
    """The part of the base64 text of ``raw`` that stays the same wherever ``raw`` sits inside a longer
    encoded value (``Bearer <token>``, SMTP AUTH PLAIN's ``\\0user\\0password``): for each of the three
    alignments, the 4-character groups made of ``raw``'s bytes only."""
    cores: set[str] = set()
    for offset in range(3):
        whole_groups = (offset + len(raw)) // 3
        first = 1 if offset else 0  # the first group mixes in the bytes before ``raw``
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(b"\0" * offset + raw)[4 * first: 4 * whole_groups].decode("ascii")
            if len(core) >= _MIN_CORE_CHARS:
                cores |= {core, quote(core, safe="")}
    return cores


def secret_spellings(secret: str) -> list[str]:
    """Every way a provider is known to echo a secret back: as is, URL-encoded (path and form style,
    once or twice), JSON-escaped, base64 (standard and URL-safe, padded or not, URL-encoded, and inside
    a longer encoded value) and hex; longest first."""
    raw = secret.encode("utf-8")
    once = quote(secret, safe="")
    spellings = {secret, once, quote(secret), quote_plus(secret), quote(once, safe=""), raw.hex(),
                 secret.replace("/", "\\/")}
    for encoded in (base64.b64encode(raw).decode("ascii"), base64.urlsafe_b64encode(raw).decode("ascii")):
        spellings |= {encoded, encoded.rstrip("="), quote(encoded, safe="")}
    spellings |= _base64_cores(raw)
    return sorted(spellings, key=len, reverse=True)


class Redactor:
    """Removes every spelling of a set of secrets from text; never shows the values in its repr.

    The one implementation: the engine runs every provider answer through the redactor of all the
    secrets the config names before it is stored, logged or printed, and the adapters clean their own
    credential the same way. Percent-escapes and hex match in either case.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        patterns: dict[str, re.Pattern[str]] = {}
        for secret in secrets:
            if not secret or len(secret) < _MIN_SECRET_CHARS:
                continue
            hex_spelling = secret.encode("utf-8").hex()
            for spelling in secret_spellings(secret):
                caseless = "%" in spelling or spelling == hex_spelling
                patterns[spelling] = re.compile(re.escape(spelling), re.IGNORECASE if caseless else 0)
        # Longest first, so a spelling that contains another is replaced whole.
        self._patterns = [patterns[s] for s in sorted(patterns, key=len, reverse=True)]

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._patterns)} spellings>)"

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def __call__(self, text: str) -> str:
        for pattern in self._patterns:
            text = pattern.sub(REDACTED, text)
        return text

    def clip(self, text: str, limit: int) -> str:
        """Redacted, then cut to ``limit`` characters — in that order: a cut made first could leave the
        start of a secret that no spelling matches any more."""
        text = self(text)
        return text if len(text) <= limit else text[: limit - 1] + "…"


def redact_secret(text: str, secret: str | None) -> str:
    """``text`` with every spelling of ``secret`` replaced by ``[redacted]``."""
    return Redactor([secret])(text)
