"""The adapters for this run, built from the config's ``[channels.<name>]`` entries.

Adapter modules are imported only for the channels configured with them, so a
cron run with nothing to send never imports httpx or smtplib.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..clock import Clock
from ..config import Config
from ..secrets import Redactor, Secrets, secret_env_names
from ._base import Adapter, HttpOptions
from .policy import CHANNELS

HttpFactory = Callable[[str], Any]
"""channel name → an ``httpx.AsyncClient`` (tests pass one with a MockTransport)."""


def http_options(config: Config, cfg: Any) -> HttpOptions:
    settings = config.execute
    return HttpOptions(connections=settings.wave_size(cfg.rate_per_second),
                       connect_timeout=settings.connect_timeout_seconds, read_timeout=settings.send_timeout_seconds)


def build_adapter(channel: str, config: Config, secrets: Secrets, db_path: str, clock: Clock,
                  http_factory: HttpFactory | None = None) -> Adapter | None:
    cfg = config.channels.get(channel)
    if cfg is None:
        return None
    http = http_factory(channel) if http_factory else None
    if cfg.adapter == "outbox":
        from ._outbox import OutboxAdapter

        path = config.resolve_path(cfg.path) if cfg.path else None
        return OutboxAdapter(channel, cfg, db_path, clock, path)
    if cfg.adapter == "whatsapp":
        from ._whatsapp import WhatsAppAdapter

        return WhatsAppAdapter.from_config(channel, cfg, secrets, http, http_options(config, cfg))
    if cfg.adapter == "instagram":
        from ._instagram import InstagramAdapter

        return InstagramAdapter.from_config(channel, cfg, secrets, http, http_options(config, cfg))
    if cfg.adapter == "linkedin":
        from ._linkedin import LinkedInAdapter

        return LinkedInAdapter.from_config(channel, cfg, secrets, http, http_options(config, cfg))
    from ._smtp import SmtpAdapter

    return SmtpAdapter.from_config(channel, cfg, secrets, timeout=config.execute.send_timeout_seconds)


class Registry:
    """Adapters built on first use, one per channel per run."""

    redactor: Redactor = Redactor()
    """Cleans provider text of every secret the config names (tokens, app secrets, SMTP passwords,
    the unsubscribe key …), not only the sending channel's own: a provider may echo any of them."""

    def __init__(self, config: Config, secrets: Secrets, db_path: str, clock: Clock,
                 http_factory: HttpFactory | None = None) -> None:
        self._args = (config, secrets, db_path, clock, http_factory)
        self._adapters: dict[str, Adapter | None] = {}
        self.redactor = secrets.redactor(secret_env_names(config))

    def get(self, channel: str) -> Adapter | None:
        if channel not in self._adapters:
            config, secrets, db_path, clock, http_factory = self._args
            self._adapters[channel] = build_adapter(channel, config, secrets, db_path, clock, http_factory)
        return self._adapters[channel]

    def all(self) -> dict[str, Adapter | None]:
        return {name: self.get(name) for name in CHANNELS}

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            if adapter is not None:
                await adapter.aclose()
