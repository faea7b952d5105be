"""autopilot: answer inbound messages with AI drafts, safe sends and a review queue.

The public Python API. The CLI (``autopilot_cli.cli.app``) is a thin layer over
these names; every other module is internal and may change.

Names are imported on first use (PEP 562) so that ``autopilot execute``, which
cron starts every minute, does not pay for modules it does not need.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Clock": "clock",
    "FixedClock": "clock",
    "SystemClock": "clock",
    "Config": "config",
    "config_from_dict": "config",
    "load_config": "config",
    "AutopilotError": "errors",
    "ConfigError": "errors",
    "DatabaseCorrupt": "errors",
    "DatabaseFull": "errors",
    "DatabaseLocked": "errors",
    "InputError": "errors",
    "NotFound": "errors",
    "SchemaTooNew": "errors",
    "SecretMissing": "errors",
    "SignatureMismatch": "errors",
    "StoreError": "errors",
    "UnknownFormat": "errors",
    "IngestReport": "inbound.ingest",
    "ingest_bytes": "inbound.ingest",
    "migrate": "db.migrations",
    "open_store": "db.migrations",
    "init_directory": "ops.init",
    "Secrets": "secrets",
    "StatusReport": "ops.status",
    "system_status": "ops.status",
    "Store": "db.connection",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'autopilot_cli' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
