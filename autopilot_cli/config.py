"""The one validated configuration object between the CLI and the core.

``load_config(path)`` reads TOML with tomllib into the pydantic models below.
Every model forbids unknown keys, so a typo is an error naming the key and the
file instead of a silently ignored setting. Defaults live here and nowhere
else; ``Config()`` with no file is the embedded default the demo runs on
(offline drafter, outbox channels, a SQLite file).

Secrets never appear in the file: keys ending in ``_env`` name the
environment variable that holds the secret (see ``secrets.py``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from .errors import ConfigError
from .events import CHANNELS

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone name (e.g. 'Europe/Berlin')") from None
    return value


class AutopilotSection(_Section):
    mode: Literal["auto", "one_click", "assist"] = "auto"
    confidence_threshold: float = Field(0.85, ge=0.0, le=1.0)
    timezone: str = "UTC"
    own_addresses: list[str] = Field(default_factory=list)
    """Our own phone numbers and email addresses: messages from them are never answered."""

    _tz = field_validator("timezone")(_check_timezone)


class DrafterSection(_Section):
    kind: Literal["offline", "openai"] = "offline"
    knowledge_file: str = "knowledge.toml"
    model: str = "gpt-4o-mini"
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = Field("OPENAI_API_KEY", pattern=ENV_NAME_PATTERN)
    timeout_seconds: float = Field(30.0, gt=0)


class DatabaseSection(_Section):
    path: str = "autopilot.db"
    """Relative paths are relative to the config file's folder."""
    busy_timeout_ms: int = Field(5000, ge=0, le=600_000)


class IngestSection(_Section):
    max_message_bytes: int = Field(1_000_000, ge=1024, le=100_000_000)
    batch_size: int = Field(1000, ge=1, le=100_000)


class _ChannelBase(_Section):
    rate_per_second: float = Field(10.0, gt=0, le=10_000)
    app_secret_env: str | None = Field(None, pattern=ENV_NAME_PATTERN)
    """Meta app secret for X-Hub-Signature-256 checks of this channel's webhooks."""
    verify_token_env: str | None = Field(None, pattern=ENV_NAME_PATTERN)


class WhatsAppChannel(_ChannelBase):
    adapter: Literal["whatsapp"]
    base_url: str = "https://graph.facebook.com/v21.0"
    phone_number_id: str
    token_env: str = Field("WHATSAPP_TOKEN", pattern=ENV_NAME_PATTERN)
    rate_per_second: float = Field(80.0, gt=0, le=10_000)


class SmtpChannel(_ChannelBase):
    adapter: Literal["smtp"]
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password_env: str | None = Field(None, pattern=ENV_NAME_PATTERN)
    from_address: str
    rate_per_second: float = Field(1.0, gt=0, le=10_000)


class InstagramChannel(_ChannelBase):
    adapter: Literal["instagram"]
    base_url: str = "https://graph.instagram.com/v21.0"
    ig_id: str = "me"
    token_env: str = Field("INSTAGRAM_TOKEN", pattern=ENV_NAME_PATTERN)


class LinkedInChannel(_ChannelBase):
    adapter: Literal["linkedin"]
    base_url: str = "https://api.linkedin.com/rest"
    token_env: str = Field("LINKEDIN_TOKEN", pattern=ENV_NAME_PATTERN)
    rate_per_second: float = Field(1.0, gt=0, le=10_000)


class OutboxChannel(_ChannelBase):
    adapter: Literal["outbox"]
    path: str | None = None
    """Optional JSONL file that also receives every recorded message."""


ChannelConfig = Annotated[
    Union[WhatsAppChannel, SmtpChannel, InstagramChannel, LinkedInChannel, OutboxChannel],
    Field(discriminator="adapter"),
]
ADAPTERS = ("whatsapp", "smtp", "instagram", "linkedin", "outbox")


def _default_channels() -> dict[str, Any]:
    return {name: OutboxChannel(adapter="outbox") for name in CHANNELS}


class Config(_Section):
    autopilot: AutopilotSection = Field(default_factory=AutopilotSection)
    drafter: DrafterSection = Field(default_factory=DrafterSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)
    ingest: IngestSection = Field(default_factory=IngestSection)
    channels: dict[str, ChannelConfig] = Field(default_factory=_default_channels)

    # Where the config came from: not settable from the file itself.
    _source: str | None = PrivateAttr(None)

    @property
    def source(self) -> str | None:
        """The file this config came from; None for the embedded defaults."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config resolve against this folder."""
        return Path(self._source).resolve().parent if self._source else Path.cwd()

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if name not in CHANNELS:
                raise ValueError(f"unknown channel {name!r}; channels are {', '.join(CHANNELS)}")
        return value

    def resolve_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def _format_location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    # A discriminated union puts the adapter tag into the location
    # (channels.email.smtp.host); the operator wrote channels.email.host.
    if len(parts) >= 3 and parts[0] == "channels" and parts[2] in ADAPTERS:
        del parts[2]
    return ".".join(parts)


def _format_error(err: dict[str, Any]) -> str:
    key = _format_location(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{key}'"
    if kind == "missing":
        return f"missing required key '{key}'"
    if kind == "union_tag_invalid":
        return f"'{key}.adapter' must be one of {', '.join(ADAPTERS)}"
    if kind == "union_tag_not_found":
        return f"'{key}' needs an 'adapter' key ({', '.join(ADAPTERS)})"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"'{key}': {message}" if key else message


def config_from_dict(data: dict[str, Any], source: str | None = None) -> Config:
    where = f" in {source}" if source else ""
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        extra = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"config error{where}: {_format_error(errors[0])}{extra}") from None
    config._source = source
    return config


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML config; ``None`` gives the embedded defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config path is a directory, not a file: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config error in {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config error in {path}: invalid TOML ({exc})") from None
    return config_from_dict(data, str(path))
