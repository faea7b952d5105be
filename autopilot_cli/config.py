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
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from .channels.policy import CHANNELS
from .errors import ConfigError

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone name (e.g. 'Europe/Berlin')") from None
    return value


def _check_template(value: str) -> str:
    from .placeholders import template_problem

    problem = template_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class AutopilotSection(_Section):
    mode: Literal["auto", "one_click", "assist"] = "auto"
    confidence_threshold: float = Field(0.85, ge=0.0, le=1.0)
    timezone: str = "UTC"
    own_addresses: list[str] = Field(default_factory=list)
    """Our own phone numbers and email addresses: messages from them are never answered."""
    auto_reply_budget: int = Field(3, ge=0, le=1000)
    """Most automatic replies per contact within auto_reply_window_hours; more go to review."""
    auto_reply_window_hours: float = Field(24.0, gt=0, le=24 * 30)
    min_delay_seconds: int = Field(60, ge=0, le=7 * 86400)
    """A reply is never sent sooner than this after the inbound message."""
    history_messages: int = Field(10, ge=0, le=100)
    """How many recent messages with the contact the drafter sees."""
    learn_from_review: bool = True
    """Calibrate confidence from what reviewers did with earlier drafts of the same intent (README)."""
    calibration_strength: float = Field(4.0, gt=0, le=1000)
    """How many reviews the drafter's own score weighs against (the prior's strength)."""
    parallel_checks: bool = True
    """Big ``process`` runs check message texts in a second process, a chunk ahead (decide/_text_checks.py)."""

    _tz = field_validator("timezone")(_check_timezone)


class DrafterSection(_Section):
    kind: Literal["offline", "openai"] = "offline"
    knowledge_file: str = "knowledge.toml"
    model: str = "gpt-4o-mini"
    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = Field("OPENAI_API_KEY", pattern=ENV_NAME_PATTERN)
    timeout_seconds: float = Field(30.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    """Retries (with backoff) on 429 and 5xx from the model server."""
    concurrency: int = Field(8, ge=1, le=64)
    """Model requests in flight at once."""
    daily_token_budget: int = Field(500_000, ge=0)
    """Most tokens per UTC day; once spent, events go to review with reason model_budget_spent. 0 = no limit."""
    moderation: bool = False
    """Also ask the OpenAI moderation endpoint (openai kind); if it fails, drafts go to review."""
    template: str = "Hi {greeting_name},\n\n{answer}\n\n{signature}"
    """Reply template when no A/B variant applies: {greeting_name}, {answer}, {signature}."""
    signature: str = "The team"

    _template = field_validator("template")(_check_template)


class ConsentSection(_Section):
    scope: Literal["contact", "channel"] = "contact"
    """contact: an opt-out on one channel stops every channel; channel: only that channel."""
    languages: list[str] = Field(default_factory=lambda: ["en", "de", "fr", "es", "it", "nl", "pt"])
    """Languages whose opt-out phrases opt a contact out (English always does). A keyword alone counts in every
    supported language; a phrase in a language not listed goes to review as a possible opt-out. Default: all
    seven — the labelled sets show 0.2 % false opt-outs with every language on (README, "Judgement")."""
    help_text: str = "This is our automated assistant. Reply STOP to stop messages; a person reads every conversation."
    confirmation_text: str = ""
    """Sent once after an opt-out when not empty; never marketing."""

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: list[str]) -> list[str]:
        from .textnorm import SUPPORTED_LANGUAGES

        unknown = [v for v in value if v not in SUPPORTED_LANGUAGES]
        if unknown:
            raise ValueError(f"unsupported language {unknown[0]!r}; supported: {', '.join(SUPPORTED_LANGUAGES)}")
        return value


class GatesSection(_Section):
    compliance_topics: list[str] = Field(
        default_factory=lambda: [
            "refund", "price", "discount", "contract", "legal", "guarantee", "password", "cancel subscription",
        ]
    )
    """Topics that always need a human, in the inbound message or the draft."""


class LimitsSection(_Section):
    per_contact_per_day: int = Field(5, ge=1)
    per_channel_per_hour: int = Field(1000, ge=1)
    per_channel_per_day: int = Field(10_000, ge=1)


class VariantConfig(_Section):
    name: str = Field(min_length=1, max_length=64)
    weight: float = Field(1.0, gt=0)
    template: str = Field(min_length=1)

    _template = field_validator("template")(_check_template)


class ExperimentConfig(_Section):
    name: str = Field(min_length=1, max_length=64)
    channels: list[str] = Field(default_factory=lambda: list(CHANNELS))
    metric: Literal["replied", "opened", "converted"] = "replied"
    allocation: Literal["fixed", "bandit"] = "fixed"
    auto_promote: bool = False
    variants: list[VariantConfig] = Field(min_length=2)

    @field_validator("variants")
    @classmethod
    def _unique_names(cls, value: list[VariantConfig]) -> list[VariantConfig]:
        names = [v.name for v in value]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        return value


class ABSection(_Section):
    """A/B reports and allocation (ab.py, ab_stats.py): when a winner may be declared."""

    min_sample_per_variant: int = Field(100, ge=1, le=10_000_000)
    """No winner until every variant has at least this many sends."""
    alpha: float = Field(0.05, gt=0, lt=0.5)
    """Significance level (two-sided), split across comparisons (Bonferroni) when there are 3+ variants."""
    power: float = Field(0.8, ge=0.5, lt=1)
    """Power for the "about N more sends per variant" estimate."""
    attribution_hours: float = Field(72.0, gt=0, le=24 * 90)
    """A reply, conversion or opt-out counts for the last send before it, within this many hours."""
    mc_draws: int = Field(100_000, ge=1000, le=10_000_000)
    """Monte Carlo draws for the Bayesian probabilities (fixed seed: the same data gives the same report)."""
    seed: int = 20251125
    """Seed for the Monte Carlo draws and for bandit (Thompson sampling) assignment."""
    bandit_min_sends: int = Field(30, ge=1, le=1_000_000)
    """allocation = "bandit": weights are used until every variant has this many sends."""


class ExecuteSection(_Section):
    lease_seconds: int = Field(120, ge=5, le=3600)
    """How long a claimed job belongs to one run; after that another run may take it over."""
    max_attempts: int = Field(3, ge=1, le=20)
    backoff_seconds: float = Field(30.0, ge=0)
    """First retry delay; doubled per attempt, with jitter, capped at max_backoff_seconds."""
    max_backoff_seconds: float = Field(3600.0, ge=0)
    batch_size: int = Field(200, ge=1, le=10_000)
    max_concurrency: int = Field(50, ge=1, le=1000)
    """Requests in flight at once per channel (also bounded by the channel's rate)."""
    send_timeout_seconds: float = Field(30.0, gt=0, le=600)
    """How long one send may wait on the provider (an HTTP request, an SMTP command) before it is
    abandoned — and, since it may have arrived, becomes needs_reconcile."""
    connect_timeout_seconds: float = Field(10.0, gt=0, le=600)
    """How long an HTTP adapter waits for a connection; a connect timeout is retried safely."""
    one_run_per_channel: bool = True
    """Overlapping runs leave a channel to the run already sending on it (a lock file per channel),
    so together they never exceed its rate. The database claim is safe without it."""

    def wave_size(self, rate: float) -> int:
        """Requests sent at once on a channel with this rate: also its HTTP connections."""
        return max(1, min(self.max_concurrency, int(rate) or 1))


class ScheduleChannel(_Section):
    """Overrides of one channel's send-time rules; defaults in schedule_rules.DEFAULT_RULES."""

    allowed_days: str | None = None
    allowed_hours: str | None = None
    live_threshold_minutes: float | None = Field(None, ge=0, le=1440)
    jitter_seconds: int | None = Field(None, ge=0, le=3600)
    holidays: list[date] = Field(default_factory=list)

    @field_validator("allowed_days")
    @classmethod
    def _days(cls, value: str | None) -> str | None:
        from .scheduling.rules import parse_days

        if value is not None:
            parse_days(value)
        return value

    @field_validator("allowed_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        from .scheduling.rules import parse_hours

        if value is not None:
            parse_hours(value)
        return value


class ScheduleSection(_Section):
    """Best send time (scheduling/_planner.py): search horizon, smoothing, holidays, per-channel rules."""

    horizon_days: int = Field(7, ge=1, le=28)
    prior_strength: float = Field(20.0, ge=0, le=10_000)
    delay_half_life_hours: float = Field(24.0, ge=0, le=24 * 28)
    """0 = no preference for earlier slots beyond breaking ties."""
    holidays: list[date] = Field(default_factory=list)
    channels: dict[str, ScheduleChannel] = Field(default_factory=dict)

    @field_validator("channels")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = [name for name in value if name not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel {unknown[0]!r}; channels are {', '.join(CHANNELS)}")
        return value

    def rules_for(self, channel: str, min_gap_seconds: float | None = None) -> Any:
        """The channel's ``schedule_rules.ChannelRules`` with this section's overrides applied.

        The gap between two sends to one contact is ``[channels.<name>] min_gap_seconds``
        (which ``execute`` enforces too), passed in here; the larger of it and the default wins.
        """
        from dataclasses import replace
        from datetime import timedelta

        from .scheduling.rules import default_rules

        entry = self.channels.get(channel) or ScheduleChannel()
        changes: dict[str, Any] = {
            "horizon": timedelta(days=self.horizon_days), "prior_strength": self.prior_strength,
            "delay_half_life": timedelta(hours=self.delay_half_life_hours) if self.delay_half_life_hours else None,
            "holidays": frozenset(self.holidays) | frozenset(entry.holidays),
        }
        for key in ("allowed_days", "allowed_hours", "jitter_seconds"):
            if getattr(entry, key) is not None:
                changes[key] = getattr(entry, key)
        base = default_rules(channel)
        if min_gap_seconds is not None:
            changes["min_gap"] = max(base.min_gap, timedelta(seconds=min_gap_seconds))
        if entry.live_threshold_minutes is not None:
            changes["live_threshold"] = timedelta(minutes=entry.live_threshold_minutes)
        return replace(base, **changes)


class DatabaseSection(_Section):
    path: str = "autopilot.db"
    """Relative paths are relative to the config file's folder."""
    url: str | None = None
    """``postgresql://user@host:5432/dbname`` runs on PostgreSQL (several machines, one database); a
    ``sqlite:///path`` or none keeps the SQLite file at ``path``. The password never goes here: libpq reads
    ``PGPASSWORD`` or ``PGPASSFILE``."""
    busy_timeout_ms: int = Field(5000, ge=0, le=600_000)

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise ValueError("must start with postgresql:// (or sqlite:/// for a file)")
        netloc = value.split("://", 1)[1].split("/", 1)[0]
        if ":" in netloc.split("@")[0] and "@" in netloc or "password=" in value.lower():
            raise ValueError("holds a password: put it in PGPASSWORD or a PGPASSFILE, never in the config file")
        return value


class IngestSection(_Section):
    max_message_bytes: int = Field(1_000_000, ge=1024, le=100_000_000)
    batch_size: int = Field(1000, ge=1, le=100_000)


class ServerSection(_Section):
    """``autopilot serve``: the webhook receiver (see server/_app.py for why each default)."""

    max_body_bytes: int = Field(3 * 1024 * 1024, ge=1024, le=100_000_000)
    """Larger POST bodies get 413. Meta documents webhook payloads of up to 3 MB (batched updates)."""
    unsubscribe_secret_env: str | None = Field(None, pattern=ENV_NAME_PATTERN)
    """Environment variable holding the key that signs unsubscribe links; unset = no /unsubscribe."""
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    """Public base URL (behind the TLS proxy) used to build unsubscribe links."""
    lock_retry_seconds: float = Field(5.0, gt=0, le=60)
    """How long a webhook waits for a locked database before answering 503 (Meta retries)."""
    max_connections: int = Field(256, ge=1, le=10_000)
    """Open client connections (one thread each); more are answered 503 and closed at once."""
    header_timeout_seconds: float = Field(10.0, gt=0, le=300)
    """A request line and headers must arrive in full within this long (slowloris)."""
    body_timeout_seconds: float = Field(30.0, gt=0, le=3600)
    """A request body must arrive in full within this long after its headers."""
    idle_timeout_seconds: float = Field(30.0, gt=0, le=3600)
    """An idle keep-alive connection is closed after this long (keep the proxy's lower)."""


class _ChannelBase(_Section):
    mode: Literal["auto", "one_click", "assist"] | None = None
    """Overrides [autopilot] mode for this channel."""
    confidence_threshold: float | None = Field(None, ge=0.0, le=1.0)
    max_per_hour: int | None = Field(None, ge=1)
    """Overrides [limits] per_channel_per_hour for this channel (this sender account)."""
    max_per_day: int | None = Field(None, ge=1)
    rate_per_second: float = Field(10.0, gt=0, le=10_000)
    min_gap_seconds: float = Field(0.0, ge=0, le=86_400)
    """Least time between two sends to the same recipient on this channel."""
    app_secret_env: str | None = Field(None, pattern=ENV_NAME_PATTERN)
    """Meta app secret for X-Hub-Signature-256 checks of this channel's webhooks."""
    verify_token_env: str | None = Field(None, pattern=ENV_NAME_PATTERN)


class WhatsAppChannel(_ChannelBase):
    adapter: Literal["whatsapp"]
    base_url: str = "https://graph.facebook.com/v21.0"
    phone_number_id: str
    token_env: str = Field("WHATSAPP_TOKEN", pattern=ENV_NAME_PATTERN)
    rate_per_second: float = Field(80.0, gt=0, le=10_000)
    # WhatsApp allows about one message per 6 s to the same user (error 131056 beyond).
    min_gap_seconds: float = Field(6.0, ge=0, le=86_400)
    window_template: str | None = None
    """Approved template sent instead of free text when the 24-hour window has closed."""
    template_language: str = "en_US"


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
    WhatsAppChannel | SmtpChannel | InstagramChannel | LinkedInChannel | OutboxChannel,
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
    server: ServerSection = Field(default_factory=ServerSection)
    consent: ConsentSection = Field(default_factory=ConsentSection)
    gates: GatesSection = Field(default_factory=GatesSection)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    execute: ExecuteSection = Field(default_factory=ExecuteSection)
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    channels: dict[str, ChannelConfig] = Field(default_factory=_default_channels)
    experiments: list[ExperimentConfig] = Field(default_factory=list)
    ab: ABSection = Field(default_factory=ABSection)

    # Where the config came from: not settable from the file itself.
    _source: str | None = PrivateAttr(None)
    _base_dir: Path | None = PrivateAttr(None)

    @property
    def source(self) -> str | None:
        """The file this config came from; None for the embedded defaults."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """Relative paths in the config resolve against this folder."""
        if self._source:
            return Path(self._source).resolve().parent
        return self._base_dir if self._base_dir is not None else Path.cwd()

    def with_base_dir(self, folder: Path) -> Config:
        """This config with relative paths resolved against ``folder`` (no config file: $AUTOPILOT_HOME)."""
        copy = self.model_copy()
        copy._base_dir = folder
        return copy

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if name not in CHANNELS:
                raise ValueError(f"unknown channel {name!r}; channels are {', '.join(CHANNELS)}")
        return value

    @model_validator(mode="after")
    def _linkedin_never_auto(self) -> Config:
        # LinkedIn's Messages API terms: a member sends each message; no automated sends.
        linkedin = self.channels.get("linkedin")
        if linkedin is not None and linkedin.mode == "auto":
            raise ValueError(
                "channels.linkedin.mode cannot be 'auto': LinkedIn's terms require a member to send each message"
            )
        for exp in self.experiments:
            unknown = [c for c in exp.channels if c not in CHANNELS]
            if unknown:
                raise ValueError(f"experiment {exp.name!r}: unknown channel {unknown[0]!r}")
        names = [e.name for e in self.experiments]
        if len(set(names)) != len(names):
            raise ValueError("experiment names must be unique")
        return self

    def mode_for(self, channel: str) -> str:
        """The effective mode: the channel's override, else the global one; LinkedIn is never auto."""
        entry = self.channels.get(channel)
        mode = (entry.mode if entry is not None and entry.mode else None) or self.autopilot.mode
        if channel == "linkedin" and mode == "auto":
            return "one_click"
        return mode

    def threshold_for(self, channel: str) -> float:
        entry = self.channels.get(channel)
        if entry is not None and entry.confidence_threshold is not None:
            return entry.confidence_threshold
        return self.autopilot.confidence_threshold

    def resolve_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def database_location(self) -> str | Path:
        """The database this config names: ``[database] url`` (a ``postgresql://`` URL, or a SQLite file
        relative to the config's folder), else ``[database] path``."""
        if self.database.url is None:
            return self.resolve_path(self.database.path)
        target = database_target(self.database.url)
        return self.resolve_path(str(target)) if isinstance(target, Path) else target


def database_target(value: str) -> str | Path:
    """Where ``--db``, ``AUTOPILOT_DATABASE_URL`` or ``[database] url`` point: a ``postgresql://`` URL as it
    is, else a SQLite file (``sqlite:///path`` or a plain path)."""
    if value.startswith(("postgresql://", "postgres://")):
        return value
    return Path(value.removeprefix("sqlite://") if value.startswith("sqlite:///") else value)



def _format_location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    # A discriminated union puts the adapter tag into the location
    # (channels.email.smtp.host); the operator wrote channels.email.host.
    if len(parts) >= 3 and parts[0] == "channels" and parts[2] in ADAPTERS:
        del parts[2]
    return ".".join(parts)


def _format_error(err: Mapping[str, Any]) -> str:
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
