"""Secret lookup, built once at the CLI edge and handed to the core.

The config names environment variables (``token_env = "WHATSAPP_TOKEN"``);
the values come from the process environment or, failing that, from a keys
file (``KEY=value`` lines) that must be private (mode 0600) — the same rule ssh
applies to private keys. Core code never reads ``os.environ``: it receives a
``Secrets`` object, which never shows values in its repr.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path

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
