"""A/B variant assignment: sticky per contact, honouring weights.

Experiments from the config are synced into the database at the start of
``process``. A contact's variant is a pure function of (experiment, contact):
sha256 of both, read as a number in [0, 1), picks a variant by cumulative
weight. The first assignment is stored, and a stored assignment always wins —
so a weight change later never moves a contact between variants.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass

from .config import ExperimentConfig


@dataclass(frozen=True)
class Assignment:
    experiment_id: int
    experiment: str
    variant_id: int
    variant: str
    template: str


def sync_experiments(conn: sqlite3.Connection, experiments: list[ExperimentConfig], now: str) -> None:
    """Create config-defined experiments and their variants; existing ones keep their state."""
    for exp in experiments:
        row = conn.execute("SELECT id FROM experiments WHERE name = ?", (exp.name,)).fetchone()
        if row is None:
            exp_id = conn.execute(
                "INSERT INTO experiments (name, channels, metric, allocation, origin, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'config', ?, ?)",
                (exp.name, json.dumps(exp.channels), exp.metric, exp.allocation, now, now),
            ).lastrowid
        else:
            exp_id = row[0]
        for position, variant in enumerate(exp.variants):
            conn.execute(
                "INSERT INTO variants (experiment_id, name, position, weight, template) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (experiment_id, name) DO NOTHING",
                (exp_id, variant.name, position, variant.weight, variant.template),
            )


def bucket(experiment: str, contact_id: int) -> float:
    digest = hashlib.sha256(f"{experiment}\x00{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(variants: list[sqlite3.Row], point: float) -> sqlite3.Row:
    total = sum(v["weight"] for v in variants)
    edge = 0.0
    for variant in variants:
        edge += variant["weight"] / total
        if point < edge:
            return variant
    return variants[-1]


@dataclass(frozen=True)
class Experiment:
    id: int
    name: str
    channels: tuple[str, ...]
    state: str
    winner_variant_id: int | None
    variants: tuple[sqlite3.Row, ...]


def load_experiments(conn: sqlite3.Connection) -> list[Experiment]:
    """Active experiments with their variants: read once per run, not once per event."""
    experiments = []
    for row in conn.execute("SELECT * FROM experiments WHERE state IN ('active', 'promoted') ORDER BY id").fetchall():
        variants = conn.execute(
            "SELECT * FROM variants WHERE experiment_id = ? ORDER BY position", (row["id"],)
        ).fetchall()
        if variants:
            experiments.append(Experiment(row["id"], row["name"], tuple(json.loads(row["channels"])), row["state"],
                                          row["winner_variant_id"], tuple(variants)))
    return experiments


def choose(conn: sqlite3.Connection, experiments: list[Experiment], channel: str, contact_id: int) -> Assignment | None:
    """The contact's variant for the channel's active experiment, without writing anything."""
    exp = next((e for e in experiments if channel in e.channels), None)
    if exp is None:
        return None
    stored = conn.execute(
        "SELECT variant_id FROM assignments WHERE experiment_id = ? AND contact_id = ?", (exp.id, contact_id)
    ).fetchone()
    by_id = {v["id"]: v for v in exp.variants}
    if stored is not None and stored[0] in by_id:
        chosen = by_id[stored[0]]
    elif exp.state == "promoted" and exp.winner_variant_id in by_id:
        chosen = by_id[exp.winner_variant_id]
    else:
        chosen = pick(list(exp.variants), bucket(exp.name, contact_id))
    return Assignment(exp.id, exp.name, chosen["id"], chosen["name"], chosen["template"])


def record_assignment(conn: sqlite3.Connection, contact_id: int, assignment: Assignment, now: str) -> None:
    conn.execute(
        "INSERT INTO assignments (experiment_id, contact_id, variant_id, assigned_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (experiment_id, contact_id) DO NOTHING",
        (assignment.experiment_id, contact_id, assignment.variant_id, now),
    )
