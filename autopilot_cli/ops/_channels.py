"""``autopilot channels``: each channel's adapter, mode, capabilities, health, pause and credentials."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..channels import Registry
from ..clock import Clock, to_iso
from ..config import Config
from ..db.channel_state import credential_references, paused_channels, replace_credential_references
from ..db.connection import Store
from ..secrets import Secrets
from ._init import credential_references as configured_references


def channel_overview(store: Store, config: Config, secrets: Secrets, clock: Clock) -> list[dict[str, Any]]:
    """One row per channel. ``credentials`` lists each secret the channel's config names — the
    variable, never its value — and whether it is set; ``channel_credentials`` is brought in step
    with the config first, so it always says what this config expects."""
    replace_credential_references(store, configured_references(config), to_iso(clock.now()))
    paused = paused_channels(store.conn)
    expected = credential_references(store.conn)
    registry = Registry(config, secrets, store.path, clock)
    rows = []
    for name, adapter in registry.all().items():
        rows.append({
            "channel": name,
            "adapter": config.channels[name].adapter if name in config.channels else None,
            "mode": config.mode_for(name),
            "capabilities": asdict(adapter.capabilities) if adapter else None,
            "health": adapter.health() if adapter else {"ready": False, "problem": "not configured"},
            "paused": paused.get(name),
            "credentials": [{"purpose": purpose, "env_var": env_var, "set": secrets.get(env_var) is not None}
                            for purpose, env_var in expected.get(name, [])],
        })
    return rows
