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
    "secrets_from_environment": "secrets",
    "StatusReport": "ops.status",
    "system_status": "ops.status",
    "Store": "db.connection",
    # The pipeline, one call per CLI command: ingest → process → review / approve / reject → execute → explain.
    "ingest": "inbound.ingest:ingest_bytes",
    "process_events": "decide.process",
    "ProcessReport": "decide.process",
    "Services": "drafting.factory",
    "build_services": "drafting.factory",
    "review_queue": "review.queue",
    "ReviewFilter": "review.queue",
    "ReviewItem": "review.queue",
    "approve": "review.approvals",
    "approve_all_ready": "review.approvals",
    "reject": "review.approvals",
    "Batch": "review.approvals",
    "execute_jobs": "sending.engine",
    "ExecuteReport": "sending.engine",
    "Registry": "channels.registry",
    "explain": "decide.explain:explain_event",
    "Explanation": "decide.explain",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'autopilot_cli' has no attribute {name!r}")
    module, _, attribute = module.partition(":")
    value = getattr(import_module(f".{module}", __name__), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
