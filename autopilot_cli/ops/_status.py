"""``autopilot status``: the whole system at a glance, from counts alone."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from ..db import status as counts
from ..db.connection import Store

JOB_STATES = (
    "scheduled", "claimed", "sending", "sent", "retry_wait",
    "failed", "needs_reconcile", "skipped", "cancelled",
)


class StatusReport(BaseModel):
    database: str
    """The database as named (``--db`` may be relative to the current folder)."""
    database_path: str
    """The database file's absolute path."""
    config: str | None = None
    """The config file in use, as named; None: the embedded defaults."""
    config_path: str | None = None
    """The config file's absolute path; None: the embedded defaults."""
    config_found_by: str = "defaults"
    """--config, $AUTOPILOT_CONFIG, "found in <folder>", $AUTOPILOT_HOME or defaults."""
    schema_version: str | None
    events: dict[str, int] = Field(description="inbound events by state: pending, processed")
    events_by_channel: dict[str, int]
    drafts_in_review: int
    drafts_ready: int
    jobs: dict[str, int]
    contacts: int
    opted_out_contacts: int
    rejects: int
    delivery_statuses: int


def _absolute(path: str) -> str:
    # resolve(): the operator asking "which files?" wants the real ones, symlinks followed.
    return str(Path(path).resolve())


def system_status(store: Store, config: str | None = None, config_found_by: str = "defaults") -> StatusReport:
    return StatusReport(
        database=store.path, database_path=_absolute(store.path), config=config,
        config_path=_absolute(config) if config else None, config_found_by=config_found_by,
        schema_version=counts.schema_version(store),
        events=counts.events_by_state(store, ("pending", "processed")),
        events_by_channel=counts.events_by_channel(store),
        drafts_in_review=counts.drafts_in_review(store),
        drafts_ready=counts.drafts_ready(store),
        jobs=counts.jobs_by_state(store, JOB_STATES),
        contacts=counts.contacts(store),
        opted_out_contacts=counts.opted_out_contacts(store),
        rejects=counts.rejects(store),
        delivery_statuses=counts.delivery_statuses(store),
    )
