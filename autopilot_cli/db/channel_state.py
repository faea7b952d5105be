"""The ``channel_state`` and ``channel_credentials`` tables: paused channels, and which secret each
channel's config names (variable names only, never values)."""

from __future__ import annotations

import hashlib
import sqlite3

from .connection import Store


def paused_channels(conn: sqlite3.Connection) -> dict[str, str]:
    """Paused channel → the reason recorded when it was paused ("" when none was)."""
    return {row[0]: row[1] or "" for row in conn.execute(
        "SELECT channel, reason FROM channel_state WHERE paused_at IS NOT NULL")}


def replace_credential_references(store: Store, refs: list[tuple[str, str, str]], at: str) -> None:
    """Make ``channel_credentials`` exactly ``refs`` — (channel, purpose, variable) — in one transaction."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM channel_credentials")
        conn.executemany(
            "INSERT INTO channel_credentials (channel, purpose, env_var, updated_at) VALUES (?, ?, ?, ?)",
            [(*ref, at) for ref in refs],
        )


def credential_references(conn: sqlite3.Connection) -> dict[str, list[tuple[str, str]]]:
    """Channel → [(purpose, variable)] as last recorded."""
    refs: dict[str, list[tuple[str, str]]] = {}
    for channel, purpose, env_var in conn.execute(
            "SELECT channel, purpose, env_var FROM channel_credentials ORDER BY channel, purpose"):
        refs.setdefault(channel, []).append((purpose, env_var))
    return refs


def pause(conn: sqlite3.Connection, channel: str, at: str, reason: str) -> None:
    """Mark a channel paused (again), with why."""
    conn.execute(
        "INSERT INTO channel_state (channel, paused_at, reason) VALUES (?, ?, ?) ON CONFLICT (channel) "
        "DO UPDATE SET paused_at = excluded.paused_at, reason = excluded.reason", (channel, at, reason))


def resume(conn: sqlite3.Connection, channel: str) -> bool:
    """Clear a channel's pause; False when it was not paused."""
    return bool(conn.execute("UPDATE channel_state SET paused_at = NULL, reason = NULL "
                             "WHERE channel = ? AND paused_at IS NOT NULL", (channel,)).rowcount)


def _send_lock_key(channel: str) -> int:
    # A stable signed 64-bit key per channel (PostgreSQL advisory locks take a bigint).
    return int.from_bytes(hashlib.sha256(f"autopilot send {channel}".encode()).digest()[:8], "big", signed=True)


def try_send_lock(store: Store, channel: str) -> bool:
    """PostgreSQL: take the session's advisory lock that makes one ``execute`` run, on any machine, the one
    pacing ``channel``; False when another session holds it. Released by ``release_send_lock`` or when the
    session ends (a killed run's connection closes)."""
    row = store.conn.execute("SELECT pg_try_advisory_lock(?)", (_send_lock_key(channel),)).fetchone()
    return bool(row[0])


def release_send_lock(store: Store, channel: str) -> None:
    store.conn.execute("SELECT pg_advisory_unlock(?)", (_send_lock_key(channel),))
