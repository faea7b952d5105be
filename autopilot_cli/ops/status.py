"""``autopilot status``: the whole system at a glance, from counts alone."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

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


def _counts(store: Store, sql: str, keys: tuple[str, ...] = ()) -> dict[str, int]:
    counts = {key: 0 for key in keys}
    for key, count in store.query(sql):
        counts[str(key)] = int(count)
    return counts


def _absolute(path: str) -> str:
    # resolve(): the operator asking "which files?" wants the real ones, symlinks followed.
    return str(Path(path).resolve())


def system_status(store: Store, config: str | None = None, config_found_by: str = "defaults") -> StatusReport:
    return StatusReport(
        database=store.path, database_path=_absolute(store.path), config=config,
        config_path=_absolute(config) if config else None, config_found_by=config_found_by,
        schema_version=store.scalar("SELECT max(name) FROM _migrations"),
        events=_counts(store, "SELECT state, count(*) FROM events GROUP BY state", ("pending", "processed")),
        events_by_channel=_counts(store, "SELECT channel, count(*) FROM events GROUP BY channel"),
        drafts_in_review=int(store.scalar("SELECT count(*) FROM drafts WHERE state = 'review'") or 0),
        drafts_ready=int(store.scalar("SELECT count(*) FROM drafts WHERE state = 'review' AND ready = 1") or 0),
        jobs=_counts(store, "SELECT state, count(*) FROM jobs GROUP BY state", JOB_STATES),
        contacts=int(store.scalar("SELECT count(*) FROM contacts") or 0),
        opted_out_contacts=int(
            store.scalar(
                "SELECT count(DISTINCT contact_id) FROM consent WHERE state = 'opted_out' AND category = 'all'"
            )
            or 0
        ),
        rejects=int(store.scalar("SELECT count(*) FROM rejects") or 0),
        delivery_statuses=int(store.scalar("SELECT count(*) FROM delivery_statuses") or 0),
    )
