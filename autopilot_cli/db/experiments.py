"""The ``experiments``, ``variants`` and ``assignments`` tables: A/B tests, their arms, and which
contact holds which arm."""

from __future__ import annotations

import json
import sqlite3

from .connection import Store


def id_by_name(conn: sqlite3.Connection, name: str) -> int | None:
    """The experiment's id, if it exists."""
    row = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
    return None if row is None else int(row[0])


def insert_from_config(conn: sqlite3.Connection, *, name: str, channels: list[str], metric: str, allocation: str,
                       auto_promote: bool, now: str) -> int:
    """A config-defined experiment; its id."""
    exp_id = conn.execute(
        "INSERT INTO experiments (name, channels, metric, allocation, auto_promote, origin, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, 'config', ?, ?)",
        (name, json.dumps(channels), metric, allocation, int(auto_promote), now, now),
    ).lastrowid
    assert exp_id is not None  # an INSERT always sets lastrowid
    return exp_id


def update_from_config(conn: sqlite3.Connection, exp_id: int, *, channels: list[str], metric: str,
                       allocation: str, auto_promote: bool, now: str) -> None:
    """The config's settings for a config-made experiment, written only when they changed."""
    settings = (json.dumps(channels), metric, allocation, int(auto_promote))
    conn.execute(
        "UPDATE experiments SET channels = ?, metric = ?, allocation = ?, auto_promote = ?, updated_at = ? "
        "WHERE id = ? AND origin = 'config' AND (channels, metric, allocation, auto_promote) IS NOT (?, ?, ?, ?)",
        (*settings, now, exp_id, *settings),
    )


def add_variant_once(conn: sqlite3.Connection, exp_id: int, *, name: str, position: int, weight: float,
                     template: str) -> None:
    """A variant, unless the experiment already has one of that name."""
    conn.execute(
        "INSERT INTO variants (experiment_id, name, position, weight, template) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (experiment_id, name) DO NOTHING",
        (exp_id, name, position, weight, template),
    )


def running(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Experiments that assign variants (active or promoted), oldest first."""
    return conn.execute("SELECT * FROM experiments WHERE state IN ('active', 'promoted') ORDER BY id").fetchall()


def variants_of(conn: sqlite3.Connection, exp_id: int) -> list[sqlite3.Row]:
    """An experiment's variants in their configured order."""
    return conn.execute("SELECT * FROM variants WHERE experiment_id = ? ORDER BY position", (exp_id,)).fetchall()


def assigned_variant(conn: sqlite3.Connection, exp_id: int, contact_id: int) -> int | None:
    """The variant the contact already holds in this experiment, if any."""
    row = conn.execute("SELECT variant_id FROM assignments WHERE experiment_id = ? AND contact_id = ?",
                       (exp_id, contact_id)).fetchone()
    return None if row is None else int(row[0])


def assign_once(conn: sqlite3.Connection, exp_id: int, contact_id: int, variant_id: int, now: str) -> None:
    """Give the contact a variant, unless it already holds one (contacts keep their variant)."""
    conn.execute(
        "INSERT INTO assignments (experiment_id, contact_id, variant_id, assigned_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (experiment_id, contact_id) DO NOTHING",
        (exp_id, contact_id, variant_id, now),
    )


def by_name(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    """One experiment, every column."""
    return conn.execute("SELECT * FROM experiments WHERE name = ?", (name,)).fetchone()


def names(conn: sqlite3.Connection) -> list[str]:
    """Every experiment's name, oldest first."""
    return [r[0] for r in conn.execute("SELECT name FROM experiments ORDER BY id")]


def every(store: Store) -> list[sqlite3.Row]:
    """Every experiment, oldest first (a read outside any transaction)."""
    return store.query("SELECT * FROM experiments ORDER BY id")


def assignment_counts(conn: sqlite3.Connection, exp_id: int) -> dict[int, int]:
    """Variant id → how many contacts hold it."""
    return dict(conn.execute(
        "SELECT variant_id, count(*) FROM assignments WHERE experiment_id = ? GROUP BY variant_id", (exp_id,)
    ).fetchall())


def running_except(conn: sqlite3.Connection, exp_id: int | None = None) -> list[sqlite3.Row]:
    """(name, channels) of the active or promoted experiments, other than ``exp_id``."""
    return conn.execute(
        "SELECT name, channels FROM experiments WHERE state IN ('active', 'promoted') AND id IS NOT ? ORDER BY id",
        (exp_id,)).fetchall()


def create(conn: sqlite3.Connection, *, name: str, channels: list[str], metric: str, allocation: str,
           auto_promote: bool, variants: list[tuple[str, float, str]], now: str) -> int:
    """A new experiment made on the command line with its variants (name, weight, template), in order."""
    exp_id = conn.execute(
        "INSERT INTO experiments (name, channels, metric, allocation, auto_promote, origin, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, 'cli', ?, ?)",
        (name, json.dumps(channels), metric, allocation, int(auto_promote), now, now),
    ).lastrowid
    assert exp_id is not None  # an INSERT always sets lastrowid
    conn.executemany(
        "INSERT INTO variants (experiment_id, name, position, weight, template) VALUES (?, ?, ?, ?, ?)",
        [(exp_id, v_name, i, weight, template) for i, (v_name, weight, template) in enumerate(variants)],
    )
    return exp_id


def stop(conn: sqlite3.Connection, exp_id: int, now: str) -> None:
    """No new assignments from now on."""
    conn.execute("UPDATE experiments SET state = 'stopped', updated_at = ? WHERE id = ?", (now, exp_id))


def resume(conn: sqlite3.Connection, exp_id: int, hold_promotion: int, now: str) -> None:
    """Active again, any winner cleared; ``hold_promotion`` keeps auto-promotion off once overruled."""
    conn.execute(
        "UPDATE experiments SET state = 'active', winner_variant_id = NULL, promoted_at = NULL, "
        "hold_promotion = ?, updated_at = ? WHERE id = ?", (hold_promotion, now, exp_id),
    )


def awaiting_promotion(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Active experiments that may promote their winner on their own."""
    return conn.execute(
        "SELECT * FROM experiments WHERE state = 'active' AND auto_promote = 1 AND hold_promotion = 0 ORDER BY id"
    ).fetchall()


def promote(conn: sqlite3.Connection, exp_id: int, winner_variant_id: int, now: str) -> None:
    """Give every new contact the winner (only from ``active``)."""
    conn.execute(
        "UPDATE experiments SET state = 'promoted', winner_variant_id = ?, promoted_at = ?, updated_at = ? "
        "WHERE id = ? AND state = 'active'", (winner_variant_id, now, now, exp_id),
    )
