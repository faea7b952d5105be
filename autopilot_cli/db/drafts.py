"""The ``drafts`` table: replies waiting for review, approved, rejected or sent back."""

from __future__ import annotations

import json
import sqlite3

from .connection import Store


def send_back_to_review(conn: sqlite3.Connection, draft_id: int, reason: str, now: str) -> None:
    """Put a draft back in the review queue, adding ``reason`` to its reasons once."""
    draft = conn.execute("SELECT reasons FROM drafts WHERE id = ?", (draft_id,)).fetchone()
    reasons = json.loads(draft["reasons"] or "[]")
    if reason not in reasons:
        reasons.append(reason)
    conn.execute("UPDATE drafts SET state = 'review', ready = 0, reasons = ?, updated_at = ? WHERE id = ?",
                 (json.dumps(reasons), now, draft_id))


def insert(conn: sqlite3.Connection, *, event_id: int, contact_id: int, channel: str, text: str,
           confidence: float | None, reasons: list[str], ready: bool, state: str, drafter: str | None,
           variant_id: int | None, variant: str | None, intent: str | None, approved_text: str | None,
           now: str, raw_confidence: float | None = None) -> int:
    """A new draft; its id."""
    return int(conn.execute(
        "INSERT INTO drafts (event_id, contact_id, channel, text, confidence, reasons, ready, state, drafter, "
        "variant_id, variant, intent, approved_text, created_at, updated_at, raw_confidence) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (event_id, contact_id, channel, text, confidence, json.dumps(reasons), int(ready), state, drafter,
         variant_id, variant, intent, approved_text, now, now,
         confidence if raw_confidence is None else raw_confidence),
    ).lastrowid or 0)


def with_event(conn: sqlite3.Connection, draft_id: int) -> sqlite3.Row | None:
    """A draft with its event's external id, sender, arrival time and channel."""
    return conn.execute(
        "SELECT d.*, e.external_id, e.sender, e.received_at, e.channel AS event_channel FROM drafts d "
        "JOIN events e ON e.id = d.event_id WHERE d.id = ?", (draft_id,)).fetchone()


def summary(store: Store, draft_id: int) -> sqlite3.Row | None:
    """A draft's state, text, approved text and who decided it when (what ``explain`` shows)."""
    rows = store.query("SELECT state, text, approved_text, decided_by, decided_at FROM drafts WHERE id = ?",
                       (draft_id,))
    return rows[0] if rows else None


def approve(conn: sqlite3.Connection, draft_id: int, approved_text: str, actor: str, now: str) -> bool:
    """``review`` → ``approved``; False when the draft was not in review."""
    return conn.execute(
        "UPDATE drafts SET state = 'approved', approved_text = ?, decided_by = ?, decided_at = ?, updated_at = ? "
        "WHERE id = ? AND state = 'review'", (approved_text, actor, now, now, draft_id)).rowcount == 1


def reject(conn: sqlite3.Connection, draft_id: int, reason: str | None, actor: str, now: str) -> bool:
    """``review`` → ``rejected``; False when the draft was not in review."""
    return conn.execute(
        "UPDATE drafts SET state = 'rejected', reject_reason = ?, decided_by = ?, decided_at = ?, updated_at = ? "
        "WHERE id = ? AND state = 'review'", (reason, actor, now, now, draft_id)).rowcount == 1


def ready_ids(store: Store, excluded_channels: list[str]) -> list[int]:
    """Drafts in review marked ready, oldest message first, except on ``excluded_channels``."""
    marks = ", ".join("?" for _ in excluded_channels) or "NULL"
    return [int(r[0]) for r in store.query(
        "SELECT d.id FROM drafts d JOIN events e ON e.id = d.event_id WHERE d.state = 'review' AND d.ready = 1 "
        f"AND d.channel NOT IN ({marks}) ORDER BY e.received_at, d.id", tuple(excluded_channels))]


def in_review_count(store: Store) -> int:
    """Every draft in review."""
    return int(store.scalar("SELECT count(*) FROM drafts WHERE state = 'review'") or 0)


_QUEUE = (
    "SELECT d.id, d.event_id, d.channel, d.contact_id, d.text AS draft_text, d.confidence, d.reasons, d.ready, "
    "d.variant, d.state, d.created_at, e.sender, e.name, e.subject, e.text AS inbound_text, e.received_at, "
    "e.external_id, c.name AS contact_name FROM drafts d JOIN events e ON e.id = d.event_id "
    "JOIN contacts c ON c.id = d.contact_id"
)


def queue(store: Store, *, channel: str | None = None, ready: bool | None = None,
          contact_id: int | None = None) -> list[sqlite3.Row]:
    """Drafts in review with their message and contact, narrowed by the filters given."""
    where, params = ["d.state = 'review'"], []
    for column, value in (("d.channel", channel), ("d.ready", None if ready is None else int(ready)),
                          ("d.contact_id", contact_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    return store.query(f"{_QUEUE} WHERE {' AND '.join(where)}", tuple(params))


def queue_item(store: Store, draft_id: int) -> sqlite3.Row | None:
    """One draft as the review queue lists it, whatever its state now."""
    rows = store.query(f"{_QUEUE} WHERE d.id = ?", (draft_id,))
    return rows[0] if rows else None


def intents(store: Store, draft_ids: list[int]) -> dict[int, str | None]:
    """Each draft's intent (``faq:3``, ``help``, the model's label), by id."""
    found: dict[int, str | None] = {}
    for start in range(0, len(draft_ids), 500):
        chunk = draft_ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        for row in store.query(f"SELECT id, intent FROM drafts WHERE id IN ({marks})", tuple(chunk)):
            found[int(row["id"])] = row["intent"]
    return found
