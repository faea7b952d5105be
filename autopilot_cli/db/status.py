"""The counts ``autopilot status`` reads: one read each, no transaction (each statement is its own snapshot)."""

from __future__ import annotations

from .connection import Store


def _grouped(store: Store, sql: str, keys: tuple[str, ...]) -> dict[str, int]:
    counts = {key: 0 for key in keys}
    for key, count in store.query(sql):
        counts[str(key)] = int(count)
    return counts


def _count(store: Store, sql: str) -> int:
    return int(store.scalar(sql) or 0)


def schema_version(store: Store) -> str | None:
    """The name of the last migration applied; None on an empty ``_migrations``."""
    version = store.scalar("SELECT max(name) FROM _migrations")
    return None if version is None else str(version)


def events_by_state(store: Store, states: tuple[str, ...] = ()) -> dict[str, int]:
    """Inbound events per state; each of ``states`` present, 0 when none."""
    return _grouped(store, "SELECT state, count(*) FROM events GROUP BY state", states)


def events_by_channel(store: Store) -> dict[str, int]:
    """Inbound events per channel (only channels that have some)."""
    return _grouped(store, "SELECT channel, count(*) FROM events GROUP BY channel", ())


def jobs_by_state(store: Store, states: tuple[str, ...] = ()) -> dict[str, int]:
    """Outbound jobs per state; each of ``states`` present, 0 when none."""
    return _grouped(store, "SELECT state, count(*) FROM jobs GROUP BY state", states)


def drafts_in_review(store: Store) -> int:
    """Drafts waiting in the review queue."""
    return _count(store, "SELECT count(*) FROM drafts WHERE state = 'review'")


def drafts_ready(store: Store) -> int:
    """Drafts in review that are marked ready to approve."""
    return _count(store, "SELECT count(*) FROM drafts WHERE state = 'review' AND ready = 1")


def contacts(store: Store) -> int:
    """Contacts known."""
    return _count(store, "SELECT count(*) FROM contacts")


def opted_out_contacts(store: Store) -> int:
    """Contacts opted out of everything."""
    return _count(store, "SELECT count(DISTINCT contact_id) FROM consent "
                         "WHERE state = 'opted_out' AND category = 'all'")


def rejects(store: Store) -> int:
    """Rejected input records stored."""
    return _count(store, "SELECT count(*) FROM rejects")


def delivery_statuses(store: Store) -> int:
    """Provider delivery statuses stored."""
    return _count(store, "SELECT count(*) FROM delivery_statuses")
